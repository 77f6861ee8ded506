// SPDX-License-Identifier: MIT
/*
 * The io_uring engine's state machines, driven by fake completions.
 *
 * The harness sets up a real thread's ring with the engine's own setup
 * (eventfds stand in for the queue fds: nothing is ever submitted after
 * setup), then takes the SQ's head for itself: SQEs the engine queues are
 * read off the SQ and consumed by the harness, and their completions are
 * made up here and handed to the ring core as the kernel would post them.
 * So the read strategies, the end of a batch and the wait plan run exactly
 * as in the engine, with every completion chosen by the test:
 *
 *   - the grouping of queues onto threads;
 *   - the fixed strategy's round sizing, and its starvation;
 *   - `more` (frames left behind), and the coalescing gate of the wait.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"
#include "io_uring/ring.h"

#define FRAME_LEN 64

struct harness {
	struct trf_engine eng;
	struct trf_queue *queues;
	struct trf_thread thread;
	struct trf_queue *tq[TRF_MAX_QUEUES];
	struct trf_uring_thread *ut;
	unsigned int head; /* the SQ's head, the harness's own after setup */
	/* SQEs taken off the SQ by take_sqes(), copied */
	struct io_uring_sqe sqes[1024];
	unsigned int nsqes;
	uint16_t next_bid; /* the multishot fake kernel's next buffer */
};

/* A thread of nq queues on one CPU, set up by the io_uring engine itself. */
static struct harness *harness_new(unsigned int nq, enum trf_read read, unsigned int buffers,
				   unsigned int fixed_reads)
{
	struct harness *h = calloc(1, sizeof(*h));
	struct trf_config *cfg;
	struct trf_err err = { { 0 } };
	int ret;

	assert_non_null(h);
	cfg = &h->eng.cfg;
	trf_config_init(cfg);
	cfg->queues = nq;
	cfg->read = read;
	cfg->buffers = buffers;
	cfg->frame_size = 2048;
	cfg->fixed_reads = fixed_reads;
	cfg->reflect_mode = trf_reflect_mode_find("macswap");
	assert_non_null(cfg->reflect_mode);
	h->eng.io = &trf_io_uring_ops;
	h->eng.fail_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	h->eng.stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&h->eng.lock, NULL);
	pthread_cond_init(&h->eng.cond, NULL);
	h->queues = aligned_alloc(TRF_CACHELINE, sizeof(*h->queues) * nq);
	assert_non_null(h->queues);
	memset(h->queues, 0, sizeof(*h->queues) * nq);
	h->thread = (struct trf_thread){
		.eng = &h->eng,
		.cfg = cfg,
		.cpu = 0,
		.node = -1,
		.nq = nq,
		.q = h->tq,
	};
	for (unsigned int i = 0; i < nq; i++) {
		struct trf_queue *q = &h->queues[i];

		q->eng = &h->eng;
		q->cfg = cfg;
		q->thread = &h->thread;
		q->index = i;
		q->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		assert_true(q->fd >= 0);
		q->reflect = cfg->reflect;
		h->tq[i] = q;
	}
	ret = trf_io_uring_ops.setup(&h->thread, &err);
	assert_int_equal(ret, 0);
	h->ut = h->thread.io;
	/* From here on the SQ's head is ours: the kernel is never asked to submit. */
	h->head = h->ut->ring.sq.sqe_tail;
	h->ut->ring.sq.khead = &h->head;
	return h;
}

static void harness_free(struct harness *h)
{
	trf_io_uring_ops.teardown(&h->thread);
	for (unsigned int i = 0; i < h->thread.nq; i++)
		close(h->queues[i].fd);
	close(h->eng.fail_efd);
	close(h->eng.stop_efd);
	pthread_mutex_destroy(&h->eng.lock);
	pthread_cond_destroy(&h->eng.cond);
	free(h->queues);
	free(h);
}

static struct trf_uring_queue *uq(struct harness *h, unsigned int i)
{
	return h->ut->q[i];
}

/* Take every SQE queued since the last call. */
static unsigned int take_sqes(struct harness *h)
{
	struct io_uring_sq *sq = &h->ut->ring.sq;

	h->nsqes = 0;
	while (h->head != sq->sqe_tail) {
		assert_true(h->nsqes < sizeof(h->sqes) / sizeof(h->sqes[0]));
		h->sqes[h->nsqes++] = sq->sqes[h->head & sq->ring_mask];
		h->head++;
	}
	sq->sqe_head = sq->sqe_tail;
	return h->nsqes;
}

/* How many of the SQEs taken are of this opcode. */
static unsigned int count_op(const struct harness *h, uint8_t opcode)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < h->nsqes; i++)
		n += h->sqes[i].opcode == opcode;
	return n;
}

static void complete(struct harness *h, uint64_t ud, int32_t res, uint32_t flags)
{
	struct io_uring_cqe cqe = { .user_data = ud, .res = res, .flags = flags };

	trf_ut_complete(h->ut, &cqe);
}

/* A unicast Ethernet frame in buffer bid of queue q: macswap writes it back. */
static void put_frame(struct trf_uring_queue *q, uint16_t bid)
{
	uint8_t *p = trf_uq_buf(q, bid);

	memset(p, 0, FRAME_LEN);
	memcpy(p, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00", 14);
}

/*
 * Complete the taken READ_FIXEDs: the first `frames` return a frame, the
 * rest -EAGAIN (the queue is empty).
 */
static void complete_reads(struct harness *h, unsigned int frames)
{
	unsigned int done = 0;

	for (unsigned int i = 0; i < h->nsqes; i++) {
		const struct io_uring_sqe *sqe = &h->sqes[i];
		struct trf_uring_queue *q;

		if (sqe->opcode != IORING_OP_READ_FIXED)
			continue;
		q = uq(h, trf_uq_ud_slot(sqe->user_data));
		if (done < frames) {
			put_frame(q, trf_uq_ud_bid(sqe->user_data));
			complete(h, sqe->user_data, FRAME_LEN, 0);
			done++;
		} else {
			complete(h, sqe->user_data, -EAGAIN, 0);
		}
	}
}

/* Complete the taken WRITE_FIXEDs as tun does: all of the frame. */
static unsigned int complete_writes(struct harness *h)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < h->nsqes; i++) {
		if (h->sqes[i].opcode != IORING_OP_WRITE_FIXED)
			continue;
		complete(h, h->sqes[i].user_data, (int32_t)h->sqes[i].len, 0);
		n++;
	}
	return n;
}

/* The multishot read of queue i posts n frames, in the buffers the kernel would pick. */
static void multishot_frames(struct harness *h, unsigned int i, unsigned int n)
{
	struct trf_uring_queue *q = uq(h, i);

	for (unsigned int k = 0; k < n; k++) {
		uint16_t bid = h->next_bid++ % q->nbufs;

		put_frame(q, bid);
		complete(h, trf_uq_ud(q, TRF_UQ_READ, 0), FRAME_LEN,
			 IORING_CQE_F_MORE | IORING_CQE_F_BUFFER |
			     (uint32_t)bid << IORING_CQE_BUFFER_SHIFT);
	}
}

static void check_accounting(struct harness *h)
{
	for (unsigned int i = 0; i < h->thread.nq; i++) {
		struct trf_queue_stats s;

		trf_stats_read(&h->queues[i].stats, &s);
		assert_int_equal(s.frames_read, s.frames_written + s.frames_consumed +
						    trf_stats_dropped(&s) +
						    uq(h, i)->writes_inflight);
	}
}

/* ---- grouping of queues onto threads ---- */

/* trf_group_queues() on cpus, with room queues a thread, makes these threads. */
static void check_group(const int *cpus, unsigned int nq, unsigned int room, unsigned int nthreads,
			const unsigned int *want)
{
	unsigned int of[TRF_MAX_QUEUES];

	assert_int_equal(trf_group_queues(cpus, nq, room, of), nthreads);
	for (unsigned int q = 0; q < nq; q++)
		assert_int_equal(of[q], want[q]);
}

static void test_group_shares_a_cpu(void **state)
{
	(void)state;
	check_group((const int[]){ 0, 0, 1, 1 }, 4, 16, 2, (const unsigned int[]){ 0, 0, 1, 1 });
}

static void test_group_interleaved(void **state)
{
	(void)state;
	check_group((const int[]){ 0, 1, 0, 1, 2 }, 5, 16, 3,
		    (const unsigned int[]){ 0, 1, 0, 1, 2 });
}

static void test_group_room(void **state)
{
	static const int cpus[] = { 3, 3, 3, 3, 3 };

	(void)state;
	/* Two queues a thread: a third on the same CPU starts another thread. */
	check_group(cpus, 5, 2, 3, (const unsigned int[]){ 0, 0, 1, 1, 2 });
	/* One a thread (--workers per-queue, --io sync). */
	check_group(cpus, 5, 1, 5, (const unsigned int[]){ 0, 1, 2, 3, 4 });
}

static void test_group_room_of_the_ring(void **state)
{
	struct trf_config cfg;

	(void)state;
	trf_config_init(&cfg);
	/* A ring stays within 16384 SQ entries: a write per buffer, a round, polls. */
	assert_int_equal(trf_ut_queues_per_thread(&cfg), 16384 / (TRF_DEFAULT_BUFFERS + 24));
	cfg.buffers = TRF_MAX_BUFFERS;
	assert_int_equal(trf_ut_queues_per_thread(&cfg), 1);
	cfg.buffers = TRF_DEFAULT_BUFFERS;
	cfg.workers = TRF_WORKERS_PER_QUEUE;
	assert_int_equal(trf_ut_queues_per_thread(&cfg), 1);
}

/* ---- the fixed strategy: round sizing, starvation ---- */

static void test_fixed_rounds(void **state)
{
	struct harness *h = harness_new(1, TRF_READ_FIXED, 64, 1);
	struct trf_uring_queue *q = uq(h, 0);
	uint64_t poll_ud = trf_uq_ud(q, TRF_UQ_POLL, 0);

	(void)state;
	assert_string_equal(h->queues[0].info.read, "fixed");
	q->rs->arm(q);
	take_sqes(h);
	/* The poll, and a first round of --fixed-reads. */
	assert_int_equal(count_op(h, IORING_OP_POLL_ADD), 1);
	assert_int_equal(count_op(h, IORING_OP_READ_FIXED), 1);

	/* A full round is followed by one twice its size: 1, 2, 4, 8, 16, then 16 at most. */
	for (unsigned int want = 2; want <= 32; want *= 2) {
		complete_reads(h, h->nsqes);
		assert_true(q->more);
		trf_ut_end_batch(h->ut);
		assert_false(q->more);
		assert_true(h->ut->burst);
		take_sqes(h);
		complete_writes(h);
		assert_int_equal(count_op(h, IORING_OP_READ_FIXED),
				 want > TRF_MAX_FIXED_READS ? TRF_MAX_FIXED_READS : want);
	}
	/* 1 + 2 + 4 + 8 + 16 + 16 frames so far: this round returns 3 and ends the burst. */
	complete_reads(h, 3);
	assert_false(q->more);
	trf_ut_end_batch(h->ut);
	assert_false(h->ut->burst);
	take_sqes(h);
	complete_writes(h);
	/* Empty: no new round until the poll says frames wait. */
	assert_int_equal(count_op(h, IORING_OP_READ_FIXED), 0);
	complete(h, poll_ud, POLLIN, IORING_CQE_F_MORE);
	trf_ut_end_batch(h->ut);
	take_sqes(h);
	/* The next burst starts with one more than the last was long, at most 16. */
	assert_int_equal(count_op(h, IORING_OP_READ_FIXED), TRF_MAX_FIXED_READS);
	complete_reads(h, 0);
	trf_ut_end_batch(h->ut);
	check_accounting(h);
	harness_free(h);
}

static void test_fixed_burst_sizes_the_next_round(void **state)
{
	struct harness *h = harness_new(1, TRF_READ_FIXED, 64, 2);
	struct trf_uring_queue *q = uq(h, 0);

	(void)state;
	q->rs->arm(q);
	take_sqes(h);
	assert_int_equal(count_op(h, IORING_OP_READ_FIXED), 2);
	complete_reads(h, 2); /* full: next round 4 */
	trf_ut_end_batch(h->ut);
	take_sqes(h);
	complete_writes(h);
	assert_int_equal(count_op(h, IORING_OP_READ_FIXED), 4);
	complete_reads(h, 3); /* a burst of 5 frames ends */
	trf_ut_end_batch(h->ut);
	take_sqes(h);
	complete_writes(h);
	complete(h, trf_uq_ud(q, TRF_UQ_POLL, 0), POLLIN, IORING_CQE_F_MORE);
	trf_ut_end_batch(h->ut);
	take_sqes(h);
	assert_int_equal(count_op(h, IORING_OP_READ_FIXED), 6);
	complete_reads(h, 1); /* a burst of one frame */
	trf_ut_end_batch(h->ut);
	take_sqes(h);
	complete_writes(h);
	/* A burst shorter than --fixed-reads: the next round is --fixed-reads again. */
	complete(h, trf_uq_ud(q, TRF_UQ_POLL, 0), POLLIN, IORING_CQE_F_MORE);
	trf_ut_end_batch(h->ut);
	take_sqes(h);
	assert_int_equal(count_op(h, IORING_OP_READ_FIXED), 2);
	complete_reads(h, 0);
	trf_ut_end_batch(h->ut);
	check_accounting(h);
	harness_free(h);
}

static void test_fixed_starved(void **state)
{
	struct harness *h = harness_new(1, TRF_READ_FIXED, 4, 4);
	struct trf_uring_queue *q = uq(h, 0);
	struct trf_wait_plan plan;

	(void)state;
	q->rs->arm(q);
	take_sqes(h);
	assert_int_equal(count_op(h, IORING_OP_READ_FIXED), 4);
	complete_reads(h, 4);
	trf_ut_end_batch(h->ut);
	take_sqes(h);
	/* Every buffer is being written: the round due waits for the writes. */
	assert_int_equal(count_op(h, IORING_OP_WRITE_FIXED), 4);
	assert_int_equal(count_op(h, IORING_OP_READ_FIXED), 0);
	assert_true(q->starved);
	plan = trf_wait_plan(h->ut);
	assert_int_equal(plan.how, TRF_WAIT_PLAIN);
	assert_int_equal(plan.nr, 4); /* the writes alone */
	complete_writes(h);
	trf_ut_end_batch(h->ut);
	take_sqes(h);
	/* The writes brought the buffers back: the round goes out, as large as they allow. */
	assert_false(q->starved);
	assert_int_equal(count_op(h, IORING_OP_READ_FIXED), 4);
	plan = trf_wait_plan(h->ut);
	assert_int_equal(plan.how, TRF_WAIT_PLAIN);
	assert_int_equal(plan.nr, 1); /* no write in flight: one event beyond */
	complete_reads(h, 0);
	trf_ut_end_batch(h->ut);
	check_accounting(h);
	harness_free(h);
}

/* ---- multishot: more; the wait's coalescing gate ---- */

static struct harness *multishot_harness(void)
{
	struct harness *h = harness_new(2, TRF_READ_AUTO, 64, 4);

	if (strcmp(h->queues[0].info.read, "multishot") != 0) {
		harness_free(h);
		return NULL;
	}
	return h;
}

static void test_multishot_more(void **state)
{
	struct harness *h = multishot_harness();
	struct trf_uring_queue *q;

	(void)state;
	if (!h)
		skip(); /* no multishot read in this kernel (Linux < 6.7) */
	q = uq(h, 1);
	for (unsigned int i = 0; i < h->ut->nq; i++)
		uq(h, i)->rs->arm(uq(h, i));
	take_sqes(h);
	assert_int_equal(count_op(h, TRF_IORING_OP_READ_MULTISHOT), 2);
	/* A few frames: nothing left behind. */
	multishot_frames(h, 1, 3);
	trf_ut_end_batch(h->ut);
	assert_false(h->ut->burst);
	take_sqes(h);
	assert_int_equal(count_op(h, IORING_OP_WRITE_FIXED), 3);
	complete_writes(h);
	/* The buffer ring ran dry: the read ended, frames may wait. */
	complete(h, trf_uq_ud(q, TRF_UQ_READ, 0), -ENOBUFS, 0);
	assert_true(q->more);
	trf_ut_end_batch(h->ut);
	assert_true(h->ut->burst);
	assert_false(q->more);
	take_sqes(h);
	assert_int_equal(count_op(h, TRF_IORING_OP_READ_MULTISHOT), 1); /* re-armed */
	/* A full multishot burst (32 completions) left frames behind too. */
	multishot_frames(h, 0, 32);
	trf_ut_end_batch(h->ut);
	assert_true(h->ut->burst);
	take_sqes(h);
	complete_writes(h);
	trf_ut_end_batch(h->ut);
	assert_false(h->ut->burst);
	check_accounting(h);
	harness_free(h);
}

static void test_coalescing_gate(void **state)
{
	struct harness *h = multishot_harness();
	struct trf_wait_plan plan;
	uint64_t t0 = 1000000000u;

	(void)state;
	if (!h)
		skip();
	for (unsigned int i = 0; i < h->ut->nq; i++)
		uq(h, i)->rs->arm(uq(h, i));
	take_sqes(h);
	/* As --coalesce 50 sets it where the kernel has min_wait (the plan is the same). */
	h->ut->coalesce_usec = 50;
	h->ut->gap_ns = UINT64_MAX;
	/* No gap known yet: the plain wait. */
	plan = trf_wait_plan(h->ut);
	assert_int_equal(plan.how, TRF_WAIT_PLAIN);
	assert_int_equal(plan.nr, 1);
	/* 10 frames in 100 us: 10 us apart, closer than 50 us: coalesce. */
	trf_wait_note(h->ut, 10, t0);
	trf_wait_note(h->ut, 10, t0 + 100000);
	assert_int_equal(h->ut->gap_ns, 10000);
	multishot_frames(h, 0, 4);
	trf_ut_end_batch(h->ut);
	take_sqes(h);
	plan = trf_wait_plan(h->ut);
	assert_int_equal(plan.how, TRF_WAIT_MIN);
	/* The writes in flight and half of both queues' buffers. */
	assert_int_equal(plan.nr, 4 + (64 + 64) / 2);
	complete_writes(h);
	/* Frames left behind: the next wait must not linger. */
	complete(h, trf_uq_ud(uq(h, 0), TRF_UQ_READ, 0), -ENOBUFS, 0);
	trf_ut_end_batch(h->ut);
	take_sqes(h);
	plan = trf_wait_plan(h->ut);
	assert_int_equal(plan.how, TRF_WAIT_PLAIN);
	/* A batch with nothing left behind: coalescing again. */
	multishot_frames(h, 1, 1);
	trf_ut_end_batch(h->ut);
	take_sqes(h);
	complete_writes(h);
	plan = trf_wait_plan(h->ut);
	assert_int_equal(plan.how, TRF_WAIT_MIN);
	/* 10 frames in 1 ms: 100 us apart, slower than 50 us: the plain wait. */
	trf_wait_note(h->ut, 10, t0 + 1100000);
	plan = trf_wait_plan(h->ut);
	assert_int_equal(plan.how, TRF_WAIT_PLAIN);
	/* Close again, then a second without a frame: coalescing starts over. */
	trf_wait_note(h->ut, 100, t0 + 1200000);
	assert_int_equal(trf_wait_plan(h->ut).how, TRF_WAIT_MIN);
	trf_wait_idle(h->ut);
	assert_int_equal(trf_wait_plan(h->ut).how, TRF_WAIT_PLAIN);
	/* --poll busy never sleeps. */
	h->ut->busy = true;
	assert_int_equal(trf_wait_plan(h->ut).how, TRF_WAIT_BUSY);
	h->ut->busy = false;
	trf_ut_end_batch(h->ut);
	check_accounting(h);
	harness_free(h);
}

/* What the wait says it is, from --coalesce and what this kernel has. */
static void test_wait_info(void **state)
{
	struct trf_uring_thread ut = { 0 };
	struct trf_uring_queue uq0 = { 0 };
	struct trf_queue q0 = { 0 };
	struct trf_config cfg;

	(void)state;
	trf_config_init(&cfg);
	uq0.queue = &q0;
	ut.q[0] = &uq0;
	ut.nq = 1;
	cfg.coalesce_usec = 50;
	ut.ring.features = 0; /* a kernel without min_wait */
	trf_wait_setup(&ut, &cfg);
	assert_string_equal(q0.info.wait, "sleep");
	assert_string_equal(q0.info.fallback, "--coalesce: needs Linux 6.12 (min_wait)");
	assert_int_equal(ut.coalesce_usec, 0);
	memset(&q0.info, 0, sizeof(q0.info));
	ut.coalesce_usec = 0;
	ut.ring.features = 1U << 15; /* IORING_FEAT_MIN_TIMEOUT */
	trf_wait_setup(&ut, &cfg);
	assert_string_equal(q0.info.wait, "coalesce 50us");
	assert_string_equal(q0.info.fallback, "");
	memset(&q0.info, 0, sizeof(q0.info));
	cfg.busy_poll = true;
	ut.coalesce_usec = 0;
	trf_wait_setup(&ut, &cfg);
	assert_string_equal(q0.info.wait, "busy");
}

/* --poll hybrid: the mode after a window, from its frames per sleep (ring_hybrid.c). */
static void test_hybrid_switch(void **state)
{
	const uint64_t w = TRF_HYBRID_WINDOW;

	(void)state;
	/* Blocking: a backlog (TRF_HYBRID_UP frames a sleep, or no sleep at all) goes to the ring. */
	assert_false(trf_hybrid_blocking_next(true, w, w / TRF_HYBRID_UP));
	assert_false(trf_hybrid_blocking_next(true, w, 0));
	assert_true(trf_hybrid_blocking_next(true, w, w / TRF_HYBRID_UP + 1));
	assert_true(trf_hybrid_blocking_next(true, w, w));
	/* The ring: TRF_HYBRID_DOWN frames a sleep or fewer go back to blocking; between, no change. */
	assert_true(trf_hybrid_blocking_next(false, w, w / TRF_HYBRID_DOWN + 1));
	assert_true(trf_hybrid_blocking_next(false, w, w));
	assert_false(trf_hybrid_blocking_next(false, w, w / TRF_HYBRID_DOWN - 1));
	assert_false(trf_hybrid_blocking_next(false, w, 0));
	assert_true(TRF_HYBRID_DOWN < TRF_HYBRID_UP); /* hysteresis */
}

/* Where syscalls are dear, --poll hybrid keeps the ring, and says why. */
static void test_hybrid_dear_syscalls(void **state)
{
	struct trf_uring_thread ut = { 0 };
	struct trf_uring_queue uq0 = { .fd = -1 };
	struct trf_queue q0 = { 0 };
	struct trf_config cfg;

	(void)state;
	trf_config_init(&cfg);
	uq0.queue = &q0;
	ut.q[0] = &uq0;
	ut.nq = 1;
	ut.defer_taskrun = true;
	cfg.syscall_ns = TRF_HYBRID_MAX_SYSCALL_NS;
	assert_int_equal(trf_hybrid_setup(&ut, &cfg, NULL), 0);
	assert_false(ut.hybrid);
	assert_string_equal(
	    q0.info.fallback,
	    "--poll hybrid: a syscall costs 500 ns here (500 or more): the ring at every load");
	/* Cheaper: the next check decides (here: the fd, which is not open). */
	memset(&q0.info, 0, sizeof(q0.info));
	cfg.syscall_ns = TRF_HYBRID_MAX_SYSCALL_NS - 1;
	assert_int_equal(trf_hybrid_setup(&ut, &cfg, NULL), 0);
	assert_false(ut.hybrid);
	assert_string_equal(q0.info.fallback, "the queue fd's flags cannot be read");
}

/* Where --poll hybrid does not apply, the worker waits in the ring, and says why when it could have. */
static void test_hybrid_refused(void **state)
{
	struct harness *h = harness_new(1, TRF_READ_MULTISHOT, 8, 4);

	(void)state;
	/* The harness's queue fds are non-blocking eventfds: a read() would never wait. */
	assert_false(h->ut->hybrid);
	assert_false(h->ut->blocking);
	assert_string_equal(h->queues[0].info.wait, "sleep");
	assert_string_equal(h->queues[0].info.fallback, "the queue fd is non-blocking");
	harness_free(h);
	/* Two queues on the worker: by design, and not a fallback. */
	h = harness_new(2, TRF_READ_MULTISHOT, 8, 4);
	assert_false(h->ut->hybrid);
	assert_string_equal(h->queues[0].info.fallback, "");
	assert_string_equal(h->queues[0].info.wait, "sleep");
	harness_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_group_shares_a_cpu),
		cmocka_unit_test(test_group_interleaved),
		cmocka_unit_test(test_group_room),
		cmocka_unit_test(test_group_room_of_the_ring),
		cmocka_unit_test(test_fixed_rounds),
		cmocka_unit_test(test_fixed_burst_sizes_the_next_round),
		cmocka_unit_test(test_fixed_starved),
		cmocka_unit_test(test_multishot_more),
		cmocka_unit_test(test_coalescing_gate),
		cmocka_unit_test(test_wait_info),
		cmocka_unit_test(test_hybrid_switch),
		cmocka_unit_test(test_hybrid_refused),
		cmocka_unit_test(test_hybrid_dear_syscalls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
