// SPDX-License-Identifier: MIT
/*
 * The io_uring engine's ring core: one ring per worker thread, pinned to a
 * CPU and serving the queues pinned there (one queue each with --workers
 * per-queue); each queue's frame memory registered as one fixed buffer, its
 * fd as a fixed file, both at the queue's slot.  The core runs the loop,
 * reaps completions, hands each queue's frames to the reflect mode as one
 * burst, writes the survivors back with WRITE_FIXED and returns buffers to
 * the read strategy; how frames are read is the strategy's
 * (read_multishot.c, read_fixed.c; see ring.h).  One io_uring_enter serves
 * every queue of the worker: on a CPU shared by several queues, a wakeup
 * and its batch are shared too, instead of one thread per queue each paying
 * its own sleeps and the switches between them.
 *
 * Buffer ownership.  A buffer id is, at any moment, in exactly one place:
 * the read strategy (free, or in a read the kernel holds), a frame of the
 * current batch, or an in-flight WRITE_FIXED.  It returns to the strategy
 * only after its write CQE (or at once when its frame is dropped).
 */
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ring.h"

#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif

#ifndef IORING_FEAT_MIN_TIMEOUT
#define IORING_FEAT_MIN_TIMEOUT (1U << 15) /* Linux 6.12: min_wait_usec in the wait argument */
#endif

#define CQE_BATCH 256
#define COALESCE_IDLE_S 1 /* a coalescing wait gives up after this long without a frame */
/*
 * A multishot read posts at most this many completions in one go, then waits
 * for its task work to run again (the kernel's MULTISHOT_MAX_RETRY): a
 * wakeup that read this many left frames behind, and must not sleep.
 */
#define MULTISHOT_BURST 32
#define DRAIN_WAIT_MS 100
#define DRAIN_TRIES 20

static struct io_uring_sqe *worker_get_sqe(struct trf_uring_worker *uw)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&uw->ring);
	int ret;

	/* The SQ holds a write for every buffer, so this is only a safety net. */
	if (TRF_UNLIKELY(!sqe)) {
		ret = io_uring_submit(&uw->ring);
		sqe = io_uring_get_sqe(&uw->ring);
		if (!sqe && !uw->sq_error)
			uw->sq_error = ret < 0 ? ret : -EBUSY;
	}
	return sqe;
}

struct io_uring_sqe *trf_uq_get_sqe(struct trf_uring_queue *q)
{
	return worker_get_sqe(q->uw);
}

void trf_uq_cancel(struct trf_uring_queue *q, uint64_t ud)
{
	struct io_uring_sqe *sqe = trf_uq_get_sqe(q);

	if (TRF_UNLIKELY(!sqe))
		return; /* the worker's sq_error ends its queues */
	io_uring_prep_cancel64(sqe, ud, 0);
	io_uring_sqe_set_data64(sqe, trf_uq_ud(q, TRF_UQ_CANCEL, 0));
}

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

static int explain_memlock(const struct trf_worker *w, int ret, struct trf_err *err)
{
	struct rlimit rl = { 0 };
	/* Registered buffers, plus about 1 MiB for the rings themselves. */
	double need_mib = (double)w->cfg->buffers * w->cfg->frame_size / (1 << 20) + 1;
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
			need_mib, limit, need_mib * w->cfg->queues, w->cfg->queues,
			(unsigned long long)(need_mib * w->cfg->queues * 1024) + 1024);
}

/*
 * What the ring may do once enabled: the five opcodes the engine submits,
 * the two SQE flags it sets, and the unregistrations of its teardown.  All
 * registration happens before the ring is enabled.  An attacker who controls
 * frame contents never gets to submit anything; this bounds what a bug in
 * the engine could make the ring do (docs/architecture.md, Hostile input).
 */
static int restrict_ring(struct trf_uring_worker *uw)
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
	return io_uring_register(uw->ring.ring_fd, IORING_REGISTER_RESTRICTIONS, res, n);
}

/*
 * Enable a ring created disabled.  Where the restrictions took, check that
 * they hold: an opcode outside them (a NOP) must be refused with EACCES.
 */
static int enable_ring(struct trf_uring_worker *uw, struct trf_worker *w, struct trf_err *err)
{
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	int ret, res;

	/* Not exported by Debian's liburing 2.3 either (io_uring_enable_rings). */
	ret = io_uring_register(uw->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
	if (ret < 0)
		return trf_errf(err, ret, "cannot enable the io_uring: %s", strerror(-ret));
	if (!uw->restricted)
		return 0;
	sqe = worker_get_sqe(uw);
	if (!sqe)
		return trf_errf(err, -EBUSY, "no room in a new submission queue");
	io_uring_prep_nop(sqe);
	io_uring_sqe_set_data64(sqe, trf_uq_ud_slot(TRF_UQ_CANCEL, 0, 0));
	ret = io_uring_submit_and_wait(&uw->ring, 1);
	if (ret < 0)
		return trf_errf(err, ret, "cannot check the io_uring's restrictions: %s",
				strerror(-ret));
	ret = io_uring_peek_cqe(&uw->ring, &cqe);
	if (ret < 0)
		return trf_errf(err, ret, "cannot check the io_uring's restrictions: %s",
				strerror(-ret));
	res = cqe->res;
	io_uring_cqe_seen(&uw->ring, cqe);
	if (res != -EACCES)
		return trf_errf(err, -EPERM,
				"the io_uring's restrictions are not in force: a NOP gave %d, not "
				"EACCES",
				res);
	snprintf(w->info.ring_restricted, sizeof(w->info.ring_restricted), "on");
	return 0;
}

/* SQ entries a queue needs: see ring_init. */
static unsigned int queue_entries(const struct trf_config *cfg)
{
	return cfg->buffers + TRF_MAX_FIXED_READS + 8;
}

/*
 * How many queues one worker may serve: as many as share a CPU, while the
 * ring stays within 16384 SQ entries (so its CQ can be four times that; the
 * kernel's limits are 32768 and 65536), one with --workers per-queue.
 */
static unsigned int uring_queues_per_thread(const struct trf_config *cfg)
{
	unsigned int n = 16384 / queue_entries(cfg);

	if (cfg->workers == TRF_WORKERS_PER_QUEUE)
		return 1;
	return n ? n : 1;
}

static int ring_init(struct trf_uring_worker *uw, struct trf_worker *w, struct trf_err *err)
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
	unsigned int entries = uw->nq * queue_entries(w->cfg);
	/* Created disabled, to be restricted before use (Linux 5.10); else as it comes. */
	unsigned int disabled = IORING_SETUP_R_DISABLED;
	int ret = -EINVAL;

	snprintf(w->info.ring_restricted, sizeof(w->info.ring_restricted), "unsupported");
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct io_uring_params p = { 0 };

		p.flags = modes[i].flags | IORING_SETUP_CQSIZE | disabled;
		/* Room for a completion per write and per read, and more; the kernel's limit is 65536. */
		p.cq_entries = 4 * entries < 65536 ? 4 * entries : 65536;
		ret = io_uring_queue_init_params(entries, &uw->ring, &p);
		if (ret == 0) {
			snprintf(w->info.ring_flags, sizeof(w->info.ring_flags), "%s",
				 modes[i].name);
			uw->ring_ready = true;
			uw->disabled = disabled != 0;
			uw->restricted = uw->disabled && restrict_ring(uw) == 0;
			return 0;
		}
		if (ret != -EINVAL)
			break;
		if (disabled && i + 1 == sizeof(modes) / sizeof(modes[0])) {
			disabled = 0; /* no kernel took it: once more, enabled from the start */
			i = (size_t)-1;
		}
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
		return explain_memlock(w, ret, err);
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
		trf_info_fallback(&q->w->info, "--read auto: no multishot read here (%s; Linux 6.7)",
				  strerror(-ret));
	}
	q->rs = &trf_read_fixed;
	return q->rs->setup(q, err);
}

/* A queue of the worker, on the node of its CPU. */
static int queue_setup(struct trf_uring_worker *uw, struct trf_worker *m, struct trf_err *err)
{
	const struct trf_config *cfg = m->cfg;
	struct trf_uring_queue *q = calloc(1, sizeof(*q));

	if (!q)
		return trf_errf(err, -ENOMEM, "out of memory");
	q->slot = uw->nq;
	uw->q[uw->nq++] = q;
	q->uw = uw;
	q->ring = &uw->ring;
	q->w = m;
	q->cfg = cfg;
	q->reflect = &m->reflect;
	q->fd = m->fd;
	q->nbufs = cfg->buffers;
	q->frame_size = cfg->frame_size;
	q->vnet_len = cfg->reflect.vnet_hdr ? TRF_VNET_HDR_LEN : 0;
	q->mem_size = (size_t)q->nbufs * q->frame_size;
	q->base = trf_mem_alloc(q->mem_size, m->node);
	q->write_len = calloc(q->nbufs, sizeof(*q->write_len));
	q->batch = calloc(q->nbufs, sizeof(*q->batch));
	if (!q->base || !q->write_len || !q->batch)
		return trf_errf(err, -ENOMEM, "cannot allocate %zu B of frame buffers",
				q->mem_size);
	return 0;
}

/* How the worker waits (see wait_for_work), as every queue's summary says it. */
static void setup_wait(struct trf_uring_worker *uw, const struct trf_config *cfg)
{
	char name[sizeof(uw->q[0]->w->info.wait)] = "sleep";

	uw->busy = cfg->busy_poll;
	uw->gap_ns = UINT64_MAX;
	if (uw->busy)
		snprintf(name, sizeof(name), "busy");
	else if (cfg->coalesce_usec && (uw->ring.features & IORING_FEAT_MIN_TIMEOUT))
		uw->coalesce_usec = cfg->coalesce_usec;
	if (uw->coalesce_usec)
		snprintf(name, sizeof(name), "coalesce %uus", uw->coalesce_usec);
	for (unsigned int i = 0; i < uw->nq; i++) {
		struct trf_queue_info *info = &uw->q[i]->w->info;

		snprintf(info->wait, sizeof(info->wait), "%s", name);
		if (cfg->coalesce_usec && !uw->coalesce_usec && !uw->busy)
			trf_info_fallback(info, "--coalesce: needs Linux 6.12 (min_wait)");
	}
}

/*
 * Set up the worker of w's thread: its ring, and a slot in it for w's queue
 * and for each queue that shares w's CPU (w->next_shared and on).
 */
static int uring_setup(struct trf_worker *w, struct trf_err *err)
{
	struct iovec iov[TRF_MAX_QUEUES];
	int fds[TRF_MAX_QUEUES];
	struct trf_uring_worker *uw;
	int ret;

	uw = calloc(1, sizeof(*uw));
	if (!uw)
		return trf_errf(err, -ENOMEM, "out of memory");
	w->io = uw;
	for (struct trf_worker *m = w; m; m = m->next_shared) {
		ret = queue_setup(uw, m, err);
		if (ret < 0)
			return ret;
	}
	for (unsigned int i = 0; i < uw->nq; i++) {
		fds[i] = uw->q[i]->fd;
		iov[i] =
		    (struct iovec){ .iov_base = uw->q[i]->base, .iov_len = uw->q[i]->mem_size };
	}

	ret = ring_init(uw, w, err);
	if (ret < 0)
		return ret;
	ret = io_uring_register_files(&uw->ring, fds, uw->nq);
	if (ret < 0)
		return trf_errf(err, ret, "cannot register the queue fd with io_uring: %s",
				strerror(-ret));
	ret = io_uring_register_buffers(&uw->ring, iov, uw->nq);
	if (ret == -ENOMEM || ret == -EAGAIN)
		return explain_memlock(w, ret, err);
	if (ret < 0)
		return trf_errf(err, ret, "cannot register frame buffers with io_uring: %s",
				strerror(-ret));
	/* Saves an fd lookup per io_uring_enter; optional (kernel 5.18). */
	io_uring_register_ring_fd(&uw->ring);

	for (unsigned int i = 0; i < uw->nq; i++) {
		ret = setup_reads(uw->q[i], err);
		if (ret < 0)
			return ret;
	}
	if (uw->disabled) {
		ret = enable_ring(uw, w, err);
		if (ret < 0)
			return ret;
	}
	setup_wait(uw, w->cfg);
	for (unsigned int i = 0; i < uw->nq; i++) {
		struct trf_queue_info *info = &uw->q[i]->w->info;

		uw->q[i]->read_name = uw->q[i]->rs->name;
		snprintf(info->read, sizeof(info->read), "%s", uw->q[i]->read_name);
		if (info != &w->info) {
			snprintf(info->ring_flags, sizeof(info->ring_flags), "%s", w->info.ring_flags);
			snprintf(info->ring_restricted, sizeof(info->ring_restricted), "%s",
				 w->info.ring_restricted);
		}
	}
	return 0;
}

/* Stop asked, or the queue failed: cancel its reads; what was already read is still written. */
static void begin_stop(struct trf_uring_queue *q)
{
	q->stopping = true;
	q->rs->cancel(q);
}

static void on_write(struct trf_uring_queue *q, const struct io_uring_cqe *cqe)
{
	uint16_t bid = trf_uq_ud_bid(cqe->user_data);

	q->writes_inflight--;
	/* tun writes are all or nothing; anything else is a lost frame. */
	if (TRF_LIKELY(cqe->res >= 0 && (uint32_t)cqe->res == q->write_len[bid])) {
		q->t.frames_written++;
		q->t.bytes_written += (uint32_t)cqe->res - q->vnet_len;
	} else if (cqe->res == -EIO) {
		/* tun refuses every write while its link is down; reads simply stop. */
		q->t.link_down++;
	} else {
		q->t.write_errors++;
	}
	q->rs->recycle(q, bid);
}

/* The batch's frames go back as one burst: drops return their buffers, the rest is written. */
static void reflect_batch(struct trf_uring_queue *q)
{
	const struct trf_config *cfg = q->cfg;
	struct trf_queue_stats *st = &q->w->stats;

	cfg->reflect_mode->burst(q->reflect, q->batch, q->nframes);
	for (unsigned int i = 0; i < q->nframes; i++) {
		const struct trf_frame *f = &q->batch[i];
		uint16_t bid = (uint16_t)f->cookie;
		struct io_uring_sqe *sqe;

		if (f->drop != TRF_DROP_NONE) {
			if (f->drop == TRF_CONSUMED)
				q->t.consumed++; /* published once per batch, with the reads */
			else
				TRF_STAT_ADD(st, drops[f->drop], 1);
			q->rs->recycle(q, bid);
			continue;
		}
		sqe = trf_uq_get_sqe(q);
		if (TRF_UNLIKELY(!sqe)) {
			/* The queue stops on the worker's sq_error: the frame goes with it, counted. */
			TRF_STAT_ADD(st, drops[TRF_IO_DROP_ABORTED], 1);
			q->rs->recycle(q, bid);
			continue;
		}
		io_uring_prep_write_fixed(sqe, (int)q->slot, f->data, f->len, 0, (int)q->slot);
		sqe->flags |= IOSQE_FIXED_FILE;
		io_uring_sqe_set_data64(sqe, trf_uq_ud(q, TRF_UQ_WRITE, bid));
		q->write_len[bid] = f->len;
		q->writes_inflight++;
	}
	q->nframes = 0;
}

static void publish_totals(struct trf_uring_queue *q)
{
	const struct trf_uq_totals *t = &q->t;
	struct trf_queue_stats *st = &q->w->stats;

	if (t->frames_read) {
		TRF_STAT_ADD(st, frames_read, t->frames_read);
		TRF_STAT_ADD(st, bytes_read, t->bytes_read);
	}
	if (t->frames_written) {
		TRF_STAT_ADD(st, frames_written, t->frames_written);
		TRF_STAT_ADD(st, bytes_written, t->bytes_written);
	}
	if (t->write_errors)
		TRF_STAT_ADD(st, drops[TRF_IO_DROP_WRITE_ERROR], t->write_errors);
	if (t->link_down)
		TRF_STAT_ADD(st, drops[TRF_IO_DROP_LINK_DOWN], t->link_down);
	if (t->consumed)
		TRF_STAT_ADD(st, frames_consumed, t->consumed);
	if (t->rearms)
		TRF_STAT_ADD(st, read_rearms, t->rearms);
	if (t->truncated)
		TRF_STAT_ADD(st, drops[TRF_DROP_TRUNCATED], t->truncated);
	q->t = (struct trf_uq_totals){ 0 };
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The wait argument of io_uring_enter, with Linux 6.12's min_wait (liburing 2.3 calls it pad). */
struct trf_getevents_arg {
	uint64_t sigmask;
	uint32_t sigmask_sz;
	uint32_t min_wait_usec;
	uint64_t ts;
};

/*
 * Submit what is queued and wait for wait_nr events, but once min_wait has
 * passed return as soon as any event is there.  liburing 2.3 has no helper
 * for min_wait: the SQ tail is published here as liburing does it (no
 * SQPOLL), and io_uring_enter is called directly.  The overall timeout must
 * be set: without one the kernel ends the wait at min_wait even when nothing
 * came.
 */
static int enter_min_wait(struct trf_uring_worker *uw, unsigned int wait_nr)
{
	struct io_uring_sq *sq = &uw->ring.sq;
	struct __kernel_timespec ts = { .tv_sec = COALESCE_IDLE_S };
	struct trf_getevents_arg arg = {
		.min_wait_usec = uw->coalesce_usec,
		.ts = (uint64_t)(uintptr_t)&ts,
	};
	unsigned int tail = sq->sqe_tail, submit;
	long ret;

	if (sq->sqe_head != tail) {
		sq->sqe_head = tail;
		__atomic_store_n(sq->ktail, tail, __ATOMIC_RELEASE);
	}
	submit = tail - __atomic_load_n(sq->khead, __ATOMIC_ACQUIRE);
	ret = syscall(__NR_io_uring_enter, uw->ring.ring_fd, submit, wait_nr,
		      IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg, sizeof(arg));
	return ret < 0 ? -errno : (int)ret;
}

/*
 * Submit the batch's writes and re-armed reads, and wait for work.
 *
 * tun writes complete inline, during the submit, and so do the non-blocking
 * reads of a fixed round.  Waiting for just one CQE would return at once
 * with nothing but write completions and cost a second io_uring_enter per
 * frame at low load; wait for one event beyond them instead: a read, the
 * readiness poll, or the stop poll, which is always armed.  (Never for the
 * whole round: where the reads cannot be made non-blocking they park, and
 * the stop must still get in.)  When every queue's strategy is starved the
 * worker waits for the writes alone: they bring back the buffers the next
 * reads need.
 *
 * Coalescing: while frames arrive closer together than --coalesce (over all
 * the worker's queues), ask for up to half the buffers' worth of events with
 * min_wait = --coalesce: the kernel sleeps until they are there, or until
 * min_wait has passed and anything is.  Slower than that, coalescing would
 * only add a wakeup for the writes' completions (they are there when
 * min_wait ends), so the plain wait is used: below that rate a frame's
 * latency is untouched.  So it is after a wakeup in which a queue read a
 * full multishot burst, or its strategy says frames were left behind
 * (q->more: a read ran out of buffers, a fixed round came back full): more
 * frames wait, and the read that takes them runs as task work of the next
 * wait (or is issued with it), which must not sleep first.
 *
 * Busy polling: submit and collect without ever sleeping.
 */
static int wait_for_work(struct trf_uring_worker *uw)
{
	unsigned int writes = 0, bufs = 0;
	bool starved = true;

	if (uw->busy)
		return io_uring_submit_and_get_events(&uw->ring);
	for (unsigned int i = 0; i < uw->nq; i++) {
		const struct trf_uring_queue *q = uw->q[i];

		if (q->ended)
			continue;
		writes += q->writes_inflight;
		bufs += q->nbufs;
		starved = starved && q->starved;
	}
	if (uw->coalesce_usec && !starved && !uw->burst &&
	    uw->gap_ns < (uint64_t)uw->coalesce_usec * 1000u)
		return enter_min_wait(uw, writes + bufs / 2);
	return io_uring_submit_and_wait(&uw->ring, writes + !starved);
}

/* After a wakeup that read frames: the mean gap between them, for the next wait. */
static void note_wakeup(struct trf_uring_worker *uw, uint64_t reads)
{
	uint64_t now;

	if (!uw->coalesce_usec || !reads)
		return;
	now = now_ns();
	if (uw->last_wake_ns)
		uw->gap_ns = (now - uw->last_wake_ns) / reads;
	uw->last_wake_ns = now;
}

/*
 * A queue's own error (its read failed: the device was deleted) stops that
 * queue alone, at once: the main thread hears of it as of a worker that
 * failed, its reads are cancelled, and the writes it already queued complete
 * and are counted as usual.  Once nothing of it is in flight it has ended
 * (see uring_run); the ring's other queues go on.
 */
static void fail_queue(struct trf_uring_queue *q)
{
	trf_queue_error(q->w, q->error, "reading the device", &q->w->err);
	if (!q->stopping)
		begin_stop(q);
	q->failed = true;
	trf_worker_failed(q->w);
}

/*
 * Reap every ready CQE, reflect each queue's frames as one burst, queue
 * their writes, re-arm the reads.  The caller submits once.
 */
static void reap_and_reflect(struct trf_uring_worker *uw, struct trf_worker *w)
{
	struct io_uring_cqe *cqes[CQE_BATCH];
	uint64_t reads = 0;
	unsigned int n;

	uw->burst = false;
	while ((n = io_uring_peek_batch_cqe(&uw->ring, cqes, CQE_BATCH)) > 0) {
		for (unsigned int i = 0; i < n; i++) {
			const struct io_uring_cqe *cqe = cqes[i];
			unsigned int slot = trf_uq_ud_queue_slot(cqe->user_data);
			struct trf_uring_queue *q;
			int r = 0;

			if (trf_uq_ud_op(cqe->user_data) == TRF_UQ_STOP) {
				uw->stopping = true;
				for (unsigned int k = 0; k < uw->nq; k++)
					if (!uw->q[k]->stopping)
						begin_stop(uw->q[k]);
				continue;
			}
			if (TRF_UNLIKELY(slot >= uw->nq))
				continue; /* not ours: nothing else submits to this ring */
			q = uw->q[slot];
			if (TRF_UNLIKELY(q->ended))
				continue;
			switch (trf_uq_ud_op(cqe->user_data)) {
			case TRF_UQ_READ:
			case TRF_UQ_POLL:
				r = q->rs->on_cqe(q, cqe);
				break;
			case TRF_UQ_WRITE:
				on_write(q, cqe);
				break;
			case TRF_UQ_STOP:
			case TRF_UQ_CANCEL:
				break;
			}
			if (TRF_UNLIKELY(r < 0) && q->error == 0)
				q->error = r;
		}
		/*
		 * The whole batch is marked seen at once.  The frames keep their
		 * buffers: those belong to us until their writes complete.
		 */
		io_uring_cq_advance(&uw->ring, n);
	}

	for (unsigned int i = 0; i < uw->nq; i++) {
		struct trf_uring_queue *q = uw->q[i];

		if (q->ended)
			continue;
		if (q->nframes)
			reflect_batch(q);
		if (!q->stopping)
			q->rs->arm(q);
		if (q->rs->flush)
			q->rs->flush(q);
		reads += q->t.frames_read;
		uw->burst = uw->burst || q->more || q->t.frames_read >= MULTISHOT_BURST;
		q->more = false;
		publish_totals(q);
		if (TRF_UNLIKELY(q->error < 0 && !q->failed))
			fail_queue(q);
	}
	TRF_STAT_ADD(&w->stats, waits, 1);
	note_wakeup(uw, reads);
}

/*
 * The worker stops on an error of its ring: every queue not yet ended ends
 * with it, now (writes queued or in flight are lost, counted), and one that
 * had not failed already says what.
 */
static void end_all(struct trf_uring_worker *uw, int ret, const char *what)
{
	for (unsigned int i = 0; i < uw->nq; i++) {
		struct trf_uring_queue *q = uw->q[i];

		if (q->ended)
			continue;
		TRF_STAT_ADD(&q->w->stats, drops[TRF_IO_DROP_ABORTED], q->writes_inflight);
		q->writes_inflight = 0;
		q->ended = true;
		if (q->failed)
			continue;
		q->error = ret;
		trf_errf(&q->w->err, ret, "queue %u: %s", q->w->queue, what);
		q->failed = true;
		trf_worker_failed(q->w);
	}
}

/*
 * What the thread's own queue (the first) failed with: its error, already in
 * err (w->err), or 0.  The other queues' failures are recorded already.
 */
static int worker_result(const struct trf_uring_worker *uw)
{
	return uw->q[0]->failed ? uw->q[0]->error : 0;
}

static int uring_run(struct trf_worker *w, struct trf_err *err)
{
	struct trf_uring_worker *uw = w->io;
	struct io_uring_sqe *sqe;
	unsigned int drain_tries = 0;
	int ret;

	/* The stop eventfd is never reset: once readable, every worker sees it. */
	sqe = worker_get_sqe(uw);
	if (!sqe)
		return trf_errf(err, -EBUSY, "queue %u: no room in a new submission queue",
				w->queue);
	io_uring_prep_poll_add(sqe, w->eng->stop_efd, POLLIN);
	io_uring_sqe_set_data64(sqe, trf_uq_ud_slot(TRF_UQ_STOP, 0, 0));
	for (unsigned int i = 0; i < uw->nq; i++)
		uw->q[i]->rs->arm(uw->q[i]);

	for (;;) {
		unsigned int running = 0, reads = 0, polls = 0, writes = 0;

		for (unsigned int i = 0; i < uw->nq; i++) {
			struct trf_uring_queue *q = uw->q[i];
			unsigned int r = 0, p = 0;

			if (q->ended)
				continue;
			/* What is in flight matters only to a queue that is draining. */
			if (q->failed || uw->stopping) {
				q->rs->inflight(q, &r, &p);
				if (q->failed && r == 0 && p == 0 && q->writes_inflight == 0) {
					q->ended = true; /* failed, and drained */
					continue;
				}
			}
			running++;
			reads += r;
			polls += p;
			writes += q->writes_inflight;
		}
		if (!running)
			break; /* every queue failed, and has drained */
		if (uw->stopping) {
			struct __kernel_timespec ts = { .tv_nsec = DRAIN_WAIT_MS * 1000000L };
			struct io_uring_cqe *cqe;
			char what[160];

			if (reads == 0 && polls == 0 && writes == 0)
				break;
			if (drain_tries++ == DRAIN_TRIES) {
				snprintf(
				    what, sizeof(what),
				    "%u read(s), %u write(s) and %u poll(s) of %u queue(s) still "
				    "in flight after %d ms of draining",
				    reads, writes, polls, running, DRAIN_TRIES * DRAIN_WAIT_MS);
				end_all(uw, -ETIMEDOUT, what);
				break;
			}
			ret = io_uring_submit_and_wait_timeout(&uw->ring, &cqe, 1, &ts, NULL);
		} else {
			ret = wait_for_work(uw);
			if (ret == -ETIME)
				uw->gap_ns =
				    UINT64_MAX; /* a second without a frame: coalescing waits again */
		}
		if (TRF_UNLIKELY(ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY &&
				 ret != -ETIME)) {
			char what[96];

			snprintf(what, sizeof(what), "io_uring_enter failed: %s", strerror(-ret));
			end_all(uw, ret, what);
			break;
		}
		reap_and_reflect(uw, w);
		if (TRF_UNLIKELY(uw->sq_error)) {
			char what[96];

			snprintf(what, sizeof(what), "the submission queue stayed full (%s)",
				 strerror(-uw->sq_error));
			end_all(uw, uw->sq_error, what);
			break;
		}
	}
	/* fixed may have fallen back to fixed-nonblock at its first read */
	for (unsigned int i = 0; i < uw->nq; i++) {
		struct trf_queue_info *info = &uw->q[i]->w->info;

		if (strcmp(info->read, uw->q[i]->read_name) != 0) {
			trf_info_fallback(info, "--read fixed: the kernel refused RWF_NOWAIT: O_NONBLOCK");
			snprintf(info->read, sizeof(info->read), "%s", uw->q[i]->read_name);
		}
	}
	return worker_result(uw);
}

static void uring_teardown(struct trf_worker *w)
{
	struct trf_uring_worker *uw = w->io;

	if (!uw)
		return;
	if (uw->ring_ready) {
		/*
		 * Drop the ring's references to the queue fds now: a ring is torn
		 * down asynchronously after it is closed, and until then the
		 * device would outlive the process (a restart in the other mode
		 * would find it still there).
		 */
		io_uring_unregister_files(&uw->ring);
		io_uring_unregister_buffers(&uw->ring);
		io_uring_queue_exit(&uw->ring);
	}
	for (unsigned int i = 0; i < uw->nq; i++) {
		struct trf_uring_queue *q = uw->q[i];

		if (q->rs)
			q->rs->teardown(q);
		trf_mem_free(q->base, q->mem_size, q->w->node);
		free(q->write_len);
		free(q->batch);
		free(q);
	}
	free(uw);
	w->io = NULL;
}

const struct trf_io_ops trf_io_uring_ops = {
	.name = "uring",
	.setup = uring_setup,
	.run = uring_run,
	.teardown = uring_teardown,
	.wake = NULL,
	.queues_per_thread = uring_queues_per_thread,
};
