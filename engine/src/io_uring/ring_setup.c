// SPDX-License-Identifier: MIT
/*
 * The io_uring engine's setup: one ring per worker thread, pinned to a CPU
 * and serving the queues pinned there (one queue each with --workers
 * per-queue); each queue's frame memory registered as one fixed buffer, its
 * fd as a fixed file, both at the queue's slot; the ring restricted to the
 * operations the engine submits.  Where the kernel refuses, the message
 * says why and what to do.  The loop is in ring_loop.c, the wait policy in
 * ring_wait.c.
 */
#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ring.h"

#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif

static int io_uring_disabled_value(void)
{
	FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "re");
	int v = -1;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static int explain_memlock(const struct trf_config *cfg, int ret, struct trf_err *err)
{
	struct rlimit rl = { 0 };
	/* Registered buffers, plus about 1 MiB for the rings themselves. */
	double need_mib = (double)cfg->buffers * cfg->frame_size / (1 << 20) + 1;
	char limit[32];

	getrlimit(RLIMIT_MEMLOCK, &rl);
	if (rl.rlim_cur == RLIM_INFINITY)
		snprintf(limit, sizeof(limit), "unlimited");
	else
		snprintf(limit, sizeof(limit), "%llu KiB", (unsigned long long)rl.rlim_cur / 1024);
	return trf_errf(err, ret,
			"io_uring needs %.1f MiB of locked memory per queue: the limit is %s — "
			"raise it to at least %.1f MiB for %u queue(s) (ulimit -l %llu, or "
			"LimitMEMLOCK= for a service), or lower --buffers/--frame-size",
			need_mib, limit, need_mib * cfg->queues, cfg->queues,
			(unsigned long long)(need_mib * cfg->queues * 1024) + 1024);
}

/*
 * What the ring may do once enabled: the five opcodes the engine submits,
 * the two SQE flags it sets, and the unregistrations of its teardown.  All
 * registration happens before the ring is enabled.  An attacker who controls
 * frame contents never gets to submit anything; this bounds what a bug in
 * the engine could make the ring do (docs/architecture.md, Hostile input).
 */
static int restrict_ring(struct trf_uring_thread *ut)
{
	static const uint8_t sqe_ops[] = {
		IORING_OP_READ_FIXED, IORING_OP_WRITE_FIXED,  TRF_IORING_OP_READ_MULTISHOT,
		IORING_OP_POLL_ADD,   IORING_OP_ASYNC_CANCEL,
	};
	static const uint8_t register_ops[] = {
		IORING_UNREGISTER_BUFFERS,
		IORING_UNREGISTER_FILES,
		IORING_UNREGISTER_RING_FDS,
	};
	struct io_uring_restriction res[sizeof(sqe_ops) + sizeof(register_ops) + 1];
	unsigned int n = 0;

	memset(res, 0, sizeof(res));
	for (size_t i = 0; i < sizeof(sqe_ops); i++) {
		res[n].opcode = IORING_RESTRICTION_SQE_OP;
		res[n++].sqe_op = sqe_ops[i];
	}
	for (size_t i = 0; i < sizeof(register_ops); i++) {
		res[n].opcode = IORING_RESTRICTION_REGISTER_OP;
		res[n++].register_op = register_ops[i];
	}
	res[n].opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
	res[n++].sqe_flags = IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
	/* Debian's liburing 2.3 declares io_uring_register_restrictions() but does not export it. */
	return io_uring_register(ut->ring.ring_fd, IORING_REGISTER_RESTRICTIONS, res, n);
}

/*
 * Enable a ring created disabled.  Where the restrictions took, check that
 * they hold: an opcode outside them (a NOP) must be refused with EACCES.
 */
static int enable_ring(struct trf_uring_thread *ut, struct trf_err *err)
{
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	int ret, res;

	/* Not exported by Debian's liburing 2.3 either (io_uring_enable_rings). */
	ret = io_uring_register(ut->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
	if (ret < 0)
		return trf_errf(err, ret, "cannot enable the io_uring: %s", strerror(-ret));
	if (!ut->restricted)
		return 0;
	sqe = trf_ut_get_sqe(ut);
	if (!sqe)
		return trf_errf(err, -EBUSY, "no room in a new submission queue");
	io_uring_prep_nop(sqe);
	io_uring_sqe_set_data64(sqe, trf_uq_ud_make(TRF_UQ_NOP, 0, 0));
	ret = io_uring_submit_and_wait(&ut->ring, 1);
	if (ret < 0)
		return trf_errf(err, ret, "cannot check the io_uring's restrictions: %s",
				strerror(-ret));
	ret = io_uring_peek_cqe(&ut->ring, &cqe);
	if (ret < 0)
		return trf_errf(err, ret, "cannot check the io_uring's restrictions: %s",
				strerror(-ret));
	res = cqe->res;
	io_uring_cqe_seen(&ut->ring, cqe);
	if (res != -EACCES)
		return trf_errf(err, -EPERM,
				"the io_uring's restrictions are not in force: a NOP gave %d, not "
				"EACCES",
				res);
	ut->restricted_name = "on";
	return 0;
}

/* SQ entries a queue needs: see ring_init(). */
static unsigned int queue_entries(const struct trf_config *cfg)
{
	return cfg->buffers + TRF_MAX_FIXED_READS + 8;
}

/*
 * How many queues one thread's ring may serve: as many as share a CPU, while
 * the ring stays within 16384 SQ entries (so its CQ can be four times that;
 * the kernel's limits are 32768 and 65536), one with --workers per-queue.
 */
unsigned int trf_ut_queues_per_thread(const struct trf_config *cfg)
{
	unsigned int n = 16384 / queue_entries(cfg);

	if (cfg->workers == TRF_WORKERS_PER_QUEUE)
		return 1;
	return n ? n : 1;
}

static int ring_init(struct trf_uring_thread *ut, const struct trf_config *cfg, struct trf_err *err)
{
	static const struct {
		unsigned int flags;
		const char *name;
	} modes[] = {
		/* Completions run only when we ask for them: one task, no IPIs. */
		{ IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		  "SINGLE_ISSUER|DEFER_TASKRUN" },
		{ IORING_SETUP_COOP_TASKRUN, "COOP_TASKRUN" },
		{ 0, "none" },
	};
	/*
	 * Per queue, room for a write per buffer, a full round of fixed reads,
	 * the polls and the cancels: trf_uq_get_sqe() never finds the SQ full.
	 */
	unsigned int entries = ut->nq * queue_entries(cfg);
	int ret = -EINVAL;

	ut->restricted_name = "unsupported";
	/*
	 * First created disabled, to be restricted before use (Linux 5.10);
	 * where no kernel takes that, once more enabled from the start.
	 */
	for (unsigned int disabled = IORING_SETUP_R_DISABLED;; disabled = 0) {
		for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
			struct io_uring_params p = { 0 };

			p.flags = modes[i].flags | IORING_SETUP_CQSIZE | disabled;
			/* A completion per write and per read, and more; the kernel's limit is 65536. */
			p.cq_entries = 4 * entries < 65536 ? 4 * entries : 65536;
			ret = io_uring_queue_init_params(entries, &ut->ring, &p);
			if (ret == 0) {
				ut->flags_name = modes[i].name;
				ut->defer_taskrun = modes[i].flags & IORING_SETUP_DEFER_TASKRUN;
				ut->ring_ready = true;
				ut->disabled = disabled != 0;
				ut->restricted = ut->disabled && restrict_ring(ut) == 0;
				return 0;
			}
			if (ret != -EINVAL)
				break;
		}
		if (ret != -EINVAL || !disabled)
			break;
	}
	switch (ret) {
	case -EPERM: {
		int v = io_uring_disabled_value();

		return trf_errf(
		    err, ret,
		    "io_uring is disabled on this system (kernel.io_uring_disabled=%d) — "
		    "run with --io sync, or allow it: sysctl -w kernel.io_uring_disabled=0",
		    v);
	}
	case -ENOSYS:
		return trf_errf(err, ret,
				"this kernel has no io_uring (ENOSYS) — run with --io sync");
	case -ENOMEM:
		return explain_memlock(cfg, ret, err);
	default:
		return trf_errf(err, ret, "cannot create an io_uring: %s", strerror(-ret));
	}
}

/*
 * Pick the read strategy: multishot where the kernel has it (--read auto or
 * multishot), else the poll-gated fixed reads.
 */
static int setup_reads(struct trf_uring_queue *q, struct trf_err *err)
{
	const struct trf_config *cfg = q->cfg;
	int ret;

	if (cfg->read != TRF_READ_FIXED) {
		q->rs = &trf_read_multishot;
		ret = q->rs->setup(q, err);
		if (ret == 0)
			return 0;
		q->rs->teardown(q);
		q->rs = NULL;
		if (cfg->read == TRF_READ_MULTISHOT)
			return trf_errf(
			    err, ret,
			    "--read multishot: this kernel lacks IORING_OP_READ_MULTISHOT "
			    "or provided buffer rings (%s; needs Linux 6.7) — use --read "
			    "auto or --read fixed",
			    strerror(-ret));
		trf_info_fallback(&q->queue->info,
				  "--read auto: no multishot read here (%s; Linux 6.7)",
				  strerror(-ret));
	}
	q->rs = &trf_read_fixed;
	return q->rs->setup(q, err);
}

/* A queue of the thread, its memory on the node of its CPU. */
static int queue_setup(struct trf_uring_thread *ut, struct trf_queue *queue, struct trf_err *err)
{
	const struct trf_config *cfg = queue->cfg;
	struct trf_uring_queue *q = calloc(1, sizeof(*q));

	if (!q)
		return trf_errf(err, -ENOMEM, "out of memory");
	q->slot = ut->nq;
	ut->q[ut->nq++] = q;
	queue->io = q;
	q->ut = ut;
	q->ring = &ut->ring;
	q->queue = queue;
	q->cfg = cfg;
	q->reflect = &queue->reflect;
	q->fd = queue->fd;
	q->nbufs = cfg->buffers;
	q->frame_size = cfg->frame_size;
	q->vnet_len = cfg->reflect.vnet_hdr ? TRF_VNET_HDR_LEN : 0;
	q->mem_size = (size_t)q->nbufs * q->frame_size;
	q->base = trf_mem_alloc(q->mem_size, ut->thread->node);
	q->write_len = calloc(q->nbufs, sizeof(*q->write_len));
	q->batch = calloc(q->nbufs, sizeof(*q->batch));
	if (!q->base || !q->write_len || !q->batch)
		return trf_errf(err, -ENOMEM, "cannot allocate %zu B of frame buffers",
				q->mem_size);
	return 0;
}

/* Set up thread t's ring, with a slot for each of its queues. */
static int uring_setup(struct trf_thread *t, struct trf_err *err)
{
	struct iovec iov[TRF_MAX_QUEUES];
	int fds[TRF_MAX_QUEUES];
	struct trf_uring_thread *ut;
	int ret;

	ut = calloc(1, sizeof(*ut));
	if (!ut)
		return trf_errf(err, -ENOMEM, "out of memory");
	t->io = ut;
	ut->thread = t;
	for (unsigned int i = 0; i < t->nq; i++) {
		ret = queue_setup(ut, t->q[i], err);
		if (ret < 0)
			return ret;
	}
	for (unsigned int i = 0; i < ut->nq; i++) {
		fds[i] = ut->q[i]->fd;
		iov[i] =
		    (struct iovec){ .iov_base = ut->q[i]->base, .iov_len = ut->q[i]->mem_size };
	}

	ret = ring_init(ut, t->cfg, err);
	if (ret < 0)
		return ret;
	ret = io_uring_register_files(&ut->ring, fds, ut->nq);
	if (ret < 0)
		return trf_errf(err, ret, "cannot register the queue fd with io_uring: %s",
				strerror(-ret));
	ret = io_uring_register_buffers(&ut->ring, iov, ut->nq);
	if (ret == -ENOMEM || ret == -EAGAIN)
		return explain_memlock(t->cfg, ret, err);
	if (ret < 0)
		return trf_errf(err, ret, "cannot register frame buffers with io_uring: %s",
				strerror(-ret));
	/* Saves an fd lookup per io_uring_enter; optional (kernel 5.18). */
	io_uring_register_ring_fd(&ut->ring);

	for (unsigned int i = 0; i < ut->nq; i++) {
		ret = setup_reads(ut->q[i], err);
		if (ret < 0)
			return ret;
	}
	if (ut->disabled) {
		ret = enable_ring(ut, err);
		if (ret < 0)
			return ret;
	}
	trf_wait_setup(ut, t->cfg);
	ret = trf_hybrid_setup(ut, t->cfg, err);
	if (ret < 0)
		return ret;
	for (unsigned int i = 0; i < ut->nq; i++) {
		struct trf_queue_info *info = &ut->q[i]->queue->info;

		ut->q[i]->read_name = ut->q[i]->rs->name;
		snprintf(info->read, sizeof(info->read), "%s", ut->q[i]->read_name);
		snprintf(info->ring_flags, sizeof(info->ring_flags), "%s", ut->flags_name);
		snprintf(info->ring_restricted, sizeof(info->ring_restricted), "%s",
			 ut->restricted_name);
	}
	return 0;
}

static void uring_teardown(struct trf_thread *t)
{
	struct trf_uring_thread *ut = t->io;

	if (!ut)
		return;
	if (ut->ring_ready) {
		/*
		 * Drop the ring's references to the queue fds now: a ring is torn
		 * down asynchronously after it is closed, and until then the
		 * device would outlive the process (a restart in the other mode
		 * would find it still there).
		 */
		io_uring_unregister_files(&ut->ring);
		io_uring_unregister_buffers(&ut->ring);
		io_uring_queue_exit(&ut->ring);
	}
	trf_hybrid_teardown(ut);
	for (unsigned int i = 0; i < ut->nq; i++) {
		struct trf_uring_queue *q = ut->q[i];

		if (q->rs)
			q->rs->teardown(q);
		trf_mem_free(q->base, q->mem_size, t->node);
		free(q->write_len);
		free(q->batch);
		q->queue->io = NULL;
		free(q);
	}
	free(ut);
	t->io = NULL;
}

const struct trf_io_ops trf_io_uring_ops = {
	.name = "uring",
	.setup = uring_setup,
	.run = trf_ut_run,
	.teardown = uring_teardown,
	.wake = trf_ut_wake,
	.queues_per_thread = trf_ut_queues_per_thread,
};
