// SPDX-License-Identifier: MIT
/*
 * MLRsearch (tools/tapgen/mlr.c) against RFC 9971's load classification and
 * conditional throughput worked by hand, and whole searches driven by
 * simulated trials: a device that forwards up to T frames/s and loses the
 * excess, with or without noise (the odd bad trial below T).
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mlr.h"

static const struct mlr_goal ndr = { .name = "NDR",
				     .loss_ratio = 0,
				     .exceed_ratio = 0.5,
				     .final_duration = 1,
				     .duration_sum = 3,
				     .width = 0.005,
				     .initial_duration = 0.1 };

static struct mlr_trial trial(double load, double duration, double loss)
{
	return (struct mlr_trial){ .load = load, .duration = duration, .loss_ratio = loss };
}

static void classify_full_length(void **state)
{
	struct mlr_trial t[4] = { 0 };

	(void)state;
	/* Nothing measured: undecided. */
	assert_int_equal(mlr_classify(t, 0, 1000, &ndr), MLR_UNDECIDED);
	/* One good second of three: 2 s missing could all be bad, 2 > 1.5. */
	t[0] = trial(1000, 1, 0);
	assert_int_equal(mlr_classify(t, 1, 1000, &ndr), MLR_UNDECIDED);
	/* Two good: 1 s missing, 1 <= 1.5. */
	t[1] = trial(1000, 1, 0);
	assert_int_equal(mlr_classify(t, 2, 1000, &ndr), MLR_LOWER);
	/* Trials at another load say nothing about this one. */
	assert_int_equal(mlr_classify(t, 2, 999, &ndr), MLR_UNDECIDED);
	/* One bad of three seconds: 1 <= 1.5, and 1 s missing: still undecided. */
	t[0] = trial(1000, 1, 0.01);
	assert_int_equal(mlr_classify(t, 2, 1000, &ndr), MLR_UNDECIDED);
	/* Two bad: 2 > 1.5 whatever the third does. */
	t[1] = trial(1000, 1, 0.01);
	assert_int_equal(mlr_classify(t, 2, 1000, &ndr), MLR_UPPER);
	/* Two good and two bad: 2 of 4 bad is not more than half: a lower bound. */
	t[2] = trial(1000, 1, 0);
	t[3] = trial(1000, 1, 0);
	assert_int_equal(mlr_classify(t, 4, 1000, &ndr), MLR_LOWER);
	/* A loss at the goal's ratio is not above it: good. */
	struct mlr_goal pdr = ndr;
	pdr.loss_ratio = 0.01;
	assert_int_equal(mlr_classify(t, 2, 1000, &pdr), MLR_LOWER);
}

static void classify_exceed_zero(void **state)
{
	struct mlr_goal g = ndr;
	struct mlr_trial t[4] = { trial(5, 1, 0), trial(5, 1, 0), trial(5, 1, 0),
				  trial(5, 1, 1e-6) };

	(void)state;
	g.exceed_ratio = 0;
	/* No bad time tolerated: three good seconds decide, one bad one too. */
	assert_int_equal(mlr_classify(t, 2, 5, &g), MLR_UNDECIDED);
	assert_int_equal(mlr_classify(t, 3, 5, &g), MLR_LOWER);
	assert_int_equal(mlr_classify(t, 4, 5, &g), MLR_UPPER);
}

static void classify_short_trials(void **state)
{
	struct mlr_trial t[12];

	(void)state;
	/* Short trials alone never make a lower bound: no full-length time. */
	for (int i = 0; i < 10; i++)
		t[i] = trial(1000, 0.1, 0);
	assert_int_equal(mlr_classify(t, 10, 1000, &ndr), MLR_UNDECIDED);
	/* Two good full-length seconds do; the short ones change nothing. */
	t[10] = trial(1000, 1, 0);
	t[11] = trial(1000, 1, 0);
	assert_int_equal(mlr_classify(t, 12, 1000, &ndr), MLR_LOWER);
	/*
	 * Bad short time beyond what the good short time balances counts as
	 * bad: 1.0 s bad, 0.4 s good balances 0.4 (exceed 0.5), 0.6 s counts;
	 * with one bad full-length second 1.6 > 1.5: an upper bound.
	 */
	for (int i = 0; i < 10; i++)
		t[i] = trial(1000, 0.1, i < 4 ? 0 : 0.5);
	for (int i = 4; i < 10; i++)
		t[i].duration = 1.0 / 6;
	t[10] = trial(1000, 1, 0.5);
	assert_int_equal(mlr_classify(t, 11, 1000, &ndr), MLR_UPPER);
	/* Balanced exactly (as much good short time as bad): only the long second counts. */
	for (int i = 0; i < 10; i++)
		t[i] = trial(1000, 0.1, i < 5 ? 0 : 0.5);
	assert_int_equal(mlr_classify(t, 11, 1000, &ndr), MLR_UNDECIDED);
	/*
	 * Where balancing decides: 1 s bad full-length, 0.6 s bad and 0.4 s
	 * good short.  Unbalanced, 1.6 s bad > 1.5: an upper bound; the good
	 * 0.4 s excuses 0.4 of the bad, 1.2 <= 1.5: undecided.
	 */
	for (int i = 0; i < 10; i++)
		t[i] = trial(1000, 0.1, i < 4 ? 0 : 0.5);
	assert_int_equal(mlr_classify(t, 11, 1000, &ndr), MLR_UNDECIDED);
}

static void classify_balancing_exceed(void **state)
{
	struct mlr_goal g = ndr;
	struct mlr_trial t[4] = { trial(7, 0.5, 0.1), trial(7, 0.9, 0.1), trial(7, 0.4, 0),
				  trial(7, 0.4, 0) };

	(void)state;
	/*
	 * Exceed ratio 0.2: a quantile of 0.2 x 3 s = 0.6 s, and good short
	 * time excuses bad short time at 0.2 / 0.8 = 1/4 of itself.  Here 0.5 s
	 * bad full-length (final 0.5 s), 0.9 s bad and 2 x 0.4 s good short: 0.8
	 * excuses 0.2, 0.5 + 0.7 = 1.2 > 0.6: an upper bound.  Excusing it all
	 * (a factor of 1) would give 0.5 + 0.1 = 0.6: not one.
	 */
	g.exceed_ratio = 0.2;
	g.final_duration = 0.5;
	assert_int_equal(mlr_classify(t, 4, 7, &g), MLR_UPPER);
	/* With the bad short time at 0.2 + 0.1, 0.5 + 0.1 = 0.6 is not above the quantile. */
	t[1].duration = 0.3;
	assert_int_equal(mlr_classify(t, 4, 7, &g), MLR_UNDECIDED);
}

static void conditional_throughput(void **state)
{
	struct mlr_trial t[3] = { trial(1000, 1, 0.01), trial(1000, 1, 0), trial(1000, 1, 0.001) };

	(void)state;
	/*
	 * Sorted by loss: 0, 0.001, 0.01.  Half of the 3 s sum is 1.5 s: the
	 * first second leaves 0.5, the second trial's loss is the quantile.
	 */
	assert_float_equal(mlr_conditional_throughput(t, 3, 1000, &ndr), 999, 1e-9);
	/* One second of three: the missing time counts as total loss. */
	assert_float_equal(mlr_conditional_throughput(&t[1], 1, 1000, &ndr), 0, 1e-9);
	/* Two good seconds: 1.5 s reached within them. */
	t[0].loss_ratio = 0;
	assert_float_equal(mlr_conditional_throughput(t, 2, 1000, &ndr), 1000, 1e-9);
	/* No trial at the load. */
	assert_float_equal(mlr_conditional_throughput(t, 3, 2000, &ndr), 0, 1e-9);
}

static void phases(void **state)
{
	struct mlr_goal g = ndr;

	(void)state;
	/* 0.1 s to 1 s: x10, at most x4 a phase: 0.1, 0.316, 1; widths 2 %, 1 %, 0.5 %. */
	assert_int_equal(mlr_phases(&g), 3);
	assert_float_equal(mlr_phase_duration(&g, 0), 0.1, 1e-12);
	assert_float_equal(mlr_phase_duration(&g, 1), sqrt(0.1), 1e-12);
	assert_float_equal(mlr_phase_duration(&g, 2), 1, 1e-12);
	assert_float_equal(mlr_phase_width(&g, 0), 0.02, 1e-12);
	assert_float_equal(mlr_phase_width(&g, 2), 0.005, 1e-12);
	g.initial_duration = 0.25; /* x4 exactly: one step */
	assert_int_equal(mlr_phases(&g), 2);
	g.initial_duration = 1;
	assert_int_equal(mlr_phases(&g), 1);
	assert_float_equal(mlr_phase_duration(&g, 0), 1, 1e-12);
}

static void goal_validation(void **state)
{
	/* One input out of range at a time: each is refused. */
	static const struct {
		size_t offset;
		double value;
	} bad[] = {
		{ offsetof(struct mlr_goal, loss_ratio), 1 },
		{ offsetof(struct mlr_goal, loss_ratio), -0.1 },
		{ offsetof(struct mlr_goal, exceed_ratio), 1 },
		{ offsetof(struct mlr_goal, duration_sum), 0.5 },
		{ offsetof(struct mlr_goal, width), 0 },
		{ offsetof(struct mlr_goal, width), 1 },
		{ offsetof(struct mlr_goal, final_duration), 0 },
		{ offsetof(struct mlr_goal, initial_duration), 2 },
		{ offsetof(struct mlr_goal, initial_duration), 0 },
	};

	(void)state;
	assert_null(mlr_goal_invalid(&ndr));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mlr_goal g = ndr;

		memcpy((char *)&g + bad[i].offset, &bad[i].value, sizeof(double));
		assert_non_null(mlr_goal_invalid(&g));
	}
}

/* A device that forwards up to `capacity` frames/s; with noise, the odd trial below loses a little. */
struct device {
	double capacity;
	double noise; /* share of trials below capacity that lose 0.1 % */
	double lucky; /* share of trials less than 1 % above capacity that lose nothing */
	uint64_t rng;
	int fail_at; /* measure() returns -EINTR at this trial (from 1), 0: never */
	unsigned int calls;
};

static double uniform(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return (double)(*x >> 11) / 9007199254740992.0;
}

static int measure(struct mlr_search *s, struct mlr_trial *t, void *ctx)
{
	struct device *d = ctx;

	(void)s;
	if (d->fail_at && (int)++d->calls == d->fail_at)
		return -EINTR;
	t->loss_ratio = t->load > d->capacity ? 1 - d->capacity / t->load : 0;
	if (t->load <= d->capacity && uniform(&d->rng) < d->noise)
		t->loss_ratio = 0.001;
	if (t->load > d->capacity && t->load < d->capacity * 1.01 && uniform(&d->rng) < d->lucky)
		t->loss_ratio = 0;
	t->offered = t->load;
	return 0;
}

static struct mlr_search search;

static void run(struct device *d, const struct mlr_goal *goals, unsigned int n)
{
	memset(&search, 0, sizeof(search));
	search.min_load = 1000;
	search.max_load = 200000;
	search.goals = goals;
	search.n_goals = n;
	search.measure = measure;
	search.ctx = d;
	assert_int_equal(mlr_run(&search), 0);
}

/* The search's outcome for a goal whose answer is `truth`: within the width, below it. */
static void assert_brackets(const struct mlr_result *r, const struct mlr_goal *g, double truth)
{
	assert_true(r->complete);
	assert_true(r->regular);
	assert_true(r->lower <= truth);
	assert_true(r->upper > truth);
	assert_true((r->upper - r->lower) / r->upper <= g->width + 1e-12);
}

static void search_noiseless(void **state)
{
	static const double capacities[] = { 123456, 180000, 77777, 190000, 1500 };
	struct mlr_goal goals[2] = { ndr, ndr };

	(void)state;
	goals[1].name = "PDR";
	goals[1].loss_ratio = 0.005;
	for (unsigned int c = 0; c < sizeof(capacities) / sizeof(capacities[0]); c++) {
		struct device d = { .capacity = capacities[c] };
		unsigned int full = 0;

		run(&d, goals, 2);
		assert_brackets(&search.result[0], &goals[0], d.capacity);
		/* The PDR's load loses 0.5 % at most: capacity / (1 - 0.005). */
		assert_brackets(&search.result[1], &goals[1], d.capacity / 0.995);
		/* At the NDR's lower bound nothing was lost: its conditional throughput is the load. */
		assert_float_equal(search.result[0].conditional_throughput, search.result[0].lower,
				   1e-6);
		/* Short trials first, the final ones full-length, and most of the work short. */
		assert_float_equal(search.trials[0].duration, 0.1, 1e-12);
		assert_float_equal(search.trials[0].load, 200000, 1e-9);
		for (unsigned int i = 0; i < search.n; i++)
			full += search.trials[i].duration >= 1;
		assert_float_equal(search.trials[search.n - 1].duration, 1, 1e-12);
		assert_true(full < search.n);
		/* Every trial is recorded with the goal and phase that asked for it. */
		for (unsigned int i = 0; i < search.n; i++) {
			const struct mlr_trial *t = &search.trials[i];

			assert_true(t->goal < 2);
			assert_true(t->phase < 3);
			assert_float_equal(t->duration,
					   mlr_phase_duration(&goals[t->goal], t->phase), 1e-12);
		}
	}
}

static void search_goals_share_trials(void **state)
{
	struct mlr_goal goals[2] = { ndr, ndr };
	struct device d = { .capacity = 80000 };
	unsigned int both, one;

	(void)state;
	goals[1].loss_ratio = 0.005;
	run(&d, goals, 2);
	both = search.n;
	run(&d, &goals[0], 1);
	one = search.n;
	run(&d, &goals[1], 1);
	one += search.n;
	/* One search for both goals needs fewer trials than one for each. */
	assert_true(both < one);
}

static void search_noisy(void **state)
{
	struct mlr_goal goals[2] = { ndr, ndr };

	(void)state;
	goals[1].loss_ratio = 0.005;
	for (uint64_t seed = 1; seed <= 20; seed++) {
		struct device d = { .capacity = 150000, .noise = 0.2, .rng = seed * 0x9e3779b9ull };

		run(&d, goals, 2);
		/* Every trial above capacity loses: no lower bound can be there. */
		assert_true(search.result[0].lower <= 150000);
		assert_true(search.result[0].complete);
		assert_true(search.result[0].upper > search.result[0].lower);
		/* Noise of 0.1 % passes the PDR: it still brackets the truth. */
		assert_brackets(&search.result[1], &goals[1], 150000 / 0.995);
		/* The exceed ratio keeps an unlucky trial from sinking the NDR far. */
		assert_true(search.result[0].lower >= 150000 * 0.9);
	}
	/*
	 * Many noisy searches: every goal's result regular and within its
	 * width, however later goals' trials changed an earlier goal's loads
	 * (the final phases run again until none has anything to measure).
	 */
	for (uint64_t seed = 1; seed <= 400; seed++) {
		struct device d = { .capacity = 40000 + 250 * (double)seed,
				    .noise = 0.3,
				    .lucky = 0.3,
				    .rng = seed * 0x2545f4914f6cdd1dull };

		run(&d, goals, 2);
		for (unsigned int g = 0; g < 2; g++) {
			const struct mlr_result *r = &search.result[g];

			assert_true(r->complete);
			assert_true(r->regular);
			assert_true((r->upper - r->lower) / r->upper <= goals[g].width + 1e-12);
		}
	}
}

static void search_irregular(void **state)
{
	struct device d = { .capacity = 500000 };

	(void)state;
	/* The device takes max_load: its lower bound, no upper one. */
	run(&d, &ndr, 1);
	assert_true(search.result[0].complete);
	assert_false(search.result[0].regular);
	assert_float_equal(search.result[0].lower, 200000, 1e-9);
	assert_float_equal(search.result[0].upper, 0, 1e-9);
	/* It takes less than min_load: an upper bound there, no lower one. */
	d.capacity = 500;
	run(&d, &ndr, 1);
	assert_true(search.result[0].complete);
	assert_false(search.result[0].regular);
	assert_float_equal(search.result[0].lower, 0, 1e-9);
	assert_float_equal(search.result[0].upper, 1000, 1e-9);
	assert_float_equal(search.result[0].conditional_throughput, 0, 1e-9);
}

static void search_cut_short(void **state)
{
	struct device d = { .capacity = 100000 };

	(void)state;
	memset(&search, 0, sizeof(search));
	search.min_load = 1000;
	search.max_load = 200000;
	search.goals = &ndr;
	search.n_goals = 1;
	search.measure = measure;
	search.ctx = &d;
	search.max_trials = 5;
	assert_int_equal(mlr_run(&search), 0);
	assert_int_equal(search.n, 5);
	assert_false(search.result[0].complete);
	/* Interrupted at the third trial: two recorded, the error passed on. */
	d.fail_at = 3;
	search.max_trials = 0;
	assert_int_equal(mlr_run(&search), -EINTR);
	assert_int_equal(search.n, 2);
	assert_false(search.result[0].complete);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(classify_full_length),
		cmocka_unit_test(classify_exceed_zero),
		cmocka_unit_test(classify_short_trials),
		cmocka_unit_test(classify_balancing_exceed),
		cmocka_unit_test(conditional_throughput),
		cmocka_unit_test(phases),
		cmocka_unit_test(goal_validation),
		cmocka_unit_test(search_noiseless),
		cmocka_unit_test(search_goals_share_trials),
		cmocka_unit_test(search_noisy),
		cmocka_unit_test(search_irregular),
		cmocka_unit_test(search_cut_short),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
