// SPDX-License-Identifier: MIT
/*
 * --capture-drops, the engine's side (engine/src/capture.c): the hand-off
 * ring of a queue and the shared --capture-limit window, driven directly:
 *
 *   - records come out whole and in order across many wrap-arounds of a
 *     small ring, the virtio-net header skipped;
 *   - a full ring counts capture_full and takes frames again once drained;
 *   - the limit counts capture_limited, per second over every queue;
 *   - a worker thread and a consumer thread at once: every frame comes out
 *     once, in order, or is counted as capture_full;
 *   - the drop branches of the io_uring core hand their frames over: a
 *     truncated read (trf_uq_add_frame) and a mode's verdict (the end of a
 *     batch), the bytes as they were read.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "io_uring/ring.h"

#define MAX_SEEN 64

struct seen {
	unsigned int n;
	struct {
		unsigned int queue, reason;
		uint32_t len;
		uint8_t data[512];
		struct timespec ts;
	} c[MAX_SEEN];
};

static void collect(void *arg, const struct trf_captured *c)
{
	struct seen *s = arg;

	assert_true(s->n < MAX_SEEN);
	assert_true(c->len <= sizeof(s->c[0].data));
	s->c[s->n].queue = c->queue;
	s->c[s->n].reason = c->reason;
	s->c[s->n].len = c->len;
	s->c[s->n].ts = c->ts;
	memcpy(s->c[s->n].data, c->data, c->len);
	s->n++;
}

struct fixture {
	struct trf_engine eng;
	struct trf_queue *queues;
};

/* An engine of nq queues whose capture rings hold ring_bytes each. */
static struct fixture *fixture_new(unsigned int nq, unsigned int ring_bytes, unsigned int limit)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct trf_err err = { { 0 } };

	assert_non_null(fx);
	trf_config_init(&fx->eng.cfg);
	fx->eng.cfg.queues = nq;
	fx->eng.cfg.capture_limit = limit;
	fx->eng.cfg.capture_queue_bytes = ring_bytes;
	fx->queues = aligned_alloc(TRF_CACHELINE, sizeof(*fx->queues) * nq);
	assert_non_null(fx->queues);
	memset(fx->queues, 0, sizeof(*fx->queues) * nq);
	fx->eng.queues = fx->queues;
	fx->eng.nqueues = nq;
	for (unsigned int i = 0; i < nq; i++) {
		struct trf_queue *q = &fx->queues[i];

		q->eng = &fx->eng;
		q->cfg = &fx->eng.cfg;
		q->index = i;
		assert_int_equal(trf_capture_queue_setup(q, -1, &err), 0);
		assert_true(limit == 0 || q->cap != NULL);
	}
	return fx;
}

static void fixture_free(struct fixture *fx)
{
	for (unsigned int i = 0; i < fx->eng.nqueues; i++)
		trf_capture_queue_free(&fx->queues[i]);
	free(fx->queues);
	free(fx);
}

static void fill(uint8_t *p, uint32_t len, unsigned int seed)
{
	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7);
}

static void check_frame(const struct seen *s, unsigned int i, unsigned int queue,
			unsigned int reason, uint32_t len, unsigned int seed)
{
	uint8_t want[512];

	fill(want, len, seed);
	assert_int_equal(s->c[i].queue, queue);
	assert_int_equal(s->c[i].reason, reason);
	assert_int_equal(s->c[i].len, len);
	assert_memory_equal(s->c[i].data, want, len);
	assert_true(s->c[i].ts.tv_sec > 0);
}

/* Lengths chosen so that records land at every 8-byte offset of the ring's end, pads and all. */
static void test_wrap_around(void **state)
{
	struct fixture *fx = fixture_new(1, 1024, TRF_MAX_CAPTURE_LIMIT);
	struct trf_queue *q = &fx->queues[0];
	uint8_t frame[512];
	unsigned int seed = 0;
	uint64_t bytes = 0;

	(void)state;
	for (unsigned int round = 0; round < 400; round++) {
		struct seen s = { 0 };
		unsigned int k = 1 + round % 3, first = seed;

		for (unsigned int j = 0; j < k; j++, seed++) {
			uint32_t len = 1 + (seed * 37) % 200;

			fill(frame, len, seed);
			trf_capture_frame(q, frame, len, 1 + seed % (TRF_DROP__COUNT - 1));
			bytes += 24 + ((len + 7) & ~7u);
		}
		assert_int_equal(trf_engine_capture_drain(&fx->eng, collect, &s), k);
		for (unsigned int j = 0; j < k; j++) {
			unsigned int sd = first + j;

			check_frame(&s, j, 0, 1 + sd % (TRF_DROP__COUNT - 1), 1 + (sd * 37) % 200,
				    sd);
		}
	}
	/* Round the ring dozens of times, and nothing refused. */
	assert_true(bytes > 50 * 1024);
	assert_int_equal(q->stats.capture_full, 0);
	assert_int_equal(q->stats.capture_limited, 0);
	fixture_free(fx);
}

static void test_full_ring(void **state)
{
	struct fixture *fx = fixture_new(1, 1024, TRF_MAX_CAPTURE_LIMIT);
	struct trf_queue *q = &fx->queues[0];
	struct seen s = { 0 };
	uint8_t frame[104];

	(void)state;
	/* A record of 104 B takes 24 + 104 = 128 B: eight fill the ring exactly. */
	for (unsigned int i = 0; i < 10; i++) {
		fill(frame, sizeof(frame), i);
		trf_capture_frame(q, frame, sizeof(frame), TRF_DROP_MALFORMED);
	}
	assert_int_equal(q->stats.capture_full, 2);
	assert_int_equal(trf_engine_capture_drain(&fx->eng, collect, &s), 8);
	for (unsigned int i = 0; i < 8; i++)
		check_frame(&s, i, 0, TRF_DROP_MALFORMED, sizeof(frame), i);
	/* Drained, it takes frames again, and a frame larger than the ring never fits. */
	s.n = 0;
	trf_capture_frame(q, frame, sizeof(frame), TRF_DROP_RUNT);
	{
		static uint8_t big[2048];

		trf_capture_frame(q, big, sizeof(big), TRF_DROP_TRUNCATED);
	}
	assert_int_equal(q->stats.capture_full, 3);
	assert_int_equal(trf_engine_capture_drain(&fx->eng, collect, &s), 1);
	check_frame(&s, 0, 0, TRF_DROP_RUNT, sizeof(frame), 9);
	assert_int_equal(trf_engine_capture_drain(&fx->eng, collect, &s), 0);
	fixture_free(fx);
}

static void test_limit_window(void **state)
{
	struct fixture *fx = fixture_new(1, 1024, 3);

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_true(trf_capture_admit(&fx->eng, 10));
	assert_false(trf_capture_admit(&fx->eng, 10));
	/* A worker whose clock read a second already past counts in the current one. */
	assert_false(trf_capture_admit(&fx->eng, 9));
	for (int i = 0; i < 3; i++)
		assert_true(trf_capture_admit(&fx->eng, 11));
	assert_false(trf_capture_admit(&fx->eng, 11));
	assert_true(trf_capture_admit(&fx->eng, 13));
	fixture_free(fx);
}

/* Over the limit, on every queue alike: counted as capture_limited, nothing handed over. */
static void test_limit_counts(void **state)
{
	struct fixture *fx = fixture_new(2, 1024, 5);
	struct seen s = { 0 };
	uint8_t frame[64];

	(void)state;
	fill(frame, sizeof(frame), 1);
	/* The window of a second that never ends, already full. */
	fx->eng.cap_window = (uint64_t)UINT32_MAX << 32 | 5;
	for (unsigned int i = 0; i < 7; i++)
		trf_capture_frame(&fx->queues[i % 2], frame, sizeof(frame), TRF_DROP_UNSUPPORTED);
	assert_int_equal(fx->queues[0].stats.capture_limited, 4);
	assert_int_equal(fx->queues[1].stats.capture_limited, 3);
	assert_int_equal(trf_engine_capture_drain(&fx->eng, collect, &s), 0);
	/* A fresh window: five frames over both queues, then the rest is limited. */
	fx->eng.cap_window = 0;
	for (unsigned int i = 0; i < 8; i++)
		trf_capture_frame(&fx->queues[i % 2], frame, sizeof(frame), TRF_DROP_UNSUPPORTED);
	/* A second may end within the loop: then a new window admits more, never fewer. */
	assert_true(trf_engine_capture_drain(&fx->eng, collect, &s) >= 5);
	assert_int_equal(
	    s.n + fx->queues[0].stats.capture_limited + fx->queues[1].stats.capture_limited - 7, 8);
	fixture_free(fx);
}

static void test_vnet_header_skipped(void **state)
{
	struct fixture *fx = fixture_new(1, 1024, TRF_MAX_CAPTURE_LIMIT);
	struct trf_queue *q = &fx->queues[0];
	struct seen s = { 0 };
	uint8_t frame[TRF_VNET_HDR_LEN + 40];

	(void)state;
	fx->eng.cfg.reflect.vnet_hdr = true;
	memset(frame, 0xee, TRF_VNET_HDR_LEN);
	fill(frame + TRF_VNET_HDR_LEN, 40, 3);
	trf_capture_frame(q, frame, sizeof(frame), TRF_DROP_BAD_VNET_HDR);
	trf_capture_frame(q, frame, 4, TRF_DROP_RUNT); /* shorter than the header: no frame */
	assert_int_equal(trf_engine_capture_drain(&fx->eng, collect, &s), 2);
	check_frame(&s, 0, 0, TRF_DROP_BAD_VNET_HDR, 40, 3);
	assert_int_equal(s.c[1].reason, TRF_DROP_RUNT);
	assert_int_equal(s.c[1].len, 0);
	fixture_free(fx);
}

/* ---- a producer and a consumer at once ---- */

#define STRESS_FRAMES 200000

struct stress {
	struct fixture *fx;
	int done; /* the producer has finished (release) */
	uint32_t next; /* the sequence number the consumer expects next, at least */
	uint64_t got;
	bool bad;
};

static void *produce(void *arg)
{
	struct stress *st = arg;
	uint8_t frame[300];

	for (uint32_t i = 0; i < STRESS_FRAMES; i++) {
		uint32_t len = 4 + i % 290;

		fill(frame, len, i);
		memcpy(frame, &i, sizeof(i));
		trf_capture_frame(&st->fx->queues[0], frame, len, TRF_DROP_MALFORMED);
	}
	__atomic_store_n(&st->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void consume(void *arg, const struct trf_captured *c)
{
	struct stress *st = arg;
	uint8_t want[300];
	uint32_t seq;

	memcpy(&seq, c->data, sizeof(seq));
	fill(want, c->len, seq);
	memcpy(want, &seq, sizeof(seq));
	/* Frames found full are missing, never reordered or torn. */
	if (seq < st->next || c->len != 4 + seq % 290 || memcmp(want, c->data, c->len) != 0)
		st->bad = true;
	st->next = seq + 1;
	st->got++;
}

static void test_concurrent(void **state)
{
	struct stress st = { .fx = fixture_new(1, 64 * 1024, TRF_MAX_CAPTURE_LIMIT) };
	pthread_t producer;

	(void)state;
	assert_int_equal(pthread_create(&producer, NULL, produce, &st), 0);
	while (!__atomic_load_n(&st.done, __ATOMIC_ACQUIRE))
		trf_engine_capture_drain(&st.fx->eng, consume, &st);
	assert_int_equal(pthread_join(producer, NULL), 0);
	trf_engine_capture_drain(&st.fx->eng, consume, &st);
	assert_false(st.bad);
	assert_true(st.got > 0);
	assert_int_equal(st.got + st.fx->queues[0].stats.capture_full, STRESS_FRAMES);
	fixture_free(st.fx);
}

/* Capture off: no ring, nothing to drain; and an engine not started has no queues. */
static void test_off(void **state)
{
	struct fixture *fx = fixture_new(1, 1024, 0);
	struct trf_engine bare = { 0 };
	struct seen s = { 0 };

	(void)state;
	assert_null(fx->queues[0].cap);
	assert_int_equal(trf_engine_capture_drain(&fx->eng, collect, &s), 0);
	bare.cfg.capture_limit = 5;
	assert_int_equal(trf_engine_capture_drain(&bare, collect, &s), 0);
	fixture_free(fx);
}

/* ---- the io_uring core's drop branches, with a fake read strategy ---- */

static unsigned int recycled;

static void fake_arm(struct trf_uring_queue *q)
{
	(void)q;
}

static void fake_recycle(struct trf_uring_queue *q, uint16_t bid)
{
	(void)q;
	(void)bid;
	recycled++;
}

static const struct trf_read_strategy fake_rs = {
	.name = "fake",
	.arm = fake_arm,
	.recycle = fake_recycle,
};

static void test_uring_drops_captured(void **state)
{
	struct fixture *fx = fixture_new(1, 4096, TRF_MAX_CAPTURE_LIMIT);
	struct trf_config *cfg = &fx->eng.cfg;
	struct trf_uring_queue uq = { 0 };
	struct trf_uring_thread *ut = calloc(1, sizeof(*ut));
	static uint8_t mem[4 * 256];
	struct trf_frame batch[4];
	struct seen s = { 0 };
	uint8_t *p;

	(void)state;
	assert_non_null(ut);
	cfg->reflect_mode = trf_reflect_mode_find("macswap");
	assert_non_null(cfg->reflect_mode);
	fx->queues[0].reflect = cfg->reflect;
	uq = (struct trf_uring_queue){
		.ut = ut,
		.queue = &fx->queues[0],
		.cfg = cfg,
		.reflect = &fx->queues[0].reflect,
		.rs = &fake_rs,
		.base = mem,
		.frame_size = 256,
		.nbufs = 4,
		.batch = batch,
	};
	ut->q[0] = &uq;
	ut->nq = 1;
	recycled = 0;

	/* A read that filled its buffer: truncated, all of the buffer captured. */
	fill(trf_uq_buf(&uq, 1), 256, 5);
	trf_uq_add_frame(&uq, 1, 256);
	/* A frame from a group source MAC: macswap drops it, as it was read. */
	p = trf_uq_buf(&uq, 2);
	fill(p, 60, 6);
	p[6] = 0x01;
	trf_uq_add_frame(&uq, 2, 60);
	assert_int_equal(uq.nframes, 1);
	trf_ut_end_batch(ut);
	assert_int_equal(recycled, 2);
	assert_int_equal(fx->queues[0].stats.drops[TRF_DROP_TRUNCATED], 1);
	assert_int_equal(fx->queues[0].stats.drops[TRF_DROP_SRC_NOT_UNICAST], 1);

	assert_int_equal(trf_engine_capture_drain(&fx->eng, collect, &s), 2);
	check_frame(&s, 0, 0, TRF_DROP_TRUNCATED, 256, 5);
	assert_int_equal(s.c[1].reason, TRF_DROP_SRC_NOT_UNICAST);
	assert_int_equal(s.c[1].len, 60);
	assert_memory_equal(s.c[1].data, p, 60);
	free(ut);
	fixture_free(fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wrap_around),
		cmocka_unit_test(test_full_ring),
		cmocka_unit_test(test_limit_window),
		cmocka_unit_test(test_limit_counts),
		cmocka_unit_test(test_vnet_header_skipped),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_off),
		cmocka_unit_test(test_uring_drops_captured),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
