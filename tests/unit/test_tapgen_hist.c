// SPDX-License-Identifier: MIT
/*
 * tapgen's RTT histogram (tools/tapgen/hist.h): on 2.5 million values of a
 * known distribution (a lognormal body and a Pareto tail, 1 us to 10 s),
 * every percentile from p0 to p100, p99.999 included, is within the
 * header's 1/2048 of the exact nearest-rank value found by sorting; and the
 * edges: empty, one value, the bounds of each power of two, the overflow,
 * reset.  Then what the trial report makes of it: the text line, rtt_us and
 * the rtt_hist_us bins.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hist.h"
#include "tapgen.h"

#define SAMPLES 2500000 /* 25 values above p99.999 */
#define BOUND (1.0 / 2048) /* hist.h's proven bound; under the 0.1 % asked for */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* splitmix64: deterministic, so a failure is the same on every run. */
static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in (0, 1]. */
static double rng_unit(void)
{
	return ((double)(rng_next() >> 11) + 1) / 9007199254740992.0;
}

/*
 * 99 % lognormal around 30 us (sigma 0.8), 1 % Pareto from 200 us with
 * alpha 0.7 cut at 10 s (p99.9 ~ 5 ms, p99.99 ~ 0.14 s, p99.999 ~ 2 s), from 1 us.
 */
static uint64_t rtt_sample(void)
{
	double v;

	if (rng_next() % 100 != 0) {
		double z = sqrt(-2 * log(rng_unit())) * cos(2 * M_PI * rng_unit());

		v = 30e3 * exp(0.8 * z);
	} else {
		do
			v = 200e3 / pow(rng_unit(), 1 / 0.7);
		while (v > 10e9);
	}
	return v < 1e3 ? 1000 : (uint64_t)v;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double rel_error(uint64_t got, uint64_t want)
{
	return fabs((double)got - (double)want) / (double)want;
}

/* The exact nearest-rank percentile num/den of n sorted values, in integers. */
static uint64_t exact_percentile(const uint64_t *sorted, uint64_t n, uint64_t num, uint64_t den)
{
	uint64_t rank = (num * n + den - 1) / den;

	return sorted[rank ? rank - 1 : 0];
}

static void distribution_percentiles(void **state)
{
	static const struct {
		double p;
		uint64_t num, den;
	} ps[] = {
		{ 50, 1, 2 },	     { 90, 9, 10 },	     { 99, 99, 100 },
		{ 99.9, 999, 1000 }, { 99.99, 9999, 10000 }, { 99.999, 99999, 100000 },
	};
	struct tapgen_hist *h = tapgen_hist_create();
	uint64_t *v = malloc(SAMPLES * sizeof(*v));
	double worst = 0;

	(void)state;
	assert_non_null(h);
	assert_non_null(v);
	for (size_t i = 0; i < SAMPLES; i++) {
		v[i] = rtt_sample();
		tapgen_hist_record(h, v[i]);
	}
	qsort(v, SAMPLES, sizeof(*v), cmp_u64);
	assert_int_equal(tapgen_hist_count(h), SAMPLES);
	assert_int_equal(tapgen_hist_min(h), v[0]);
	assert_int_equal(tapgen_hist_max(h), v[SAMPLES - 1]);
	/* The distribution reaches where it should: the tail's percentiles are many magnitudes up. */
	assert_true(v[SAMPLES / 2] > 20000 && v[SAMPLES / 2] < 40000);
	assert_true(exact_percentile(v, SAMPLES, 99999, 100000) > 1000000000);
	assert_true(v[SAMPLES - 1] > 5000000000ull);

	for (size_t k = 0; k < sizeof(ps) / sizeof(ps[0]); k++) {
		uint64_t want = exact_percentile(v, SAMPLES, ps[k].num, ps[k].den);
		uint64_t got = tapgen_hist_percentile(h, ps[k].p);

		printf("p%-7g exact %12llu ns, histogram %12llu ns, error %.4f %%\n", ps[k].p,
		       (unsigned long long)want, (unsigned long long)got,
		       100 * rel_error(got, want));
		if (rel_error(got, want) > BOUND)
			fail_msg("p%g: %llu ns, exact %llu ns: error %.4f %% over %.4f %%", ps[k].p,
				 (unsigned long long)got, (unsigned long long)want,
				 100 * rel_error(got, want), 100 * BOUND);
	}
	/* And every 0.01 % from p0 to p100 (rank at least 1, at most n). */
	for (unsigned int q = 0; q <= 10000; q++) {
		uint64_t want = exact_percentile(v, SAMPLES, q, 10000);
		uint64_t got = tapgen_hist_percentile(h, q / 100.0);

		if (rel_error(got, want) > worst)
			worst = rel_error(got, want);
		if (rel_error(got, want) > BOUND)
			fail_msg("p%g: %llu ns, exact %llu ns", q / 100.0, (unsigned long long)got,
				 (unsigned long long)want);
	}
	printf("worst error over p0..p100 by 0.01: %.4f %% (bound %.4f %%)\n", 100 * worst,
	       100 * BOUND);
	assert_int_equal(tapgen_hist_percentile(h, 0), v[0]);
	assert_int_equal(tapgen_hist_percentile(h, 100), v[SAMPLES - 1]);
	free(v);
	tapgen_hist_destroy(h);
}

/* The iterator: every value counted once, in order, each bucket holding what it reports. */
static void iterate_counts_everything(void **state)
{
	struct tapgen_hist *h = tapgen_hist_create();
	struct tapgen_hist_bucket b;
	uint64_t total = 0, last = 0;
	size_t pos = 0, buckets = 0;

	(void)state;
	assert_non_null(h);
	for (size_t i = 0; i < 200000; i++)
		tapgen_hist_record(h, rtt_sample());
	while (tapgen_hist_next(h, &pos, &b)) {
		assert_true(b.count > 0);
		assert_true(b.lo <= b.value && b.value < b.hi);
		assert_true(b.value >= last);
		assert_true(b.lo >= last);
		last = b.value;
		total += b.count;
		buckets++;
	}
	assert_int_equal(total, 200000);
	assert_true(buckets > 1000);
	assert_false(tapgen_hist_next(h, &pos, &b)); /* done stays done */
	tapgen_hist_destroy(h);
}

static void empty(void **state)
{
	struct tapgen_hist *h = tapgen_hist_create();
	struct tapgen_hist_bucket b;
	size_t pos = 0;

	(void)state;
	assert_non_null(h);
	assert_int_equal(tapgen_hist_count(h), 0);
	assert_int_equal(tapgen_hist_min(h), 0);
	assert_int_equal(tapgen_hist_max(h), 0);
	assert_int_equal(tapgen_hist_percentile(h, 0), 0);
	assert_int_equal(tapgen_hist_percentile(h, 50), 0);
	assert_int_equal(tapgen_hist_percentile(h, 100), 0);
	assert_false(tapgen_hist_next(h, &pos, &b));
	tapgen_hist_destroy(h);
	tapgen_hist_destroy(NULL);
}

/* One value: every percentile is that value, exactly (clamped to min = max). */
static void single_value(void **state)
{
	static const uint64_t values[] = { 0, 1, 2047, 2049, 123456789, TAPGEN_HIST_LIMIT_NS - 1 };
	struct tapgen_hist *h = tapgen_hist_create();

	(void)state;
	assert_non_null(h);
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		tapgen_hist_reset(h);
		tapgen_hist_record(h, values[i]);
		assert_int_equal(tapgen_hist_count(h), 1);
		assert_int_equal(tapgen_hist_min(h), values[i]);
		assert_int_equal(tapgen_hist_max(h), values[i]);
		assert_int_equal(tapgen_hist_percentile(h, 0), values[i]);
		assert_int_equal(tapgen_hist_percentile(h, 50), values[i]);
		assert_int_equal(tapgen_hist_percentile(h, 99.999), values[i]);
		assert_int_equal(tapgen_hist_percentile(h, 100), values[i]);
	}
	tapgen_hist_destroy(h);
}

/* The one bucket of a histogram holding v alone. */
static struct tapgen_hist_bucket bucket_of(struct tapgen_hist *h, uint64_t v)
{
	struct tapgen_hist_bucket b;
	size_t pos = 0;

	tapgen_hist_reset(h);
	tapgen_hist_record(h, v);
	assert_true(tapgen_hist_next(h, &pos, &b));
	assert_false(tapgen_hist_next(h, &pos, &(struct tapgen_hist_bucket){ 0 }));
	return b;
}

/*
 * At 2^k - 1, 2^k, 2^k + 1: below 2^11 one bucket per value; from 2^11 on,
 * 2^k starts a bucket of width 2^(k-10), which 2^k - 1 is just past the end
 * of; and a percentile in a bucket that is not clamped reports its midpoint.
 */
static void power_of_two_bounds(void **state)
{
	struct tapgen_hist *h = tapgen_hist_create();

	(void)state;
	assert_non_null(h);
	for (unsigned int k = 1; k < TAPGEN_HIST_TOP_BITS; k++) {
		uint64_t p2 = 1ull << k, w = k < TAPGEN_HIST_SUB_BITS ? 1 : 1ull << (k - 10);
		uint64_t wbelow = k <= TAPGEN_HIST_SUB_BITS ? 1 : 1ull << (k - 11);
		struct tapgen_hist_bucket at = bucket_of(h, p2), below = bucket_of(h, p2 - 1),
					  above = bucket_of(h, p2 + 1);

		assert_int_equal(tapgen_hist_index(p2), tapgen_hist_index(p2 - 1) + 1);
		assert_int_equal(at.lo, p2);
		assert_int_equal(at.hi - at.lo, w);
		assert_int_equal(below.hi, p2);
		assert_int_equal(below.hi - below.lo, wbelow);
		if (w > 1) {
			assert_int_equal(tapgen_hist_index(p2 + 1), tapgen_hist_index(p2));
			assert_int_equal(above.lo, p2);
		} else {
			assert_int_equal(above.lo, p2 + 1);
		}
		/* Two values far apart: p0 is 2^k's bucket's midpoint, not clamped away. */
		tapgen_hist_reset(h);
		tapgen_hist_record(h, p2);
		tapgen_hist_record(h, p2 * 4);
		assert_int_equal(tapgen_hist_percentile(h, 0), p2 + w / 2);
		assert_true(rel_error(tapgen_hist_percentile(h, 0), p2) <= BOUND);
		assert_int_equal(tapgen_hist_percentile(h, 50), p2 + w / 2);
		assert_int_equal(tapgen_hist_percentile(h, 51), p2 * 4);
	}
	/* Every value below 2^11 is its own bucket. */
	for (uint64_t v = 0; v < 2048; v++)
		assert_int_equal(tapgen_hist_index(v), v);
	/* The index never skips and never goes back; the last value below the limit is the last bucket. */
	for (uint64_t v = 0; v < (1u << 22); v++) {
		unsigned int d = tapgen_hist_index(v + 1) - tapgen_hist_index(v);

		if (d > 1)
			fail_msg("index(%llu) = %u, index(%llu) = %u", (unsigned long long)v,
				 tapgen_hist_index(v), (unsigned long long)v + 1,
				 tapgen_hist_index(v + 1));
	}
	assert_int_equal(tapgen_hist_index(TAPGEN_HIST_LIMIT_NS - 1), TAPGEN_HIST_BUCKETS - 1);
	assert_true(TAPGEN_HIST_LIMIT_NS >= 60000000000ull); /* 60 s at least */
	tapgen_hist_destroy(h);
}

/* From 2^36 ns on, values count in the overflow, which percentiles report as the max. */
static void overflow(void **state)
{
	struct tapgen_hist *h = tapgen_hist_create();
	struct tapgen_hist_bucket b;
	size_t pos = 0;

	(void)state;
	assert_non_null(h);
	for (int i = 0; i < 8; i++)
		tapgen_hist_record(h, 1000000);
	tapgen_hist_record(h, TAPGEN_HIST_LIMIT_NS - 1); /* the last bucket, not the overflow */
	tapgen_hist_record(h, TAPGEN_HIST_LIMIT_NS);
	tapgen_hist_record(h, UINT64_MAX);
	assert_int_equal(tapgen_hist_count(h), 11);
	assert_int_equal(tapgen_hist_max(h), UINT64_MAX);
	assert_true(rel_error(tapgen_hist_percentile(h, 50), 1000000) <= BOUND);
	assert_true(rel_error(tapgen_hist_percentile(h, 9 / 11.0 * 100),
			      TAPGEN_HIST_LIMIT_NS - 1) <= BOUND);
	assert_int_equal(tapgen_hist_percentile(h, 10 / 11.0 * 100), UINT64_MAX);
	assert_int_equal(tapgen_hist_percentile(h, 100), UINT64_MAX);
	assert_true(tapgen_hist_next(h, &pos, &b));
	assert_int_equal(b.count, 8);
	assert_true(tapgen_hist_next(h, &pos, &b));
	assert_int_equal(b.count, 1);
	assert_int_equal(b.hi, TAPGEN_HIST_LIMIT_NS);
	assert_true(tapgen_hist_next(h, &pos, &b));
	assert_int_equal(b.lo, TAPGEN_HIST_LIMIT_NS);
	assert_int_equal(b.count, 2);
	assert_int_equal(b.value, UINT64_MAX);
	assert_false(tapgen_hist_next(h, &pos, &b));
	tapgen_hist_destroy(h);
}

static void reset(void **state)
{
	struct tapgen_hist *h = tapgen_hist_create();
	struct tapgen_hist_bucket b;
	size_t pos = 0;

	(void)state;
	assert_non_null(h);
	for (size_t i = 0; i < 1000; i++)
		tapgen_hist_record(h, rtt_sample());
	tapgen_hist_record(h, UINT64_MAX);
	tapgen_hist_reset(h);
	assert_int_equal(tapgen_hist_count(h), 0);
	assert_int_equal(tapgen_hist_min(h), 0);
	assert_int_equal(tapgen_hist_max(h), 0);
	assert_int_equal(tapgen_hist_percentile(h, 99), 0);
	assert_false(tapgen_hist_next(h, &pos, &b));
	/* Nothing of before is left: neither min, max, nor a bucket. */
	tapgen_hist_record(h, 5000);
	assert_int_equal(tapgen_hist_min(h), 5000);
	assert_int_equal(tapgen_hist_max(h), 5000);
	assert_int_equal(tapgen_hist_percentile(h, 100), 5000);
	pos = 0;
	assert_true(tapgen_hist_next(h, &pos, &b));
	assert_int_equal(b.count, 1);
	assert_false(tapgen_hist_next(h, &pos, &b));
	tapgen_hist_destroy(h);
}

/*
 * A trial's report: the text line has every percentile in order, rtt_us has
 * p9999 and p99999, and rtt_hist_us bins every reply once, in the edges of
 * before, going past 200 ms to the largest RTT (the overflow's bin).
 */
static void trial_report(void **state)
{
	/* ns: the bins [0, 1), [1, 2), [12, 15), [50, 60), [250000, 300000), the overflow's. */
	static const uint64_t rtts[] = {
		500, 600, 700, 1500, 12345, 49990, 250000000, 100000000000ull,
	};
	struct gen_opts o = { .flows = 1, .payload = 18, .traffic = &tapgen_udp };
	struct trial t = { .rate = 1000, .elapsed = 1 };
	double v[8];
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	json_t *rec = json_object(), *rtt, *bins;
	char *dump;

	(void)state;
	t.st.rtt = tapgen_hist_create();
	assert_non_null(t.st.rtt);
	for (size_t i = 0; i < sizeof(rtts) / sizeof(rtts[0]); i++)
		tapgen_hist_record(t.st.rtt, rtts[i]);
	t.st.sent = t.st.received = t.st.unique = sizeof(rtts) / sizeof(rtts[0]);

	f = open_memstream(&text, &len);
	assert_non_null(f);
	tapgen_print_trial(f, &o, &t);
	fclose(f);
	printf("%s", text);
	assert_non_null(strstr(text, "\ntapgen: rtt us: "));
	assert_int_equal(
	    sscanf(strstr(text, "\ntapgen: rtt us: ") + 1,
		   "tapgen: rtt us: min %lf p50 %lf p90 %lf p99 %lf p99.9 %lf p99.99 %lf "
		   "p99.999 %lf max %lf\n",
		   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]),
	    8);
	assert_true(v[0] == 0.5 && v[7] == 100000000.0);
	for (int i = 1; i < 8; i++)
		assert_true(v[i] >= v[i - 1]);
	free(text);

	tapgen_json_trial(rec, &o, &t);
	rtt = json_object_get(rec, "rtt_us");
	assert_non_null(rtt);
	assert_true(json_number_value(json_object_get(rtt, "min")) == 0.5);
	assert_true(json_number_value(json_object_get(rtt, "p50")) == 1.5);
	assert_true(json_number_value(json_object_get(rtt, "p9999")) == 100000000.0);
	assert_true(json_number_value(json_object_get(rtt, "p99999")) == 100000000.0);
	assert_true(json_number_value(json_object_get(rtt, "max")) == 100000000.0);
	assert_int_equal(json_object_size(rtt), 8);
	bins = json_object_get(rec, "rtt_hist_us");
	dump = json_dumps(bins, JSON_COMPACT);
	printf("rtt_hist_us %s\n", dump);
	/*
	 * 49990 ns is in the bucket [49984, 50016), counted at its midpoint:
	 * the bin beside the reply's own, as the bins' comment allows.
	 */
	assert_string_equal(dump, "[[0,1,3],[1,2,1],[12,15,1],[50,60,1],[250000,300000,1],"
				  "[100000000,120000000,1]]");
	free(dump);
	json_decref(rec);
	tapgen_hist_destroy(t.st.rtt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(distribution_percentiles),
		cmocka_unit_test(iterate_counts_everything),
		cmocka_unit_test(empty),
		cmocka_unit_test(single_value),
		cmocka_unit_test(power_of_two_bounds),
		cmocka_unit_test(overflow),
		cmocka_unit_test(reset),
		cmocka_unit_test(trial_report),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
