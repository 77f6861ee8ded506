// SPDX-License-Identifier: MIT
/*
 * The io_uring engine: one ring per queue, owned by the queue's pinned
 * worker, all frame memory registered as one fixed buffer.
 *
 * Reads.  Every read parked on a tun fd is a separate waiter woken by every
 * packet, so no more than one is ever parked: either ONE multishot read that
 * picks buffers from a provided buffer ring (kernel >= 6.7), or ONE
 * multishot poll that gates rounds of READ_FIXEDs with RWF_NOWAIT (a read
 * that finds the queue empty completes with -EAGAIN instead of arming a poll
 * of its own; O_NONBLOCK alone does not do that where the file supports
 * non-blocking I/O: io_uring then polls and retries).  A round is issued
 * while the queue is known to hold frames: after a poll completion, and
 * after a round whose reads all returned a frame; a read that comes back
 * -EAGAIN ends the rounds until the next poll completion.  The poll stays
 * armed throughout, so a frame that arrives after the -EAGAIN always
 * produces a completion.  Batching comes from reaping many CQEs per
 * io_uring_enter, not from parked reads.  The buffer ring is never
 * registered with incremental consumption: tun would silently truncate
 * frames into the partial buffers that mode hands out.
 *
 * Buffer ownership.  A buffer id is, at any moment, in exactly one place:
 * the kernel (buffer ring or a fixed read), a frame of the current batch, or
 * an in-flight WRITE_FIXED.  It returns to the kernel only after its write
 * CQE (or at once when its frame is dropped).
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "internal.h"

/* Not in liburing 2.3's headers. */
#define TRF_IORING_OP_READ_MULTISHOT 49
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif

#ifdef TRF_FORCE_NOWAIT_FALLBACK
/* Test builds: an unknown flag makes the kernel fail the read (EOPNOTSUPP). */
#define TRF_READ_NOWAIT (RWF_NOWAIT | (1 << 30))
#else
#define TRF_READ_NOWAIT RWF_NOWAIT
#endif

#define CQE_BATCH 256
#define BUF_GROUP 0
#define QUEUE_FILE 0 /* the queue fd's index in the fixed file table */
#define DRAIN_WAIT_MS 100
#define DRAIN_TRIES 20

/* user_data: the operation in the top byte, a buffer id below. */
enum ud_op { OP_READ = 1, OP_WRITE, OP_STOP, OP_CANCEL, OP_POLL };

static inline uint64_t ud_make(enum ud_op op, uint32_t bid)
{
	return (uint64_t)op << 56 | bid;
}

static inline enum ud_op ud_op(uint64_t ud)
{
	return (enum ud_op)(ud >> 56);
}

static inline uint16_t ud_bid(uint64_t ud)
{
	return (uint16_t)ud;
}

struct uring_queue {
	struct io_uring ring;
	bool ring_ready;
	bool multishot;
	bool stopping;
	uint8_t *base; /* nbufs * frame_size, registered as fixed buffer 0 */
	size_t mem_size;
	uint32_t frame_size;
	unsigned int nbufs;
	/* multishot: the provided buffer ring */
	struct io_uring_buf_ring *br;
	size_t br_size;
	int br_mask;
	int br_added; /* buffers added since the last advance */
	/* fixed: free buffer ids and the ids of the reads in flight */
	uint16_t *free_bids;
	unsigned int nfree;
	uint16_t read_bids[TRF_MAX_FIXED_READS];
	/* fixed: the readiness poll, and whether the queue may hold frames */
	bool poll_armed;
	bool poll_oneshot; /* the kernel has no multishot poll (before 5.13) */
	bool readable;
	int read_flags; /* RWF_NOWAIT, or 0 once the fd is O_NONBLOCK instead */
	int round_flags; /* read_flags when the current round was issued */
	unsigned int round_size; /* reads the current round issued */
	unsigned int round_frames; /* frames they returned so far */
	unsigned int round_next; /* reads the next round issues */
	unsigned int burst_frames; /* frames read since the queue was last empty */
	unsigned int reads_inflight;
	unsigned int writes_inflight;
	uint32_t *write_len; /* by buffer id, while its write is in flight */
	struct trf_frame *batch;
};

static uint8_t *buf_addr(const struct uring_queue *q, uint16_t bid)
{
	return q->base + (size_t)bid * q->frame_size;
}

static void recycle(struct uring_queue *q, uint16_t bid)
{
	if (q->multishot)
		io_uring_buf_ring_add(q->br, buf_addr(q, bid), q->frame_size, bid, q->br_mask,
				      q->br_added++);
	else
		q->free_bids[q->nfree++] = bid;
}

static struct io_uring_sqe *get_sqe(struct uring_queue *q)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);

	/* The SQ holds a write for every buffer, so this is only a safety net. */
	if (TRF_UNLIKELY(!sqe)) {
		io_uring_submit(&q->ring);
		sqe = io_uring_get_sqe(&q->ring);
	}
	return sqe;
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

static int ring_init(struct uring_queue *q, struct trf_worker *w, struct trf_err *err)
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
	unsigned int entries = q->nbufs + TRF_MAX_FIXED_READS + 8;
	int ret = -EINVAL;

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct io_uring_params p = { 0 };

		p.flags = modes[i].flags | IORING_SETUP_CQSIZE;
		p.cq_entries = 4 * entries;
		ret = io_uring_queue_init_params(entries, &q->ring, &p);
		if (ret == 0) {
			w->ring_flags = modes[i].name;
			q->ring_ready = true;
			return 0;
		}
		if (ret != -EINVAL)
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
		return explain_memlock(w, ret, err);
	default:
		return trf_errf(err, ret, "cannot create an io_uring: %s", strerror(-ret));
	}
}

static bool kernel_has_read_multishot(struct io_uring *ring)
{
	struct io_uring_probe *probe = io_uring_get_probe_ring(ring);
	bool ok = probe && io_uring_opcode_supported(probe, TRF_IORING_OP_READ_MULTISHOT);

	if (probe)
		io_uring_free_probe(probe);
	return ok;
}

static int setup_buf_ring(struct uring_queue *q)
{
	struct io_uring_buf_reg reg = { 0 };
	long page = sysconf(_SC_PAGESIZE);
	int ret;

	q->br_size =
	    (q->nbufs * sizeof(struct io_uring_buf) + (size_t)page - 1) & ~((size_t)page - 1);
	q->br = mmap(NULL, q->br_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (q->br == MAP_FAILED) {
		q->br = NULL;
		return -ENOMEM;
	}
	reg.ring_addr = (uintptr_t)q->br;
	reg.ring_entries = q->nbufs;
	reg.bgid = BUF_GROUP;
	ret = io_uring_register_buf_ring(&q->ring, &reg, 0);
	if (ret) {
		munmap(q->br, q->br_size);
		q->br = NULL;
		return ret;
	}
	io_uring_buf_ring_init(q->br);
	q->br_mask = io_uring_buf_ring_mask(q->nbufs);
	for (unsigned int bid = 0; bid < q->nbufs; bid++)
		io_uring_buf_ring_add(q->br, buf_addr(q, (uint16_t)bid), q->frame_size,
				      (unsigned short)bid, q->br_mask, (int)bid);
	io_uring_buf_ring_advance(q->br, (int)q->nbufs);
	return 0;
}

static int uring_setup(struct trf_worker *w, struct trf_err *err)
{
	const struct trf_config *cfg = w->cfg;
	struct uring_queue *q;
	struct iovec iov;
	int ret;

	q = calloc(1, sizeof(*q));
	if (!q)
		return trf_errf(err, -ENOMEM, "out of memory");
	w->io = q;
	q->nbufs = cfg->buffers;
	q->frame_size = cfg->frame_size;
	q->mem_size = (size_t)q->nbufs * q->frame_size;
	q->base = trf_mem_alloc(q->mem_size, w->node);
	q->free_bids = calloc(q->nbufs, sizeof(*q->free_bids));
	q->write_len = calloc(q->nbufs, sizeof(*q->write_len));
	q->batch = calloc(q->nbufs, sizeof(*q->batch));
	if (!q->base || !q->free_bids || !q->write_len || !q->batch)
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

	if (cfg->read != TRF_READ_FIXED) {
		ret = kernel_has_read_multishot(&q->ring) ? setup_buf_ring(q) : -EOPNOTSUPP;
		if (ret == 0)
			q->multishot = true;
		else if (cfg->read == TRF_READ_MULTISHOT)
			return trf_errf(
			    err, ret,
			    "--read multishot: this kernel lacks IORING_OP_READ_MULTISHOT "
			    "or provided buffer rings (%s; needs Linux 6.7) — use --read "
			    "auto or --read fixed",
			    strerror(-ret));
	}
	if (!q->multishot) {
		q->read_flags = TRF_READ_NOWAIT;
		for (unsigned int bid = 0; bid < q->nbufs; bid++)
			q->free_bids[q->nfree++] = (uint16_t)(q->nbufs - 1 - bid);
		q->readable = true; /* frames may be queued before the poll is armed */
	}
	w->read_name = q->multishot ? "multishot" : "fixed";
	return 0;
}

static void arm_reads(struct uring_queue *q, const struct trf_config *cfg)
{
	if (q->multishot) {
		struct io_uring_sqe *sqe;

		if (q->reads_inflight)
			return;
		sqe = get_sqe(q);
		/* addr 0, len 0: the kernel picks a buffer per frame from BUF_GROUP. */
		io_uring_prep_rw(TRF_IORING_OP_READ_MULTISHOT, sqe, QUEUE_FILE, NULL, 0, 0);
		sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
		sqe->buf_group = BUF_GROUP;
		io_uring_sqe_set_data64(sqe, ud_make(OP_READ, 0));
		q->reads_inflight = 1;
		return;
	}
	if (!q->poll_armed) {
		struct io_uring_sqe *sqe = get_sqe(q);

		if (q->poll_oneshot)
			io_uring_prep_poll_add(sqe, QUEUE_FILE, POLLIN);
		else
			io_uring_prep_poll_multishot(sqe, QUEUE_FILE, POLLIN);
		sqe->flags |= IOSQE_FIXED_FILE;
		io_uring_sqe_set_data64(sqe, ud_make(OP_POLL, 0));
		q->poll_armed = true;
	}
	/* A new round once the last one is back, and only if frames may wait. */
	if (!q->readable || q->reads_inflight)
		return;
	q->round_size = 0;
	q->round_frames = 0;
	q->round_flags = q->read_flags;
	if (q->round_next < cfg->fixed_reads)
		q->round_next = cfg->fixed_reads;
	if (q->round_next > TRF_MAX_FIXED_READS)
		q->round_next = TRF_MAX_FIXED_READS;
	while (q->round_size < q->round_next && q->nfree) {
		struct io_uring_sqe *sqe = get_sqe(q);
		uint16_t bid = q->free_bids[--q->nfree];

		io_uring_prep_read_fixed(sqe, QUEUE_FILE, buf_addr(q, bid), q->frame_size, 0, 0);
		sqe->flags |= IOSQE_FIXED_FILE;
		sqe->rw_flags = q->read_flags;
		io_uring_sqe_set_data64(sqe, ud_make(OP_READ, bid));
		q->read_bids[q->reads_inflight++] = bid;
		q->round_size++;
	}
	q->readable = false; /* until the round proves otherwise, or a poll says so */
}

static void forget_fixed_read(struct uring_queue *q, uint16_t bid)
{
	for (unsigned int i = 0; i < q->reads_inflight; i++) {
		if (q->read_bids[i] == bid) {
			q->read_bids[i] = q->read_bids[--q->reads_inflight];
			return;
		}
	}
}

/* Stop asked: cancel the reads; what was already read is still written. */
static void begin_stop(struct uring_queue *q)
{
	q->stopping = true;
	if (q->multishot) {
		if (q->reads_inflight) {
			struct io_uring_sqe *sqe = get_sqe(q);

			io_uring_prep_cancel64(sqe, ud_make(OP_READ, 0), 0);
			io_uring_sqe_set_data64(sqe, ud_make(OP_CANCEL, 0));
		}
		return;
	}
	for (unsigned int i = 0; i < q->reads_inflight; i++) {
		struct io_uring_sqe *sqe = get_sqe(q);

		io_uring_prep_cancel64(sqe, ud_make(OP_READ, q->read_bids[i]), 0);
		io_uring_sqe_set_data64(sqe, ud_make(OP_CANCEL, 0));
	}
	if (q->poll_armed) {
		struct io_uring_sqe *sqe = get_sqe(q);

		io_uring_prep_cancel64(sqe, ud_make(OP_POLL, 0), 0);
		io_uring_sqe_set_data64(sqe, ud_make(OP_CANCEL, 0));
	}
}

struct reap_totals {
	uint64_t frames_read, bytes_read, frames_written, bytes_written, write_errors, rearms;
};

/*
 * One read CQE on the queue fd.  Returns 0, or -errno for an error that ends
 * the worker.
 */
static int on_read(struct uring_queue *q, int fd, const struct io_uring_cqe *cqe,
		   unsigned int *nframes, struct reap_totals *t)
{
	uint16_t bid;

	if (q->multishot) {
		if (!(cqe->flags & IORING_CQE_F_MORE))
			q->reads_inflight = 0; /* re-armed after the batch unless stopping */
		if (!(cqe->flags & IORING_CQE_F_BUFFER)) {
			if (cqe->res == -ENOBUFS)
				t->rearms++;
			else if (cqe->res < 0 && cqe->res != -ECANCELED && cqe->res != -EINTR)
				return cqe->res;
			return 0;
		}
		bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
	} else {
		bid = ud_bid(cqe->user_data);
		forget_fixed_read(q, bid);
		/*
		 * A full round: more frames may be queued, read on with a round
		 * twice the size.  The first -EAGAIN ends a burst: the next
		 * burst starts with a round one larger than this one was long,
		 * so that at a steady rate one round drains it.
		 */
		if (cqe->res > 0) {
			q->burst_frames++;
			if (++q->round_frames == q->round_size) {
				q->readable = true;
				q->round_next = 2 * q->round_size;
			}
		} else if (cqe->res == -EAGAIN && q->burst_frames) {
			q->round_next = q->burst_frames + 1;
			q->burst_frames = 0;
		} else if (cqe->res == -EOPNOTSUPP && q->round_flags) {
			/*
			 * RWF_NOWAIT needs FMODE_NOWAIT, which older kernels do not
			 * give tun; there io_uring takes O_NONBLOCK to mean the same.
			 * Every read of the round fails alike; the first switches.
			 */
			recycle(q, bid);
			if (q->read_flags) {
				int fl = fcntl(fd, F_GETFL);

				if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
					return -errno;
				q->read_flags = 0;
				q->readable = true;
			}
			return 0;
		}
	}
	if (cqe->res <= 0) {
		recycle(q, bid);
		if (cqe->res < 0 && cqe->res != -ECANCELED && cqe->res != -EINTR &&
		    cqe->res != -EAGAIN)
			return cqe->res;
		return 0;
	}
	q->batch[*nframes] = (struct trf_frame){
		.data = buf_addr(q, bid),
		.len = (uint32_t)cqe->res,
		.cookie = bid,
	};
	(*nframes)++;
	t->frames_read++;
	t->bytes_read += (uint32_t)cqe->res;
	return 0;
}

/* The readiness poll of the fixed strategy. */
static int on_poll(struct uring_queue *q, const struct io_uring_cqe *cqe)
{
	if (!(cqe->flags & IORING_CQE_F_MORE))
		q->poll_armed = false; /* re-armed after the batch unless stopping */
	if (cqe->res > 0) {
		q->readable = true;
		return 0;
	}
	if (cqe->res == -EINVAL && !q->poll_oneshot) {
		/* No multishot poll (before Linux 5.13): one-shot polls from now on. */
		q->poll_oneshot = true;
		q->readable = true;
		return 0;
	}
	if (cqe->res < 0 && cqe->res != -ECANCELED && cqe->res != -EINTR)
		return cqe->res;
	return 0;
}

static void on_write(struct uring_queue *q, const struct io_uring_cqe *cqe, struct reap_totals *t)
{
	uint16_t bid = ud_bid(cqe->user_data);

	q->writes_inflight--;
	/* tun writes are all or nothing; anything else is a lost frame. */
	if (TRF_LIKELY(cqe->res >= 0 && (uint32_t)cqe->res == q->write_len[bid])) {
		t->frames_written++;
		t->bytes_written += (uint32_t)cqe->res;
	} else {
		t->write_errors++;
	}
	recycle(q, bid);
}

/*
 * Reap every ready CQE, reflect the frames they carry as one burst, queue
 * their writes.  The caller submits once.
 */
static int reap_and_reflect(struct uring_queue *q, struct trf_worker *w)
{
	const struct trf_config *cfg = w->cfg;
	struct trf_queue_stats *st = &w->stats;
	struct io_uring_cqe *cqes[CQE_BATCH];
	struct reap_totals t = { 0 };
	unsigned int nframes = 0, n;
	int ret = 0;

	while ((n = io_uring_peek_batch_cqe(&q->ring, cqes, CQE_BATCH)) > 0) {
		for (unsigned int i = 0; i < n; i++) {
			const struct io_uring_cqe *cqe = cqes[i];

			int r = 0;

			switch (ud_op(cqe->user_data)) {
			case OP_READ:
				r = on_read(q, w->fd, cqe, &nframes, &t);
				break;
			case OP_WRITE:
				on_write(q, cqe, &t);
				break;
			case OP_POLL:
				r = on_poll(q, cqe);
				break;
			case OP_STOP:
				begin_stop(q);
				break;
			case OP_CANCEL:
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

	if (nframes) {
		cfg->mode->burst(&cfg->reflect, q->batch, nframes);
		for (unsigned int i = 0; i < nframes; i++) {
			const struct trf_frame *f = &q->batch[i];
			struct io_uring_sqe *sqe;

			if (f->drop != TRF_DROP_NONE) {
				TRF_STAT_ADD(st, drops[f->drop], 1);
				recycle(q, (uint16_t)f->cookie);
				continue;
			}
			sqe = get_sqe(q);
			io_uring_prep_write_fixed(sqe, QUEUE_FILE, f->data, f->len, 0, 0);
			sqe->flags |= IOSQE_FIXED_FILE;
			io_uring_sqe_set_data64(sqe, ud_make(OP_WRITE, f->cookie));
			q->write_len[f->cookie] = f->len;
			q->writes_inflight++;
		}
	}
	if (!q->stopping)
		arm_reads(q, cfg);
	if (q->br_added) {
		io_uring_buf_ring_advance(q->br, q->br_added);
		q->br_added = 0;
	}

	if (t.frames_read) {
		TRF_STAT_ADD(st, frames_read, t.frames_read);
		TRF_STAT_ADD(st, bytes_read, t.bytes_read);
	}
	if (t.frames_written) {
		TRF_STAT_ADD(st, frames_written, t.frames_written);
		TRF_STAT_ADD(st, bytes_written, t.bytes_written);
	}
	if (t.write_errors)
		TRF_STAT_ADD(st, drops[TRF_IO_DROP_WRITE_ERROR], t.write_errors);
	if (t.rearms)
		TRF_STAT_ADD(st, read_rearms, t.rearms);
	return ret;
}

static int uring_run(struct trf_worker *w, struct trf_err *err)
{
	struct uring_queue *q = w->io;
	struct io_uring_sqe *sqe;
	unsigned int drain_tries = 0;
	int ret;

	/* The stop eventfd is never reset: once readable, every worker sees it. */
	sqe = get_sqe(q);
	io_uring_prep_poll_add(sqe, w->eng->stop_efd, POLLIN);
	io_uring_sqe_set_data64(sqe, ud_make(OP_STOP, 0));
	arm_reads(q, w->cfg);

	for (;;) {
		if (q->stopping) {
			struct __kernel_timespec ts = { .tv_nsec = DRAIN_WAIT_MS * 1000000L };
			struct io_uring_cqe *cqe;

			if (q->reads_inflight == 0 && q->writes_inflight == 0 && !q->poll_armed)
				break;
			if (drain_tries++ == DRAIN_TRIES)
				return trf_errf(
				    err, -ETIMEDOUT,
				    "queue %u: %u read(s), %u write(s) and %u poll(s) still "
				    "in flight after %d ms of draining",
				    w->queue, q->reads_inflight, q->writes_inflight,
				    q->poll_armed ? 1U : 0U, DRAIN_TRIES * DRAIN_WAIT_MS);
			ret = io_uring_submit_and_wait_timeout(&q->ring, &cqe, 1, &ts, NULL);
		} else {
			/*
			 * tun writes complete inline, during the submit, and so do
			 * the non-blocking reads of a fixed round.  Waiting for just
			 * one CQE would return at once with nothing but write
			 * completions and cost a second io_uring_enter per frame at
			 * low load; wait for one event beyond them instead: a read,
			 * the readiness poll, or the stop poll, which is always armed.
			 * (Never for the whole round: where the reads cannot be made
			 * non-blocking they park, and the stop must still get in.)
			 */
			ret = io_uring_submit_and_wait(&q->ring, q->writes_inflight + 1);
		}
		TRF_STAT_ADD(&w->stats, waits, 1);
		if (TRF_UNLIKELY(ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY &&
				 ret != -ETIME))
			return trf_errf(err, ret, "queue %u: io_uring_enter failed: %s", w->queue,
					strerror(-ret));
		ret = reap_and_reflect(q, w);
		if (TRF_UNLIKELY(ret < 0))
			return trf_errf(err, ret, "queue %u: reading the device failed: %s",
					w->queue, strerror(-ret));
	}
	/* Shown in the summary: the kernel refused RWF_NOWAIT on this queue. */
	if (!q->multishot && !q->read_flags)
		w->read_name = "fixed-nonblock";
	return 0;
}

static void uring_teardown(struct trf_worker *w)
{
	struct uring_queue *q = w->io;

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
	if (q->br)
		munmap(q->br, q->br_size);
	trf_mem_free(q->base, q->mem_size, w->node);
	free(q->free_bids);
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
