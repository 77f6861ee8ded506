/* SPDX-License-Identifier: MIT */
/*
 * MLRsearch (RFC 9971): the loads of several loss-ratio goals found in one
 * search, short trials first and full-length ones to confirm.  Pure logic:
 * trials are asked of a measure() callback, so the search can be driven by
 * simulated trials (tests/unit/test_mlr.c) as well as by tapgen's
 * (search.c).
 *
 * What RFC 9971 specifies is here as it says: a goal's inputs (struct
 * mlr_goal), how the trials at one load classify it for a goal (upper
 * bound, lower bound or undecided: mlr_classify), the relevant bounds and
 * the conditional throughput (mlr_result).  Which load to measure next is
 * left to implementations; ours, in mlr.c: phases of trials growing from the
 * goal's initial duration to its final one, each phase narrowing the bounds
 * to a width twice the next phase's, by expansion (no bound yet) and then
 * bisection, undecided loads measured again before new ones.
 */
#ifndef TRF_TAPGEN_MLR_H
#define TRF_TAPGEN_MLR_H

#include <stdbool.h>

#define MLR_GOALS_MAX 8
#define MLR_TRIALS_MAX 400

/* A Search Goal. */
struct mlr_goal {
	const char *name; /* for the trace and the records: "NDR", "PDR", ... */
	double loss_ratio; /* Goal Loss Ratio: a trial above it is bad */
	double exceed_ratio; /* Goal Exceed Ratio: the share of bad trial time tolerated, 0..1 */
	double final_duration; /* Goal Final Trial Duration, s: full-length trials */
	double duration_sum; /* Goal Duration Sum, s: full-length time that decides a load */
	double width; /* Goal Width: (upper - lower) / upper at which the search stops */
	double initial_duration; /* Goal Initial Trial Duration, s: the first phase's */
};

/* One trial: asked at load for duration, answered with its loss ratio. */
struct mlr_trial {
	double load; /* Trial Load (intended), frames/s */
	double duration; /* Trial Duration, s (the intended one is the effective one here) */
	double loss_ratio; /* Trial Loss Ratio */
	double offered; /* what the generator managed to send, frames/s: for the trace */
	unsigned int goal; /* the goal whose phase asked for it */
	unsigned int phase; /* that goal's phase, 0 .. mlr_phases(goal) - 1 (the last is final) */
};

enum mlr_class {
	MLR_UNDECIDED,
	MLR_LOWER, /* a lower bound: good even if every missing trial time were bad */
	MLR_UPPER, /* an upper bound: bad even if every missing trial time were good */
};

/*
 * One goal's Goal Result (RFC 9971, 4.8.4).  Regular: both relevant bounds,
 * no wider apart than the goal's width.  Irregular otherwise, with what was
 * found: max_load a lower bound (lower = max_load, no upper), or min_load an
 * upper bound (upper = min_load, no lower).
 */
struct mlr_result {
	double lower; /* Relevant Lower Bound, frames/s; 0: none */
	double upper; /* Relevant Upper Bound; 0: none */
	double conditional_throughput; /* at the relevant lower bound; 0 with no lower bound */
	bool regular;
	/*
	 * Its final phase has nothing left to measure: the result is final.
	 * False when the trial limit or an interruption came first.
	 */
	bool complete;
};

struct mlr_search;

/*
 * Measure t->load for t->duration s: set t->loss_ratio and t->offered.
 * Returns 0, or a negative errno to end the search (interrupted).
 */
typedef int (*mlr_measure_fn)(struct mlr_search *s, struct mlr_trial *t, void *ctx);

struct mlr_search {
	/* Set by the caller. */
	double min_load, max_load; /* frames/s, 0 < min_load < max_load */
	const struct mlr_goal *goals;
	unsigned int n_goals; /* 1 .. MLR_GOALS_MAX */
	unsigned int max_trials; /* 0 or above MLR_TRIALS_MAX: MLR_TRIALS_MAX */
	mlr_measure_fn measure;
	void *ctx;
	/* Set by mlr_run(): every trial in order, and each goal's result. */
	unsigned int n;
	struct mlr_trial trials[MLR_TRIALS_MAX];
	struct mlr_result result[MLR_GOALS_MAX];
};

/* A goal's inputs that cannot be searched for: a message, or NULL when it is fine. */
const char *mlr_goal_invalid(const struct mlr_goal *g);

/* The goal's phases (the last one final), and phase i's trial duration and width. */
unsigned int mlr_phases(const struct mlr_goal *g);
double mlr_phase_duration(const struct mlr_goal *g, unsigned int i);
double mlr_phase_width(const struct mlr_goal *g, unsigned int i);

/*
 * The goal phase i judges loads by: an intermediate phase by its own trial
 * duration, one such trial deciding a load; the final phase by the goal.
 */
void mlr_phase_goal(const struct mlr_goal *g, unsigned int i, struct mlr_goal *out);

/*
 * How the n trials (those at `load` among them) classify load for a goal
 * with these loss ratio, exceed ratio, final trial duration and duration
 * sum: RFC 9971's load classification.
 */
enum mlr_class mlr_classify(const struct mlr_trial *trials, unsigned int n, double load,
			    const struct mlr_goal *g);

/* The conditional throughput at load for goal g from the trials there (0: no trial). */
double mlr_conditional_throughput(const struct mlr_trial *trials, unsigned int n, double load,
				  const struct mlr_goal *g);

/* The goal's relevant bounds and conditional throughput from the trials so far. */
void mlr_goal_result(const struct mlr_search *s, unsigned int goal, struct mlr_result *r);

/*
 * Search: every goal's phases in turn, the first phase of all goals before
 * the second, then the final phases again until none measures anything
 * (another goal's trials may have changed a goal's loads); results in
 * s->result.  Returns 0 (a result may still be incomplete: the trial
 * limit), or the negative number measure() returned, with the results so
 * far set.
 */
int mlr_run(struct mlr_search *s);

#endif
