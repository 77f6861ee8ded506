// SPDX-License-Identifier: MIT
/*
 * MLRsearch (RFC 9971): load classification, relevant bounds, conditional
 * throughput (as the RFC specifies them), and our choice of loads (which it
 * leaves to implementations).  See mlr.h.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>

#include "mlr.h"

/* Sums of trial time compare within this much: 0.1 + 0.2 is 0.3 here. */
#define SUM_EPS 1e-9

const char *mlr_goal_invalid(const struct mlr_goal *g)
{
	if (!(g->loss_ratio >= 0 && g->loss_ratio < 1))
		return "the loss ratio must be 0 or more and under 1";
	if (!(g->exceed_ratio >= 0 && g->exceed_ratio < 1))
		return "the exceed ratio must be 0 or more and under 1";
	if (!(g->final_duration > 0))
		return "the final trial duration must be above 0";
	if (!(g->duration_sum >= g->final_duration))
		return "the duration sum must be at least the final trial duration";
	if (!(g->width > 0 && g->width < 1))
		return "the width must be above 0 and under 1";
	if (!(g->initial_duration > 0 && g->initial_duration <= g->final_duration))
		return "the initial trial duration must be above 0 and at most the final one";
	return NULL;
}

/*
 * Phases: trial durations from the initial one to the final one, growing by
 * at most 4x a phase, and widths doubling back from the final phase's (the
 * goal's): a short phase finds the neighbourhood cheaply, the next one
 * narrows it with trials that a loss of a few milliseconds no longer
 * decides.
 */
unsigned int mlr_phases(const struct mlr_goal *g)
{
	double ratio = g->final_duration / g->initial_duration;

	if (ratio <= 1 + 1e-9)
		return 1;
	return 1 + (unsigned int)ceil(log(ratio) / log(4) - 1e-9);
}

double mlr_phase_duration(const struct mlr_goal *g, unsigned int i)
{
	unsigned int last = mlr_phases(g) - 1;

	if (i >= last)
		return g->final_duration;
	return g->initial_duration * pow(g->final_duration / g->initial_duration, (double)i / last);
}

double mlr_phase_width(const struct mlr_goal *g, unsigned int i)
{
	unsigned int last = mlr_phases(g) - 1;
	double w = g->width * pow(2, i >= last ? 0 : last - i);

	return w < 0.5 ? w : 0.5;
}

void mlr_phase_goal(const struct mlr_goal *g, unsigned int i, struct mlr_goal *out)
{
	*out = *g;
	if (i + 1 < mlr_phases(g)) {
		out->final_duration = mlr_phase_duration(g, i);
		out->duration_sum = out->final_duration;
	}
}

/* RFC 9971, appendix A: the trials at `load`, full-length and short, weighed. */
enum mlr_class mlr_classify(const struct mlr_trial *trials, unsigned int n, double load,
			    const struct mlr_goal *g)
{
	double good_long = 0, bad_long = 0, good_short = 0, bad_short = 0;
	double balancing, bad, whole, quantile;

	for (unsigned int i = 0; i < n; i++) {
		const struct mlr_trial *t = &trials[i];
		bool bad_trial = t->loss_ratio > g->loss_ratio;

		if (t->load != load)
			continue;
		if (t->duration >= g->final_duration - SUM_EPS)
			*(bad_trial ? &bad_long : &good_long) += t->duration;
		else
			*(bad_trial ? &bad_short : &good_short) += t->duration;
	}
	/* Short good trials excuse short bad ones, in the proportion the exceed ratio allows. */
	balancing = good_short * g->exceed_ratio / (1 - g->exceed_ratio);
	bad = bad_long + fmax(0, bad_short - balancing);
	whole = fmax(good_long + bad, g->duration_sum);
	quantile = whole * g->exceed_ratio;
	/* Even if all the time still missing were good, too much is bad. */
	if (bad > quantile + SUM_EPS)
		return MLR_UPPER;
	/* Even if all of it were bad, little enough is. */
	if (whole - good_long <= quantile + SUM_EPS)
		return MLR_LOWER;
	return MLR_UNDECIDED;
}

/*
 * RFC 9971, appendix B: the loss ratio at the exceed-ratio quantile of the
 * full-length trials (sorted by loss ratio, the time missing from the
 * duration sum counted as total loss), and the load that would leave.
 */
double mlr_conditional_throughput(const struct mlr_trial *trials, unsigned int n, double load,
				  const struct mlr_goal *g)
{
	const struct mlr_trial *lon[MLR_TRIALS_MAX];
	unsigned int m = 0;
	double good = 0, bad = 0, remaining, q = -1;
	bool any = false;

	for (unsigned int i = 0; i < n; i++) {
		const struct mlr_trial *t = &trials[i];

		if (t->load != load)
			continue;
		any = true;
		if (t->duration < g->final_duration - SUM_EPS || m == MLR_TRIALS_MAX)
			continue;
		*(t->loss_ratio > g->loss_ratio ? &bad : &good) += t->duration;
		/* Insertion by loss ratio: a few trials per load. */
		unsigned int j = m++;
		while (j > 0 && lon[j - 1]->loss_ratio > t->loss_ratio) {
			lon[j] = lon[j - 1];
			j--;
		}
		lon[j] = t;
	}
	if (!any)
		return 0;
	remaining = fmax(g->duration_sum, good + bad) * (1 - g->exceed_ratio);
	for (unsigned int i = 0; i < m && (q < 0 || remaining > SUM_EPS); i++) {
		q = lon[i]->loss_ratio;
		remaining -= lon[i]->duration;
	}
	if (q < 0 || remaining > SUM_EPS)
		q = 1;
	return load * (1 - q);
}

/* The loads measured so far, each once, in ascending order. */
static unsigned int distinct_loads(const struct mlr_search *s, double *loads)
{
	unsigned int m = 0;

	for (unsigned int i = 0; i < s->n; i++) {
		double x = s->trials[i].load;
		unsigned int j = 0;

		while (j < m && loads[j] < x)
			j++;
		if (j < m && loads[j] == x)
			continue;
		for (unsigned int k = m; k > j; k--)
			loads[k] = loads[k - 1];
		loads[j] = x;
		m++;
	}
	return m;
}

/*
 * The relevant bounds for goal g: the smallest upper bound, the largest lower
 * bound under it; and the undecided loads between them, the lowest and the
 * highest (0 for none).
 */
struct bounds {
	double lower, upper;
	double undecided_low, undecided_high;
};

static void bounds(const struct mlr_search *s, const struct mlr_goal *g, struct bounds *b)
{
	double loads[MLR_TRIALS_MAX];
	unsigned int m = distinct_loads(s, loads);
	enum mlr_class cls[MLR_TRIALS_MAX];

	*b = (struct bounds){ 0 };
	for (unsigned int i = 0; i < m; i++) {
		cls[i] = mlr_classify(s->trials, s->n, loads[i], g);
		if (cls[i] == MLR_UPPER && b->upper == 0)
			b->upper = loads[i];
	}
	for (unsigned int i = 0; i < m && (!b->upper || loads[i] < b->upper); i++)
		if (cls[i] == MLR_LOWER)
			b->lower = loads[i];
	for (unsigned int i = 0; i < m && (!b->upper || loads[i] < b->upper); i++) {
		if (cls[i] != MLR_UNDECIDED || loads[i] <= b->lower)
			continue;
		if (!b->undecided_low)
			b->undecided_low = loads[i];
		b->undecided_high = loads[i];
	}
}

void mlr_goal_result(const struct mlr_search *s, unsigned int goal, struct mlr_result *r)
{
	const struct mlr_goal *g = &s->goals[goal];
	struct bounds b;

	bounds(s, g, &b);
	r->lower = b.lower;
	r->upper = b.upper;
	r->conditional_throughput =
	    r->lower ? mlr_conditional_throughput(s->trials, s->n, r->lower, g) : 0;
	r->regular = r->lower && r->upper && (r->upper - r->lower) / r->upper <= g->width + 1e-12;
}

/*
 * A load as measured: rounded to 1/1000 frame per second, so that a load
 * found again is the same load, and the width can be reached at any load
 * above min_load (1 pps at least).
 */
static double load_round(double x)
{
	return floor(x * 1000 + 0.5) / 1000;
}

/*
 * The next load for goal g in a phase of this width, or 0 when the phase is
 * done.  Undecided loads between the bounds come first: with a lower bound
 * the lowest of them (the bound nearest to it settled first), with only an
 * upper bound the highest.
 * With no bound yet: the previous phase's relevant bounds (hint), else
 * max_load.  With one bound, a step away from it that doubles with each step
 * in the same direction (*expand).  With both, a load that halves the
 * interval, or (once halving would overshoot the width) one just under the
 * upper bound, which ends the phase whichever way it goes and keeps the
 * lower bound as high as the width lets it be.
 */
static double next_load(const struct mlr_search *s, const struct mlr_goal *g, double width,
			const struct bounds *hint, unsigned int *expand)
{
	struct bounds b;
	double x, r;

	bounds(s, g, &b);
	if (b.lower && b.undecided_low)
		return b.undecided_low;
	if (!b.lower && b.undecided_high && b.upper)
		return b.undecided_high;
	if (!b.lower && !b.upper) {
		if (hint->lower && mlr_classify(s->trials, s->n, hint->lower, g) == MLR_UNDECIDED)
			return hint->lower;
		if (hint->upper && mlr_classify(s->trials, s->n, hint->upper, g) == MLR_UNDECIDED)
			return hint->upper;
		return b.undecided_high ? b.undecided_high : s->max_load;
	}
	if (!b.lower) {
		double step = fmin(width * pow(2, (*expand)++), 0.5);
		double fr = b.upper;

		if (b.upper <= s->min_load)
			return 0; /* min_load fails: nothing lower to try */
		/* A failing trial's forwarding rate is a guess at the bound: never start above it. */
		for (unsigned int i = 0; i < s->n; i++)
			if (s->trials[i].load == b.upper)
				fr = fmin(fr, b.upper * (1 - s->trials[i].loss_ratio));
		x = load_round(fmax(fmin(b.upper * (1 - step), fr), s->min_load));
		return x < b.upper ? x : 0;
	}
	if (!b.upper) {
		double step = fmin(width * pow(2, (*expand)++), 0.5);

		if (b.lower >= s->max_load)
			return 0; /* max_load passes: nothing higher to try */
		x = load_round(fmin(b.lower / (1 - step), s->max_load));
		return x > b.lower ? x : 0;
	}
	*expand = 0;
	r = (b.upper - b.lower) / b.upper;
	if (r <= width + 1e-12)
		return 0;
	/* Rounded up: a pass there must leave the bounds no wider than the width. */
	x = r <= 2 * width ? ceil(b.upper * (1 - width) * 1000) / 1000
			   : load_round(sqrt(b.lower * b.upper));
	return x > b.lower && x < b.upper ? x : 0;
}

/*
 * Goal g's phase i until it has nothing left to measure: returns the trials
 * it measured; *cut when the trial limit or measure() ended it (*ret: what
 * measure() returned).
 */
static unsigned int run_phase(struct mlr_search *s, unsigned int g, unsigned int i,
			      unsigned int limit, bool *cut, int *ret)
{
	const struct mlr_goal *goal = &s->goals[g];
	unsigned int measured = 0, expand = 0;
	struct mlr_goal pg;
	struct bounds hint = { 0 };
	double x;

	mlr_phase_goal(goal, i, &pg);
	/* Where the previous phase left the bounds: where this one starts. */
	if (i > 0) {
		struct mlr_goal prev;

		mlr_phase_goal(goal, i - 1, &prev);
		bounds(s, &prev, &hint);
	}
	while ((x = next_load(s, &pg, mlr_phase_width(goal, i), &hint, &expand)) > 0) {
		struct mlr_trial *t;

		if (s->n >= limit) {
			*cut = true;
			break;
		}
		t = &s->trials[s->n];
		*t = (struct mlr_trial){
			.load = x, .duration = pg.final_duration, .goal = g, .phase = i
		};
		*ret = s->measure(s, t, s->ctx);
		if (*ret < 0) {
			*cut = true;
			break;
		}
		s->n++;
		measured++;
	}
	return measured;
}

/* Has goal g's final phase nothing left to measure: is its result final? */
static bool settled(const struct mlr_search *s, unsigned int g)
{
	const struct mlr_goal *goal = &s->goals[g];
	unsigned int last = mlr_phases(goal) - 1, expand = 0;
	struct bounds none = { 0 };
	struct mlr_goal pg;

	mlr_phase_goal(goal, last, &pg);
	return next_load(s, &pg, mlr_phase_width(goal, last), &none, &expand) == 0;
}

int mlr_run(struct mlr_search *s)
{
	unsigned int limit =
	    s->max_trials && s->max_trials < MLR_TRIALS_MAX ? s->max_trials : MLR_TRIALS_MAX;
	unsigned int phases = 0, measured;
	int ret = 0;
	bool cut = false;

	s->n = 0;
	for (unsigned int g = 0; g < s->n_goals; g++)
		if (mlr_phases(&s->goals[g]) > phases)
			phases = mlr_phases(&s->goals[g]);
	/* Aligned on the final phase: every goal's last phase comes after all the shorter ones. */
	for (unsigned int k = 0; k < phases && !cut; k++) {
		for (unsigned int g = 0; g < s->n_goals && !cut; g++) {
			unsigned int n = mlr_phases(&s->goals[g]);

			if (k + n >= phases)
				run_phase(s, g, k + n - phases, limit, &cut, &ret);
		}
	}
	/*
	 * A later goal's trials can change what an earlier goal's loads are
	 * (a second bad trial where the first was good): the final phases
	 * again, until none of them measures anything.
	 */
	do {
		measured = 0;
		for (unsigned int g = 0; g < s->n_goals && !cut; g++)
			measured +=
			    run_phase(s, g, mlr_phases(&s->goals[g]) - 1, limit, &cut, &ret);
	} while (measured && !cut);
	for (unsigned int g = 0; g < s->n_goals; g++) {
		mlr_goal_result(s, g, &s->result[g]);
		s->result[g].complete = settled(s, g);
	}
	return ret < 0 ? ret : 0;
}
