/* SPDX-License-Identifier: MIT */
/*
 * A log-linear (HDR-style) histogram of nanosecond values: tapgen's RTTs,
 * with percentiles to p99.999 of known precision whatever the rate.
 *
 * Layout: values below 2^11 = 2048 ns have a bucket each (exact).  Above,
 * each power of two [2^k, 2^(k+1)), k = 11..35, is split into 1024 linear
 * buckets of width w = 2^(k-10) ns.  Values from 2^36 ns (68.7 s) on count
 * in one overflow bucket, which percentiles report as the largest value
 * recorded.  That is 2048 + 25 x 1024 = 27648 buckets of uint64_t: 216 KiB,
 * allocated once, whatever the rate or the duration.
 *
 * Error bound: a value v >= 2048 ns lies in a bucket [lo, lo + w) with
 * lo >= 1024 w, reported as its midpoint lo + w/2, so |mid - v| <= w/2 and
 * |mid - v| / v <= (w/2) / (1024 w) = 1/2048 < 0.049 %; below 2048 ns the
 * value itself is reported.  A nearest-rank percentile is the value in the
 * first bucket whose cumulative count reaches the rank, so it has the same
 * bound (clamping to [min, max] only brings it closer), overflow excepted.
 *
 * One writer, no locking: the histogram belongs to the thread that records.
 */
#ifndef TRF_TAPGEN_HIST_H
#define TRF_TAPGEN_HIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TAPGEN_HIST_SUB_BITS 11 /* 2^11 exact values, then 2^10 buckets per power of two */
#define TAPGEN_HIST_TOP_BITS 36 /* values below 2^36 ns (68.7 s) have a bucket */
#define TAPGEN_HIST_HALF (1u << (TAPGEN_HIST_SUB_BITS - 1))
#define TAPGEN_HIST_BUCKETS ((TAPGEN_HIST_TOP_BITS - TAPGEN_HIST_SUB_BITS + 2) * TAPGEN_HIST_HALF)
#define TAPGEN_HIST_LIMIT_NS (1ull << TAPGEN_HIST_TOP_BITS) /* from here on: the overflow */

struct tapgen_hist {
	uint64_t count; /* values recorded, the overflow's included */
	uint64_t min, max; /* of them: UINT64_MAX and 0 while empty */
	uint64_t overflow; /* values >= TAPGEN_HIST_LIMIT_NS */
	uint64_t bucket[TAPGEN_HIST_BUCKETS];
};

_Static_assert(TAPGEN_HIST_BUCKETS == 27648, "the size the header comment states");

/* One bucket as the iterator gives it: lo <= v < hi, `value` what a percentile reports. */
struct tapgen_hist_bucket {
	uint64_t lo, hi; /* the overflow: TAPGEN_HIST_LIMIT_NS, UINT64_MAX */
	uint64_t value; /* the midpoint clamped to [min, max]; the overflow: max */
	uint64_t count;
};

/* A histogram, empty; NULL when out of memory.  destroy takes NULL. */
struct tapgen_hist *tapgen_hist_create(void);
void tapgen_hist_destroy(struct tapgen_hist *h);
void tapgen_hist_reset(struct tapgen_hist *h);

/*
 * The bucket of v < TAPGEN_HIST_LIMIT_NS: below 2^11 the value itself; else,
 * with 2^t <= v < 2^(t+1), shift = t - 10 keeps v's 11 top bits (1024..2047),
 * and each power of two takes the next 1024 indexes.  `v | 1` spares clz its
 * undefined 0; the shift is clamped at 0, not looped for.
 */
static inline unsigned int tapgen_hist_index(uint64_t v)
{
	int top = 63 - __builtin_clzll(v | 1);
	int shift = top - (TAPGEN_HIST_SUB_BITS - 1);

	shift = shift > 0 ? shift : 0;
	return ((unsigned int)shift << (TAPGEN_HIST_SUB_BITS - 1)) + (unsigned int)(v >> shift);
}

/* Count one value (ns): called per reply, so inline, O(1), no loop. */
static inline void tapgen_hist_record(struct tapgen_hist *h, uint64_t v)
{
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->count++;
	if (__builtin_expect(v >= TAPGEN_HIST_LIMIT_NS, 0))
		h->overflow++;
	else
		h->bucket[tapgen_hist_index(v)]++;
}

static inline uint64_t tapgen_hist_count(const struct tapgen_hist *h)
{
	return h->count;
}

/* The smallest and largest value recorded, exact; 0 while empty. */
static inline uint64_t tapgen_hist_min(const struct tapgen_hist *h)
{
	return h->count ? h->min : 0;
}

static inline uint64_t tapgen_hist_max(const struct tapgen_hist *h)
{
	return h->max;
}

/*
 * Percentile p (0..100) in ns, nearest rank: of n values, the one of rank
 * ceil(p/100 n) (at least 1), as the midpoint of its bucket clamped to
 * [min, max]; within 1/2048 of it (header comment), the overflow's being
 * reported as max.  0 while empty.
 */
uint64_t tapgen_hist_percentile(const struct tapgen_hist *h, double p);

/*
 * The nonzero buckets in increasing order, the overflow last: start with
 * *pos = 0, and each call fills *b and returns true until there are no more.
 * Their `value`s never decrease, so bins of any coarser edges can be
 * gathered in one pass.
 */
bool tapgen_hist_next(const struct tapgen_hist *h, size_t *pos, struct tapgen_hist_bucket *b);

#endif
