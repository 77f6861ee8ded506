// SPDX-License-Identifier: MIT
/*
 * The io_uring engine's loop, for one worker thread and every queue of its
 * ring: wait (ring_wait.c), reap the completions, hand each queue's frames
 * to the reflect mode as one burst, write the survivors back with
 * WRITE_FIXED and return buffers to the read strategy; at the stop, drain.
 * How frames are read is the strategy's (read_multishot.c, read_fixed.c;
 * see ring.h).  One io_uring_enter serves every queue of the thread: on a
 * CPU shared by several queues, a wakeup and its batch are shared too,
 * instead of one thread per queue each paying its own sleeps and the
 * switches between them.
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
#include <string.h>
#include <time.h>

#include "ring.h"

#define CQE_BATCH 256
/*
 * A multishot read posts at most this many completions in one go, then waits
 * for its task work to run again (the kernel's MULTISHOT_MAX_RETRY): a
 * wakeup that read this many left frames behind, and must not sleep.
 */
#define MULTISHOT_BURST 32
#define DRAIN_WAIT_MS 100
#define DRAIN_TRIES 20

/* The SQ was full: submit to make room, once; ring.h's trf_ut_get_sqe() is the fast path. */
struct io_uring_sqe *trf_ut_sqe_after_submit(struct trf_uring_thread *ut)
{
	int ret = io_uring_submit(&ut->ring);
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ut->ring);

	if (!sqe && !ut->sq_error)
		ut->sq_error = ret < 0 ? ret : -EBUSY;
	return sqe;
}

void trf_uq_cancel(struct trf_uring_queue *q, uint64_t ud)
{
	struct io_uring_sqe *sqe = trf_uq_get_sqe(q);

	if (TRF_UNLIKELY(!sqe))
		return; /* the thread's sq_error ends its queues */
	io_uring_prep_cancel64(sqe, ud, 0);
	io_uring_sqe_set_data64(sqe, trf_uq_ud(q, TRF_UQ_CANCEL, 0));
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
	struct trf_queue_stats *st = &q->queue->stats;

	cfg->reflect_mode->burst(q->reflect, q->batch, q->nframes);
	for (unsigned int i = 0; i < q->nframes; i++) {
		const struct trf_frame *f = &q->batch[i];
		uint16_t bid = (uint16_t)f->cookie;
		struct io_uring_sqe *sqe;

		if (f->verdict != TRF_DROP_NONE) {
			if (f->verdict == TRF_CONSUMED) {
				q->t.consumed++; /* published once per batch, with the reads */
			} else {
				TRF_STAT_ADD(st, drops[f->verdict], 1);
				/* A dropped frame is as it was read: modes store nothing before their last check. */
				if (TRF_UNLIKELY(q->queue->cap))
					trf_capture_frame(q->queue, f->data, f->len, f->verdict);
			}
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
	struct trf_queue_stats *st = &q->queue->stats;

	if (t->frames_read) {
		unsigned int b = trf_wakeup_bucket(t->frames_read);

		TRF_STAT_ADD(st, frames_read, t->frames_read);
		TRF_STAT_ADD(st, bytes_read, t->bytes_read);
		TRF_STAT_ADD(st, wakeup_frames[b], 1);
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

/*
 * A queue's own error (its read failed: the device was deleted) stops that
 * queue alone, at once: the main thread hears of it as of a queue that
 * failed, its reads are cancelled, and the writes it already queued complete
 * and are counted as usual.  Once nothing of it is in flight it has ended
 * (see trf_ut_run); the ring's other queues go on.
 */
static void fail_queue(struct trf_uring_queue *q)
{
	trf_queue_error(q->queue, q->error, "reading the device", &q->queue->err);
	if (!q->stopping)
		begin_stop(q);
	q->failed = true;
	trf_queue_failed(q->queue);
}

/* One completion; always inlined into the reap loop (trf_ut_complete is for the tests). */
static inline __attribute__((always_inline)) void complete_one(struct trf_uring_thread *ut,
							       const struct io_uring_cqe *cqe)
{
	enum trf_uq_op op = trf_uq_ud_op(cqe->user_data);
	unsigned int slot = trf_uq_ud_slot(cqe->user_data);
	struct trf_uring_queue *q;
	int r = 0;

	if (op == TRF_UQ_STOP) {
		ut->stopping = true;
		for (unsigned int k = 0; k < ut->nq; k++)
			if (!ut->q[k]->stopping)
				begin_stop(ut->q[k]);
		return;
	}
	if (TRF_UNLIKELY(slot >= ut->nq))
		return; /* not ours: nothing else submits to this ring */
	q = ut->q[slot];
	if (TRF_UNLIKELY(q->ended))
		return;
	switch (op) {
	case TRF_UQ_READ:
	case TRF_UQ_POLL:
		r = q->rs->on_cqe(q, cqe);
		break;
	case TRF_UQ_WRITE:
		on_write(q, cqe);
		break;
	default: /* cancels, and the restriction check's NOP */
		break;
	}
	if (TRF_UNLIKELY(r < 0) && q->error == 0)
		q->error = r;
}

void trf_ut_complete(struct trf_uring_thread *ut, const struct io_uring_cqe *cqe)
{
	complete_one(ut, cqe);
}

uint64_t trf_ut_end_batch(struct trf_uring_thread *ut)
{
	uint64_t reads = 0;

	ut->burst = false;
	for (unsigned int i = 0; i < ut->nq; i++) {
		struct trf_uring_queue *q = ut->q[i];

		if (q->ended)
			continue;
		if (q->nframes)
			reflect_batch(q);
		if (!q->stopping)
			q->rs->arm(q);
		if (q->rs->flush)
			q->rs->flush(q);
		reads += q->t.frames_read;
		ut->burst = ut->burst || q->more || q->t.frames_read >= MULTISHOT_BURST;
		q->more = false;
		publish_totals(q);
		if (TRF_UNLIKELY(q->error < 0 && !q->failed))
			fail_queue(q);
	}
	/* A thread's wakeups are counted on its first queue. */
	TRF_STAT_ADD(&ut->q[0]->queue->stats, waits, 1);
	return reads;
}

/*
 * Reap every ready CQE, reflect each queue's frames as one burst, queue
 * their writes, re-arm the reads.  The caller submits once.
 */
static void reap_and_reflect(struct trf_uring_thread *ut)
{
	struct io_uring_cqe *cqes[CQE_BATCH];
	uint64_t reads;
	unsigned int n;

	while ((n = io_uring_peek_batch_cqe(&ut->ring, cqes, CQE_BATCH)) > 0) {
		for (unsigned int i = 0; i < n; i++)
			complete_one(ut, cqes[i]);
		/*
		 * The whole batch is marked seen at once.  The frames keep their
		 * buffers: those belong to us until their writes complete.
		 */
		io_uring_cq_advance(&ut->ring, n);
	}
	reads = trf_ut_end_batch(ut);
	if (ut->coalesce_usec && reads)
		trf_wait_note(ut, reads, now_ns());
	if (ut->hybrid && reads)
		trf_hybrid_note(ut, reads);
}

/*
 * --poll hybrid's blocking mode, until frames queue up (ring_hybrid.c).  What
 * the last batch queued (its writes, the re-armed reads) is submitted first:
 * nothing else would submit it meanwhile.  A read that fails fails the
 * queue, as a failed CQE would.
 */
static void run_blocking(struct trf_uring_thread *ut)
{
	int ret = io_uring_submit(&ut->ring);

	if (ret < 0)
		return; /* the ring's wait retries, or says what is wrong */
	ret = trf_hybrid_run(ut);
	if (ret < 0) {
		ut->hybrid = ut->blocking = false;
		ut->q[0]->error = ret;
		trf_ut_end_batch(ut);
	} else if (!ut->blocking && ut->blocking_only) {
		/* The ring for good (the fd became non-blocking): its reads, now. */
		ut->blocking_only = false;
		ut->q[0]->rs->arm(ut->q[0]);
	}
}

/*
 * The thread stops on an error of its ring: every queue not yet ended ends
 * with it, now (writes queued or in flight are lost, counted), and one that
 * had not failed already says what.
 */
static void end_all(struct trf_uring_thread *ut, int ret, const char *what)
{
	for (unsigned int i = 0; i < ut->nq; i++) {
		struct trf_uring_queue *q = ut->q[i];

		if (q->ended)
			continue;
		TRF_STAT_ADD(&q->queue->stats, drops[TRF_IO_DROP_ABORTED], q->writes_inflight);
		q->writes_inflight = 0;
		q->ended = true;
		if (q->failed)
			continue;
		q->error = ret;
		trf_errf(&q->queue->err, ret, "queue %u: %s", q->queue->index, what);
		q->failed = true;
		trf_queue_failed(q->queue);
	}
}

/*
 * At the stop: wait for what is in flight, in steps, and give up after a
 * while.  Returns false once nothing is left, or the drain gave up.
 */
static bool drain(struct trf_uring_thread *ut, unsigned int running, unsigned int reads,
		  unsigned int polls, unsigned int writes, unsigned int *tries, int *ret)
{
	struct __kernel_timespec ts = { .tv_nsec = DRAIN_WAIT_MS * 1000000L };
	struct io_uring_cqe *cqe;
	char what[160];

	if (reads == 0 && polls == 0 && writes == 0)
		return false;
	if ((*tries)++ == DRAIN_TRIES) {
		snprintf(what, sizeof(what),
			 "%u read(s), %u write(s) and %u poll(s) of %u queue(s) still in flight "
			 "after %d ms of draining",
			 reads, writes, polls, running, DRAIN_TRIES * DRAIN_WAIT_MS);
		end_all(ut, -ETIMEDOUT, what);
		return false;
	}
	*ret = io_uring_submit_and_wait_timeout(&ut->ring, &cqe, 1, &ts, NULL);
	return true;
}

/* A queue's read strategy may have fallen back while it ran: its info says so. */
static void note_read_fallbacks(struct trf_uring_thread *ut)
{
	for (unsigned int i = 0; i < ut->nq; i++) {
		struct trf_queue_info *info = &ut->q[i]->queue->info;

		if (strcmp(info->read, ut->q[i]->read_name) == 0)
			continue;
		trf_info_fallback(info, "--read fixed: the kernel refused RWF_NOWAIT: O_NONBLOCK");
		snprintf(info->read, sizeof(info->read), "%s", ut->q[i]->read_name);
	}
}

int trf_ut_run(struct trf_thread *t)
{
	struct trf_uring_thread *ut = t->io;
	struct io_uring_sqe *sqe;
	unsigned int drain_tries = 0;
	int ret = 0;

	/* The stop eventfd is never reset: once readable, every thread sees it. */
	sqe = trf_ut_get_sqe(ut);
	if (!sqe) {
		end_all(ut, -EBUSY, "no room in a new submission queue");
		return -EBUSY;
	}
	io_uring_prep_poll_add(sqe, t->eng->stop_efd, POLLIN);
	io_uring_sqe_set_data64(sqe, trf_uq_ud_make(TRF_UQ_STOP, 0, 0));
	/*
	 * Not where the worker keeps the blocking loop at every load: an armed
	 * read's poll callback would run in the sender's path for every frame
	 * the blocking read() takes (a generator on the other CPU reflected
	 * about 2 % fewer frames a second with it).
	 */
	if (!ut->blocking_only)
		for (unsigned int i = 0; i < ut->nq; i++)
			ut->q[i]->rs->arm(ut->q[i]);

	for (;;) {
		unsigned int running = 0, reads = 0, polls = 0, writes = 0;

		for (unsigned int i = 0; i < ut->nq; i++) {
			struct trf_uring_queue *q = ut->q[i];
			unsigned int r = 0, p = 0;

			if (q->ended)
				continue;
			/* What is in flight matters only to a queue that is draining. */
			if (q->failed || ut->stopping) {
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
		if (ut->stopping) {
			if (!drain(ut, running, reads, polls, writes, &drain_tries, &ret))
				break;
		} else {
			if (ut->blocking && !ut->q[0]->failed)
				run_blocking(ut);
			ret = trf_wait_for_work(ut);
			if (ret == -ETIME)
				trf_wait_idle(ut); /* a second without a frame */
		}
		if (TRF_UNLIKELY(ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY &&
				 ret != -ETIME)) {
			char what[96];

			snprintf(what, sizeof(what), "io_uring_enter failed: %s", strerror(-ret));
			end_all(ut, ret, what);
			break;
		}
		reap_and_reflect(ut);
		if (TRF_UNLIKELY(ut->sq_error)) {
			char what[96];

			snprintf(what, sizeof(what), "the submission queue stayed full (%s)",
				 strerror(-ut->sq_error));
			end_all(ut, ut->sq_error, what);
			ret = ut->sq_error;
			break;
		}
	}
	note_read_fallbacks(ut);
	return ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY && ret != -ETIME ? ret
											    : 0;
}
