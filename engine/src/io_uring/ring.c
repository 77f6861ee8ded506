// SPDX-License-Identifier: MIT
/*
 * The io_uring engine's ring core: one ring per queue, owned by the queue's
 * pinned worker, all frame memory registered as one fixed buffer, the queue
 * fd as fixed file 0.  The core runs the loop, reaps completions, hands the
 * frames to the reflect mode as one burst, writes the survivors back with
 * WRITE_FIXED and returns buffers to the read strategy; how frames are read
 * is the strategy's (read_multishot.c, read_fixed.c; see ring.h).
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

struct io_uring_sqe *trf_uq_get_sqe(struct trf_uring_queue *q)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);
	int ret;

	/* The SQ holds a write for every buffer, so this is only a safety net. */
	if (TRF_UNLIKELY(!sqe)) {
		ret = io_uring_submit(&q->ring);
		sqe = io_uring_get_sqe(&q->ring);
		if (!sqe && !q->sq_error)
			q->sq_error = ret < 0 ? ret : -EBUSY;
	}
	return sqe;
}

void trf_uq_cancel(struct trf_uring_queue *q, uint64_t ud)
{
	struct io_uring_sqe *sqe = trf_uq_get_sqe(q);

	if (TRF_UNLIKELY(!sqe))
		return; /* q->sq_error ends the queue, and the ring with it */
	io_uring_prep_cancel64(sqe, ud, 0);
	io_uring_sqe_set_data64(sqe, trf_uq_ud(TRF_UQ_CANCEL, 0));
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
static int restrict_ring(struct trf_uring_queue *q)
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
	return io_uring_register(q->ring.ring_fd, IORING_REGISTER_RESTRICTIONS, res, n);
}

/*
 * Enable a ring created disabled.  Where the restrictions took, check that
 * they hold: an opcode outside them (a NOP) must be refused with EACCES.
 */
static int enable_ring(struct trf_uring_queue *q, struct trf_worker *w, struct trf_err *err)
{
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	int ret, res;

	/* Not exported by Debian's liburing 2.3 either (io_uring_enable_rings). */
	ret = io_uring_register(q->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
	if (ret < 0)
		return trf_errf(err, ret, "cannot enable the io_uring: %s", strerror(-ret));
	if (!q->restricted)
		return 0;
	sqe = trf_uq_get_sqe(q);
	if (!sqe)
		return trf_errf(err, -EBUSY, "no room in a new submission queue");
	io_uring_prep_nop(sqe);
	io_uring_sqe_set_data64(sqe, trf_uq_ud(TRF_UQ_CANCEL, 0));
	ret = io_uring_submit_and_wait(&q->ring, 1);
	if (ret < 0)
		return trf_errf(err, ret, "cannot check the io_uring's restrictions: %s",
				strerror(-ret));
	ret = io_uring_peek_cqe(&q->ring, &cqe);
	if (ret < 0)
		return trf_errf(err, ret, "cannot check the io_uring's restrictions: %s",
				strerror(-ret));
	res = cqe->res;
	io_uring_cqe_seen(&q->ring, cqe);
	if (res != -EACCES)
		return trf_errf(err, -EPERM,
				"the io_uring's restrictions are not in force: a NOP gave %d, not "
				"EACCES",
				res);
	w->ring_restricted = "on";
	return 0;
}

static int ring_init(struct trf_uring_queue *q, struct trf_worker *w, struct trf_err *err)
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
	 * Room for a write per buffer, a full round of fixed reads, the polls
	 * and the cancels: trf_uq_get_sqe() never finds the SQ full.
	 */
	unsigned int entries = q->nbufs + TRF_MAX_FIXED_READS + 8;
	/* Created disabled, to be restricted before use (Linux 5.10); else as it comes. */
	unsigned int disabled = IORING_SETUP_R_DISABLED;
	int ret = -EINVAL;

	w->ring_restricted = "unsupported";
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct io_uring_params p = { 0 };

		p.flags = modes[i].flags | IORING_SETUP_CQSIZE | disabled;
		/* Room for a completion per write and per read, and more; the kernel's limit is 65536. */
		p.cq_entries = 4 * entries < 65536 ? 4 * entries : 65536;
		ret = io_uring_queue_init_params(entries, &q->ring, &p);
		if (ret == 0) {
			w->ring_flags = modes[i].name;
			q->ring_ready = true;
			q->disabled = disabled != 0;
			q->restricted = q->disabled && restrict_ring(q) == 0;
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
	}
	q->rs = &trf_read_fixed;
	return q->rs->setup(q, err);
}

static int uring_setup(struct trf_worker *w, struct trf_err *err)
{
	const struct trf_config *cfg = w->cfg;
	struct trf_uring_queue *q;
	struct iovec iov;
	int ret;

	q = calloc(1, sizeof(*q));
	if (!q)
		return trf_errf(err, -ENOMEM, "out of memory");
	w->io = q;
	q->cfg = cfg;
	q->reflect = &w->reflect;
	q->fd = w->fd;
	q->nbufs = cfg->buffers;
	q->frame_size = cfg->frame_size;
	q->vnet_len = cfg->reflect.vnet_hdr ? TRF_VNET_HDR_LEN : 0;
	q->mem_size = (size_t)q->nbufs * q->frame_size;
	q->base = trf_mem_alloc(q->mem_size, w->node);
	q->write_len = calloc(q->nbufs, sizeof(*q->write_len));
	q->batch = calloc(q->nbufs, sizeof(*q->batch));
	if (!q->base || !q->write_len || !q->batch)
		return trf_errf(err, -ENOMEM, "cannot allocate %zu B of frame buffers",
				q->mem_size);

	ret = ring_init(q, w, err);
	if (ret < 0)
		return ret;
	ret = io_uring_register_files(&q->ring, &w->fd, 1);
	if (ret < 0)
		return trf_errf(err, ret, "cannot register the queue fd with io_uring: %s",
				strerror(-ret));
	iov = (struct iovec){ .iov_base = q->base, .iov_len = q->mem_size };
	ret = io_uring_register_buffers(&q->ring, &iov, 1);
	if (ret == -ENOMEM || ret == -EAGAIN)
		return explain_memlock(w, ret, err);
	if (ret < 0)
		return trf_errf(err, ret, "cannot register frame buffers with io_uring: %s",
				strerror(-ret));
	/* Saves an fd lookup per io_uring_enter; optional (kernel 5.18). */
	io_uring_register_ring_fd(&q->ring);

	ret = setup_reads(q, err);
	if (ret < 0)
		return ret;
	if (q->disabled) {
		ret = enable_ring(q, w, err);
		if (ret < 0)
			return ret;
	}
	q->read_name = q->rs->name;
	w->read_name = q->read_name;

	/* How the worker waits (see wait_for_work). */
	q->busy = cfg->busy_poll;
	q->gap_ns = UINT64_MAX;
	if (q->busy) {
		w->wait_name = "busy";
	} else if (cfg->coalesce_usec && (q->ring.features & IORING_FEAT_MIN_TIMEOUT)) {
		q->coalesce_usec = cfg->coalesce_usec;
		snprintf(w->wait_label, sizeof(w->wait_label), "coalesce %uus", q->coalesce_usec);
		w->wait_name = w->wait_label;
	} else if (cfg->coalesce_usec) {
		w->wait_name = "sleep (coalesce unsupported: Linux < 6.12)";
	} else {
		w->wait_name = "sleep";
	}
	return 0;
}

/* Stop asked: cancel the reads; what was already read is still written. */
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
static void reflect_batch(struct trf_uring_queue *q, struct trf_queue_stats *st)
{
	const struct trf_config *cfg = q->cfg;

	cfg->mode->burst(q->reflect, q->batch, q->nframes);
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
			/* The queue stops on q->sq_error: the frame goes with it, counted. */
			TRF_STAT_ADD(st, drops[TRF_IO_DROP_ABORTED], 1);
			q->rs->recycle(q, bid);
			continue;
		}
		io_uring_prep_write_fixed(sqe, TRF_UQ_QUEUE_FILE, f->data, f->len, 0, 0);
		sqe->flags |= IOSQE_FIXED_FILE;
		io_uring_sqe_set_data64(sqe, trf_uq_ud(TRF_UQ_WRITE, bid));
		q->write_len[bid] = f->len;
		q->writes_inflight++;
	}
	q->nframes = 0;
}

static void publish_totals(struct trf_uring_queue *q, struct trf_queue_stats *st)
{
	const struct trf_uq_totals *t = &q->t;

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
static int enter_min_wait(struct trf_uring_queue *q, unsigned int wait_nr)
{
	struct io_uring_sq *sq = &q->ring.sq;
	struct __kernel_timespec ts = { .tv_sec = COALESCE_IDLE_S };
	struct trf_getevents_arg arg = {
		.min_wait_usec = q->coalesce_usec,
		.ts = (uint64_t)(uintptr_t)&ts,
	};
	unsigned int tail = sq->sqe_tail, submit;
	long ret;

	if (sq->sqe_head != tail) {
		sq->sqe_head = tail;
		__atomic_store_n(sq->ktail, tail, __ATOMIC_RELEASE);
	}
	submit = tail - __atomic_load_n(sq->khead, __ATOMIC_ACQUIRE);
	ret = syscall(__NR_io_uring_enter, q->ring.ring_fd, submit, wait_nr,
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
 * the stop must still get in.)  A starved strategy waits for the writes
 * alone: they bring back the buffers its next reads need.
 *
 * Coalescing: while frames arrive closer together than --coalesce, ask for
 * up to half the buffers' worth of events with min_wait = --coalesce: the
 * kernel sleeps until they are there, or until min_wait has passed and
 * anything is.  Slower than that, coalescing would only add a wakeup for
 * the writes' completions (they are there when min_wait ends), so the plain
 * wait is used: below that rate a frame's latency is untouched.  So it is
 * after a wakeup that read a full multishot burst: more frames wait, and the
 * read that takes them runs as task work of the next wait, which must not
 * sleep first.
 *
 * Busy polling: submit and collect without ever sleeping.
 */
static int wait_for_work(struct trf_uring_queue *q)
{
	if (q->busy)
		return io_uring_submit_and_get_events(&q->ring);
	if (q->coalesce_usec && !q->starved && q->last_reads < MULTISHOT_BURST &&
	    q->gap_ns < (uint64_t)q->coalesce_usec * 1000u)
		return enter_min_wait(q, q->writes_inflight + q->nbufs / 2);
	return io_uring_submit_and_wait(&q->ring, q->writes_inflight + !q->starved);
}

/* After a wakeup that read frames: the mean gap between them, for the next wait. */
static void note_wakeup(struct trf_uring_queue *q, uint64_t reads)
{
	uint64_t now;

	q->last_reads = reads;
	if (!q->coalesce_usec || !reads)
		return;
	now = now_ns();
	if (q->last_wake_ns)
		q->gap_ns = (now - q->last_wake_ns) / reads;
	q->last_wake_ns = now;
}

/*
 * Reap every ready CQE, reflect the frames they carry as one burst, queue
 * their writes, re-arm the reads.  The caller submits once.
 */
static int reap_and_reflect(struct trf_uring_queue *q, struct trf_worker *w)
{
	struct io_uring_cqe *cqes[CQE_BATCH];
	unsigned int n;
	int ret = 0;

	while ((n = io_uring_peek_batch_cqe(&q->ring, cqes, CQE_BATCH)) > 0) {
		for (unsigned int i = 0; i < n; i++) {
			const struct io_uring_cqe *cqe = cqes[i];
			int r = 0;

			switch (trf_uq_ud_op(cqe->user_data)) {
			case TRF_UQ_READ:
			case TRF_UQ_POLL:
				r = q->rs->on_cqe(q, cqe);
				break;
			case TRF_UQ_WRITE:
				on_write(q, cqe);
				break;
			case TRF_UQ_STOP:
				begin_stop(q);
				break;
			case TRF_UQ_CANCEL:
				break;
			}
			if (r < 0 && ret == 0)
				ret = r;
		}
		/*
		 * The whole batch is marked seen at once.  The frames keep their
		 * buffers: those belong to us until their writes complete.
		 */
		io_uring_cq_advance(&q->ring, n);
	}

	if (q->nframes)
		reflect_batch(q, &w->stats);
	if (!q->stopping)
		q->rs->arm(q);
	if (q->rs->flush)
		q->rs->flush(q);
	note_wakeup(q, q->t.frames_read);
	publish_totals(q, &w->stats);
	return ret;
}

/* The queue stops on an error: writes queued or in flight are lost with it, counted. */
static void abort_writes(struct trf_uring_queue *q, struct trf_worker *w)
{
	TRF_STAT_ADD(&w->stats, drops[TRF_IO_DROP_ABORTED], q->writes_inflight);
	q->writes_inflight = 0;
}

static int uring_run(struct trf_worker *w, struct trf_err *err)
{
	struct trf_uring_queue *q = w->io;
	struct io_uring_sqe *sqe;
	unsigned int drain_tries = 0;
	int ret;

	/* The stop eventfd is never reset: once readable, every worker sees it. */
	sqe = trf_uq_get_sqe(q);
	if (!sqe)
		return trf_errf(err, -EBUSY, "queue %u: no room in a new submission queue",
				w->queue);
	io_uring_prep_poll_add(sqe, w->eng->stop_efd, POLLIN);
	io_uring_sqe_set_data64(sqe, trf_uq_ud(TRF_UQ_STOP, 0));
	q->rs->arm(q);

	for (;;) {
		if (q->stopping) {
			struct __kernel_timespec ts = { .tv_nsec = DRAIN_WAIT_MS * 1000000L };
			struct io_uring_cqe *cqe;
			unsigned int reads, polls;

			q->rs->inflight(q, &reads, &polls);
			if (reads == 0 && polls == 0 && q->writes_inflight == 0)
				break;
			if (drain_tries++ == DRAIN_TRIES) {
				ret = trf_errf(err, -ETIMEDOUT,
					       "queue %u: %u read(s), %u write(s) and %u poll(s) "
					       "still in flight after %d ms of draining",
					       w->queue, reads, q->writes_inflight, polls,
					       DRAIN_TRIES * DRAIN_WAIT_MS);
				abort_writes(q, w);
				return ret;
			}
			ret = io_uring_submit_and_wait_timeout(&q->ring, &cqe, 1, &ts, NULL);
		} else {
			ret = wait_for_work(q);
			if (ret == -ETIME)
				q->gap_ns =
				    UINT64_MAX; /* a second without a frame: coalescing waits again */
		}
		TRF_STAT_ADD(&w->stats, waits, 1);
		if (TRF_UNLIKELY(ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY &&
				 ret != -ETIME)) {
			abort_writes(q, w);
			return trf_errf(err, ret, "queue %u: io_uring_enter failed: %s", w->queue,
					strerror(-ret));
		}
		ret = reap_and_reflect(q, w);
		if (TRF_UNLIKELY(ret < 0)) {
			abort_writes(q, w);
			return trf_queue_error(w, ret, "reading the device", err);
		}
		if (TRF_UNLIKELY(q->sq_error)) {
			abort_writes(q, w);
			return trf_errf(err, q->sq_error,
					"queue %u: the submission queue stayed full (%s)", w->queue,
					strerror(-q->sq_error));
		}
	}
	w->read_name = q->read_name;
	return 0;
}

static void uring_teardown(struct trf_worker *w)
{
	struct trf_uring_queue *q = w->io;

	if (!q)
		return;
	if (q->ring_ready) {
		/*
		 * Drop the ring's reference to the queue fd now: a ring is torn
		 * down asynchronously after it is closed, and until then the
		 * device would outlive the process (a restart in the other mode
		 * would find it still there).
		 */
		io_uring_unregister_files(&q->ring);
		io_uring_unregister_buffers(&q->ring);
		io_uring_queue_exit(&q->ring);
	}
	if (q->rs)
		q->rs->teardown(q);
	trf_mem_free(q->base, q->mem_size, w->node);
	free(q->write_len);
	free(q->batch);
	free(q);
	w->io = NULL;
}

const struct trf_io_ops trf_io_uring_ops = {
	.name = "uring",
	.setup = uring_setup,
	.run = uring_run,
	.teardown = uring_teardown,
	.wake = NULL,
};
