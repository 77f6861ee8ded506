// SPDX-License-Identifier: MIT
/*
 * --capture-drops: dropped frames handed from the workers to one consumer
 * (the tool's pcap writer), off the data path.
 *
 * Each queue has a single-producer single-consumer byte ring: its worker
 * thread is the only producer, and one consumer thread at a time drains every
 * queue's ring (trf_engine_capture_drain).  A record is a header (struct
 * cap_rec) and the frame's bytes, padded to 8 bytes; records never wrap: one
 * that does not fit before the end of the ring is preceded by a pad record
 * (or by nothing, where not even a header fits) and starts at offset 0.
 * head and tail count bytes ever published and freed: the producer writes a
 * record, then publishes head with release; the consumer reads head with
 * acquire, hands the record over, then frees it by advancing tail with
 * release, which the producer reads with acquire before it reuses the room.
 *
 * Nothing here runs for a frame that is written back: trf_capture_frame() is
 * called only in a drop branch, and only where the queue has a ring.  It
 * never waits: a frame over --capture-limit counts capture_limited, one that
 * finds its ring full capture_full, so that every dropped frame is either
 * handed over or counted as not captured.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* A record's len that says: nothing more before the end of the ring, go on at offset 0. */
#define CAP_PAD UINT32_MAX

struct cap_rec {
	uint32_t len; /* bytes of the frame that follow, or CAP_PAD */
	uint16_t reason; /* index into drops[] */
	uint16_t queue;
	int64_t sec; /* CLOCK_REALTIME */
	int64_t nsec;
};

_Static_assert(sizeof(struct cap_rec) % 8 == 0, "records stay 8-byte aligned");
_Static_assert(TRF_MAX_QUEUES <= UINT16_MAX + 1, "a queue's number fits a record");
_Static_assert(TRF_STAT_DROPS <= UINT16_MAX, "a drop reason fits a record");
_Static_assert(2 * (sizeof(struct cap_rec) + TRF_MAX_FRAME_SIZE) <= TRF_MIN_CAPTURE_QUEUE_BYTES,
	       "the smallest ring holds two of the largest frames");

struct trf_capture_ring {
	/* The producer's line: the queue's worker thread writes these. */
	uint64_t head; /* bytes ever published (release) */
	uint64_t tail_seen; /* tail as the producer last read it */
	/* The consumer's line. */
	uint64_t tail __attribute__((aligned(TRF_CACHELINE))); /* bytes ever freed (release) */
	/* Set at setup, then only read. */
	uint64_t size __attribute__((aligned(TRF_CACHELINE))); /* of data[], a power of two */
	size_t alloc; /* bytes allocated, this header included */
	int node;
	uint8_t data[] __attribute__((aligned(TRF_CACHELINE)));
};

static inline uint64_t align8(uint64_t n)
{
	return (n + 7) & ~(uint64_t)7;
}

int trf_capture_queue_setup(struct trf_queue *q, int node, struct trf_err *err)
{
	uint64_t size = q->cfg->capture_queue_bytes;
	size_t alloc = offsetof(struct trf_capture_ring, data) + size;
	struct trf_capture_ring *r;

	if (!q->cfg->capture_limit)
		return 0;
	/* trf_config_validate() holds the user to a useful size; a ring needs a power of two. */
	if (size < 2 * sizeof(struct cap_rec) || (size & (size - 1)))
		return trf_errf(err, -EINVAL, "capture queue of %" PRIu64 " B: not a power of two",
				size);
	r = trf_mem_alloc(alloc, node);
	if (!r)
		return trf_errf(err, -ENOMEM, "cannot allocate a %" PRIu64 " KiB capture queue",
				size >> 10);
	r->size = size;
	r->alloc = alloc;
	r->node = node;
	q->cap = r;
	return 0;
}

void trf_capture_queue_free(struct trf_queue *q)
{
	if (!q->cap)
		return;
	trf_mem_free(q->cap, q->cap->alloc, q->cap->node);
	q->cap = NULL;
}

bool trf_capture_admit(struct trf_engine *eng, uint32_t sec)
{
	uint32_t limit = eng->cfg.capture_limit;
	uint64_t w = __atomic_load_n(&eng->cap_window, __ATOMIC_RELAXED), next;

	/* Lock-free: a worker that loses the race looks again, nobody waits. */
	do {
		if (sec > (uint32_t)(w >> 32))
			next = (uint64_t)sec << 32 | 1; /* a new second: its first frame */
		else if ((uint32_t)w >= limit)
			return false;
		else
			next = w + 1;
	} while (!__atomic_compare_exchange_n(&eng->cap_window, &w, next, true, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	return true;
}

void trf_capture_frame(struct trf_queue *q, const uint8_t *data, uint32_t len, unsigned int reason)
{
	struct trf_capture_ring *r = q->cap;
	uint32_t skip = q->cfg->reflect.vnet_hdr ? TRF_VNET_HDR_LEN : 0;
	uint64_t head = __atomic_load_n(&r->head, __ATOMIC_RELAXED), at, contig, need, total;
	struct timespec ts;
	struct cap_rec rec;

	/* The coarse clock is the vDSO's last tick: no syscall, and a second is all it must tell. */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	if (!trf_capture_admit(q->eng, (uint32_t)ts.tv_sec)) {
		TRF_STAT_ADD(&q->stats, capture_limited, 1);
		return;
	}
	/* What the kernel's header says is not the frame's: the capture holds the frame only. */
	skip = len < skip ? len : skip;
	data += skip;
	len -= skip;
	need = sizeof(rec) + align8(len);
	at = head & (r->size - 1);
	contig = r->size - at;
	/* A record that does not fit before the end starts again at 0: the rest is skipped. */
	total = contig < need ? contig + need : need;
	if (head + total - r->tail_seen > r->size) {
		r->tail_seen = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
		if (head + total - r->tail_seen > r->size) {
			TRF_STAT_ADD(&q->stats, capture_full, 1);
			return;
		}
	}
	if (contig < need) {
		/* Where not even a header fits, the consumer skips to 0 as well, unasked. */
		if (contig >= sizeof(rec)) {
			rec = (struct cap_rec){ .len = CAP_PAD };
			memcpy(r->data + at, &rec, sizeof(rec));
		}
		head += contig;
		at = 0;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	rec = (struct cap_rec){
		.len = len,
		.reason = (uint16_t)reason,
		.queue = (uint16_t)q->index,
		.sec = ts.tv_sec,
		.nsec = ts.tv_nsec,
	};
	memcpy(r->data + at, &rec, sizeof(rec));
	memcpy(r->data + at + sizeof(rec), data, len);
	__atomic_store_n(&r->head, head + need, __ATOMIC_RELEASE);
}

/*
 * Every record published so far (up to max), oldest first; each one's room is
 * freed once fn returns.
 */
static int drain_ring(struct trf_capture_ring *r, trf_capture_fn fn, void *arg, int max)
{
	uint64_t tail = __atomic_load_n(&r->tail, __ATOMIC_RELAXED);
	uint64_t head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
	int n = 0;

	while (tail < head && n < max) {
		uint64_t at = tail & (r->size - 1), contig = r->size - at;
		struct trf_captured c;
		struct cap_rec rec;

		if (contig < sizeof(rec)) {
			tail += contig;
			continue;
		}
		memcpy(&rec, r->data + at, sizeof(rec));
		if (rec.len == CAP_PAD) {
			tail += contig;
			continue;
		}
		/*
		 * The producer wrote it whole, before the end of the ring and of
		 * what it published; anything else would be a bug here, and the
		 * ring is given up rather than read past a record.
		 */
		if (rec.len > contig - sizeof(rec) || sizeof(rec) + rec.len > head - tail) {
			tail = head;
			break;
		}
		c = (struct trf_captured){
			.queue = rec.queue,
			.reason = rec.reason,
			.ts = { .tv_sec = (time_t)rec.sec, .tv_nsec = (long)rec.nsec },
			.data = r->data + at + sizeof(rec),
			.len = rec.len,
		};
		fn(arg, &c);
		n++;
		tail += sizeof(rec) + align8(rec.len);
		/* Freed at once: a worker dropping frames meanwhile finds the room. */
		__atomic_store_n(&r->tail, tail, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&r->tail, tail, __ATOMIC_RELEASE);
	return n;
}

int trf_engine_capture_drain(struct trf_engine *eng, trf_capture_fn fn, void *arg)
{
	int n = 0;

	if (!eng->cfg.capture_limit || !eng->queues)
		return 0;
	for (unsigned int q = 0; q < eng->nqueues; q++)
		if (eng->queues[q].cap)
			n += drain_ring(eng->queues[q].cap, fn, arg, INT_MAX - n);
	return n;
}
