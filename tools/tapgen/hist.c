// SPDX-License-Identifier: MIT
/* The log-linear histogram of hist.h: its buckets' bounds, percentiles, iteration. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"

struct tapgen_hist *tapgen_hist_create(void)
{
	struct tapgen_hist *h = malloc(sizeof(*h));

	if (h)
		tapgen_hist_reset(h);
	return h;
}

void tapgen_hist_destroy(struct tapgen_hist *h)
{
	free(h);
}

void tapgen_hist_reset(struct tapgen_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

/* Bucket i holds lo <= v < lo + width: the inverse of tapgen_hist_index(). */
static void bucket_bounds(unsigned int i, uint64_t *lo, uint64_t *width)
{
	unsigned int shift;

	if (i < 2 * TAPGEN_HIST_HALF) {
		*lo = i;
		*width = 1;
		return;
	}
	shift = (i >> (TAPGEN_HIST_SUB_BITS - 1)) - 1;
	*lo = (uint64_t)(i - (shift << (TAPGEN_HIST_SUB_BITS - 1))) << shift;
	*width = 1ull << shift;
}

static uint64_t clamp(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* What a percentile falling in bucket i reports: its midpoint, within [min, max]. */
static uint64_t bucket_value(const struct tapgen_hist *h, unsigned int i)
{
	uint64_t lo, width;

	bucket_bounds(i, &lo, &width);
	return clamp(lo + width / 2, h->min, h->max);
}

/*
 * ceil(p/100 n), where p/100 n that is a whole number but for the rounding
 * of p's binary form counts as that number: 99.999 % of 100000 values is
 * rank 99999, where a bare ceil() of 99999.00000000001 would say 100000.
 * The product is off by a few ulps at most; 8 of them are let go.
 */
static uint64_t nearest_rank(double p, uint64_t n)
{
	double r = p / 100.0 * (double)n, whole = floor(r);
	uint64_t rank;

	if (r - whole <= whole * 8 * DBL_EPSILON)
		r = whole;
	if (r <= 1)
		return 1;
	rank = (uint64_t)ceil(r);
	return rank < n ? rank : n;
}

uint64_t tapgen_hist_percentile(const struct tapgen_hist *h, double p)
{
	uint64_t want, acc = 0;

	if (!h->count)
		return 0;
	want = nearest_rank(p, h->count);
	for (unsigned int i = 0; i < TAPGEN_HIST_BUCKETS; i++) {
		acc += h->bucket[i];
		if (acc >= want)
			return bucket_value(h, i);
	}
	return h->max; /* in the overflow */
}

bool tapgen_hist_next(const struct tapgen_hist *h, size_t *pos, struct tapgen_hist_bucket *b)
{
	size_t i = *pos;

	while (i < TAPGEN_HIST_BUCKETS && !h->bucket[i])
		i++;
	if (i < TAPGEN_HIST_BUCKETS) {
		uint64_t width;

		bucket_bounds((unsigned int)i, &b->lo, &width);
		b->hi = b->lo + width;
		b->value = bucket_value(h, (unsigned int)i);
		b->count = h->bucket[i];
		*pos = i + 1;
		return true;
	}
	if (i == TAPGEN_HIST_BUCKETS && h->overflow) {
		*b = (struct tapgen_hist_bucket){ .lo = TAPGEN_HIST_LIMIT_NS,
						  .hi = UINT64_MAX,
						  .value = h->max,
						  .count = h->overflow };
		*pos = i + 1;
		return true;
	}
	*pos = TAPGEN_HIST_BUCKETS + 1;
	return false;
}
