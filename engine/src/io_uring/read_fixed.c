// SPDX-License-Identifier: MIT
/*
 * Read strategy `fixed` (older kernels too): ONE multishot poll on the queue
 * fd gates rounds of READ_FIXEDs issued with RWF_NOWAIT.
 *
 * The poll is the only request ever parked on the queue (a parked read is a
 * waiter of its own, woken by every packet).  A read that finds the queue
 * empty completes with -EAGAIN instead of arming a poll of its own; O_NONBLOCK
 * alone does not do that where the file supports non-blocking I/O: io_uring
 * then polls and retries.  So every read of a round completes inline, during
 * the submit.
 *
 * A round is issued while the queue is known to hold frames: after a poll
 * completion, and after a round whose reads all returned a frame; a read that
 * comes back -EAGAIN ends the rounds until the next poll completion.  The
 * poll stays armed throughout, so a frame that arrives after the -EAGAIN
 * always produces a completion.  The first round of a burst has
 * cfg->fixed_reads reads or one more than the last burst was long, whichever
 * is larger; a full round is followed by one twice its size; at most
 * TRF_MAX_FIXED_READS.  A round due while every buffer is being written
 * waits for the writes (q->starved), not for the next frame to arrive.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>

#include "ring.h"

#ifdef TRF_FORCE_NOWAIT_FALLBACK
/* Test builds: an unknown flag makes the kernel fail the read (EOPNOTSUPP). */
#define TRF_READ_NOWAIT (RWF_NOWAIT | (1 << 30))
#else
#define TRF_READ_NOWAIT RWF_NOWAIT
#endif

struct fixed {
	uint16_t *free_bids; /* a stack of the buffers no read holds */
	unsigned int nfree;
	uint16_t read_bids[TRF_MAX_FIXED_READS]; /* the reads in flight */
	unsigned int reads_inflight;
	bool poll_armed;
	bool poll_oneshot; /* the kernel has no multishot poll (before 5.13) */
	bool readable; /* the queue may hold frames */
	int read_flags; /* RWF_NOWAIT, or 0 once the fd is O_NONBLOCK instead */
	int round_flags; /* read_flags when the current round was issued */
	unsigned int round_size; /* reads the current round issued */
	unsigned int round_frames; /* frames they returned so far */
	unsigned int round_next; /* reads the next round issues */
	unsigned int burst_frames; /* frames read since the queue was last empty */
};

static int fixed_setup(struct trf_uring_queue *q, struct trf_err *err)
{
	struct fixed *f = calloc(1, sizeof(*f));

	if (!f)
		return trf_errf(err, -ENOMEM, "out of memory");
	q->rs_state = f;
	f->free_bids = calloc(q->nbufs, sizeof(*f->free_bids));
	if (!f->free_bids)
		return trf_errf(err, -ENOMEM, "out of memory");
	for (unsigned int bid = 0; bid < q->nbufs; bid++)
		f->free_bids[f->nfree++] = (uint16_t)(q->nbufs - 1 - bid);
	f->read_flags = TRF_READ_NOWAIT;
	f->readable = true; /* frames may be queued before the poll is armed */
	return 0;
}

static void fixed_arm(struct trf_uring_queue *q)
{
	struct fixed *f = q->rs_state;

	if (!f->poll_armed) {
		struct io_uring_sqe *sqe = trf_uq_get_sqe(q);

		if (TRF_UNLIKELY(!sqe))
			return; /* the worker's sq_error stops the queue */
		if (f->poll_oneshot)
			io_uring_prep_poll_add(sqe, (int)q->slot, POLLIN);
		else
			io_uring_prep_poll_multishot(sqe, (int)q->slot, POLLIN);
		sqe->flags |= IOSQE_FIXED_FILE;
		io_uring_sqe_set_data64(sqe, trf_uq_ud(q, TRF_UQ_POLL, 0));
		f->poll_armed = true;
	}
	/* A new round once the last one is back, and only if frames may wait. */
	q->starved = false;
	if (!f->readable || f->reads_inflight)
		return;
	/*
	 * Every buffer is being written: the round waits for the writes, and
	 * the queue stays readable, since nothing else would say so again.
	 */
	if (!f->nfree) {
		q->starved = true;
		return;
	}
	f->round_size = 0;
	f->round_frames = 0;
	f->round_flags = f->read_flags;
	if (f->round_next < q->cfg->fixed_reads)
		f->round_next = q->cfg->fixed_reads;
	if (f->round_next > TRF_MAX_FIXED_READS)
		f->round_next = TRF_MAX_FIXED_READS;
	while (f->round_size < f->round_next && f->nfree) {
		struct io_uring_sqe *sqe = trf_uq_get_sqe(q);
		uint16_t bid;

		if (TRF_UNLIKELY(!sqe))
			return; /* the worker's sq_error stops the queue */
		bid = f->free_bids[--f->nfree];

		io_uring_prep_read_fixed(sqe, (int)q->slot, trf_uq_buf(q, bid), q->frame_size, 0,
					 (int)q->slot);
		sqe->flags |= IOSQE_FIXED_FILE;
		sqe->rw_flags = f->read_flags;
		io_uring_sqe_set_data64(sqe, trf_uq_ud(q, TRF_UQ_READ, bid));
		f->read_bids[f->reads_inflight++] = bid;
		f->round_size++;
	}
	f->readable = false; /* until the round proves otherwise, or a poll says so */
}

static void fixed_recycle(struct trf_uring_queue *q, uint16_t bid)
{
	struct fixed *f = q->rs_state;

	f->free_bids[f->nfree++] = bid;
}

static void forget_read(struct fixed *f, uint16_t bid)
{
	for (unsigned int i = 0; i < f->reads_inflight; i++) {
		if (f->read_bids[i] == bid) {
			f->read_bids[i] = f->read_bids[--f->reads_inflight];
			return;
		}
	}
}

/*
 * RWF_NOWAIT needs FMODE_NOWAIT, which older kernels do not give tun; there
 * io_uring takes O_NONBLOCK to mean the same.  Every read of the round fails
 * alike; the first one switches the fd.
 */
static int fall_back_to_nonblock(struct trf_uring_queue *q, struct fixed *f)
{
	int fl;

	if (!f->read_flags)
		return 0;
	fl = fcntl(q->fd, F_GETFL);
	if (fl < 0 || fcntl(q->fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	f->read_flags = 0;
	f->readable = true;
	/* Shown in the summary: the kernel refused RWF_NOWAIT on this queue. */
	q->read_name = "fixed-nonblock";
	return 0;
}

static int on_read(struct trf_uring_queue *q, struct fixed *f, const struct io_uring_cqe *cqe)
{
	uint16_t bid = trf_uq_ud_bid(cqe->user_data);

	forget_read(f, bid);
	/*
	 * A full round: more frames may be queued, read on with a round twice
	 * the size.  The first -EAGAIN ends a burst: the next burst starts with
	 * a round one larger than this one was long, so that at a steady rate
	 * one round drains it.
	 */
	if (TRF_LIKELY(cqe->res > 0)) {
		f->burst_frames++;
		if (++f->round_frames == f->round_size) {
			f->readable = true;
			f->round_next = 2 * f->round_size;
			q->more = true; /* a full round: frames may wait */
		}
		trf_uq_add_frame(q, bid, (uint32_t)cqe->res);
		return 0;
	}
	fixed_recycle(q, bid);
	if (cqe->res == -EAGAIN && f->burst_frames) {
		f->round_next = f->burst_frames + 1;
		f->burst_frames = 0;
	} else if (cqe->res == -EOPNOTSUPP && f->round_flags) {
		return fall_back_to_nonblock(q, f);
	}
	if (cqe->res < 0 && cqe->res != -ECANCELED && cqe->res != -EINTR && cqe->res != -EAGAIN)
		return cqe->res;
	return 0;
}

/* The readiness poll. */
static int on_poll(struct fixed *f, const struct io_uring_cqe *cqe)
{
	if (!(cqe->flags & IORING_CQE_F_MORE))
		f->poll_armed = false; /* re-armed after the batch unless stopping */
	if (cqe->res > 0) {
		f->readable = true;
		return 0;
	}
	if (cqe->res == -EINVAL && !f->poll_oneshot) {
		/* No multishot poll (before Linux 5.13): one-shot polls from now on. */
		f->poll_oneshot = true;
		f->readable = true;
		return 0;
	}
	if (cqe->res < 0 && cqe->res != -ECANCELED && cqe->res != -EINTR)
		return cqe->res;
	return 0;
}

static int fixed_on_cqe(struct trf_uring_queue *q, const struct io_uring_cqe *cqe)
{
	struct fixed *f = q->rs_state;

	if (trf_uq_ud_op(cqe->user_data) == TRF_UQ_POLL)
		return on_poll(f, cqe);
	return on_read(q, f, cqe);
}

static void fixed_cancel(struct trf_uring_queue *q)
{
	struct fixed *f = q->rs_state;

	for (unsigned int i = 0; i < f->reads_inflight; i++)
		trf_uq_cancel(q, trf_uq_ud(q, TRF_UQ_READ, f->read_bids[i]));
	if (f->poll_armed)
		trf_uq_cancel(q, trf_uq_ud(q, TRF_UQ_POLL, 0));
}

static void fixed_inflight(const struct trf_uring_queue *q, unsigned int *reads,
			   unsigned int *polls)
{
	const struct fixed *f = q->rs_state;

	*reads = f->reads_inflight;
	*polls = f->poll_armed ? 1 : 0;
}

static void fixed_teardown(struct trf_uring_queue *q)
{
	struct fixed *f = q->rs_state;

	if (!f)
		return;
	free(f->free_bids);
	free(f);
	q->rs_state = NULL;
}

const struct trf_read_strategy trf_read_fixed = {
	.name = "fixed",
	.setup = fixed_setup,
	.arm = fixed_arm,
	.on_cqe = fixed_on_cqe,
	.recycle = fixed_recycle,
	.flush = NULL,
	.cancel = fixed_cancel,
	.inflight = fixed_inflight,
	.teardown = fixed_teardown,
};
