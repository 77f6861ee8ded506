// SPDX-License-Identifier: MIT
/*
 * --search: the ceiling, then the NDR (no loss), the PDR (at most
 * --pdr-loss) and any --goal: by MLRsearch (RFC 9971, mlr.c: every goal in
 * one search, short trials first) or by bisection (each rate judged by the
 * majority of up to --repeats trials, --steps steps per goal).  Every trial
 * is traced and recorded.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>

#include "ready.h"
#include "tapgen.h"

/*
 * Does `rate` pass with loss <= allowed?  Up to --repeats trials, stopping as
 * soon as a majority agrees: one sporadic loss on a noisy VM does not fail a
 * rate, and one lucky trial does not pass it.
 */
static int rate_passes(int fd, const struct gen_opts *o, struct search_trace *tr, double rate,
		       double allowed, uint64_t *seq, struct trial *t, FILE *trace,
		       const char *what, unsigned int step)
{
	unsigned int pass = 0, fail = 0, need = o->repeats / 2 + 1;

	while (pass < need && fail < need) {
		if (tapgen_run_trial(fd, o, rate, o->duration, seq, t) < 0)
			return -EINTR;
		if (tapgen_loss_ratio(t) <= allowed)
			pass++;
		else
			fail++;
		tapgen_trace_add(tr, what, step, t, tapgen_loss_ratio(t) <= allowed);
		fprintf(trace,
			"tapgen: %s step %u: %9.0f pps offered %9.0f, loss %.4f%% -> %s (%u/%u)\n",
			what, step, rate, (double)t->st.sent / t->elapsed,
			tapgen_loss_ratio(t) * 100,
			tapgen_loss_ratio(t) <= allowed ? "pass" : "fail", pass, pass + fail);
		fflush(trace);
	}
	return pass >= need;
}

/* Binary search between lo (known good, may be 0) and hi for the highest passing rate. */
static int search_rate(int fd, const struct gen_opts *o, struct search_trace *tr, double lo,
		       double hi, double allowed, uint64_t *seq, struct trial *t, FILE *trace,
		       const char *what, double *found)
{
	for (unsigned int step = 1; step <= o->steps; step++) {
		double mid = (lo + hi) / 2;
		int ok = rate_passes(fd, o, tr, mid, allowed, seq, t, trace, what, step);

		if (ok < 0)
			return ok;
		if (ok)
			lo = mid;
		else
			hi = mid;
	}
	*found = lo;
	return 0;
}

void tapgen_trace_add(struct search_trace *tr, const char *phase, unsigned int step,
		      const struct trial *t, bool pass)
{
	struct search_point *p;

	if (!tr || tr->n >= SEARCH_TRACE_MAX)
		return;
	p = &tr->pt[tr->n++];
	p->phase = phase;
	p->step = step;
	p->rate = t->rate;
	p->offered = t->elapsed > 0 ? (double)t->st.sent / t->elapsed : 0;
	p->loss = tapgen_loss_ratio(t);
	p->duration = t->duration;
	p->sent = t->st.sent;
	p->lost = t->st.sent - t->st.unique;
	p->pass = pass;
}

json_t *tapgen_json_trace(const struct search_trace *tr)
{
	json_t *trace = json_array();

	for (unsigned int i = 0; i < tr->n; i++) {
		const struct search_point *p = &tr->pt[i];
		json_t *o = json_object();

		json_object_set_new(o, "phase", json_string(p->phase));
		json_object_set_new(o, "step", json_integer(p->step));
		json_object_set_new(o, "rate_target", trf_json_fixed(p->rate, 3));
		json_object_set_new(o, "offered_pps", trf_json_whole(p->offered));
		/* Nine decimals: one frame lost in a million still reads as a loss. */
		json_object_set_new(o, "loss_ratio", trf_json_fixed(p->loss, 9));
		json_object_set_new(o, "sent", trf_json_count(p->sent));
		json_object_set_new(o, "lost", trf_json_count(p->lost));
		json_object_set_new(o, "duration_s", trf_json_fixed(p->duration, 3));
		json_object_set_new(o, "pass", json_boolean(p->pass));
		json_array_append_new(trace, o);
	}
	return trace;
}

/* The bisection, NDR then PDR from the NDR up: the record's fields. */
static int search_binary(int fd, const struct gen_opts *o, struct search_trace *tr, double ceiling,
			 uint64_t *seq, struct trial *t, FILE *trace, json_t *rec)
{
	double ndr = 0, pdr = 0;
	int ret = search_rate(fd, o, tr, 0, ceiling, 0, seq, t, trace, "NDR", &ndr);

	if (ret == 0)
		ret = search_rate(fd, o, tr, ndr, ceiling, o->pdr_loss, seq, t, trace, "PDR", &pdr);
	if (ret < 0)
		return ret;
	fprintf(trace,
		"tapgen: NDR %.0f pps (no loss), PDR %.0f pps (loss <= %.2f%%), ceiling %.0f pps, "
		"%u steps, majority of %u trials of %.1f s per rate\n",
		ndr, pdr, o->pdr_loss * 100, ceiling, o->steps, o->repeats, o->duration);
	json_object_set_new(rec, "ndr_pps", trf_json_whole(ndr));
	json_object_set_new(rec, "pdr_pps", trf_json_whole(pdr));
	json_object_set_new(rec, "steps", json_integer(o->steps));
	json_object_set_new(rec, "repeats", json_integer(o->repeats));
	json_object_set_new(rec, "complete", json_true());
	return 0;
}

/* What an MLRsearch trial needs to run, trace and record itself. */
struct mlr_ctx {
	int fd;
	const struct gen_opts *o;
	uint64_t *seq;
	struct trial *t;
	FILE *trace;
	struct search_trace *tr;
	unsigned int shortfalls; /* trials that sent less than their load */
};

/* A trial that sent under its load by more than this share did not offer it. */
#define SHORTFALL 0.001

static const char *const class_names[] = {
	[MLR_UNDECIDED] = "undecided",
	[MLR_LOWER] = "lower bound",
	[MLR_UPPER] = "upper bound",
};

static int mlr_measure(struct mlr_search *s, struct mlr_trial *mt, void *ctx)
{
	struct mlr_ctx *c = ctx;
	const struct mlr_goal *g = &s->goals[mt->goal];
	struct mlr_goal pg;
	unsigned int phases = mlr_phases(g);

	const struct gen_stats *st = &c->t->st;
	double intended;
	bool short_sent;

	if (tapgen_run_trial(c->fd, c->o, mt->load, mt->duration, c->seq, c->t) < 0)
		return -EINTR;
	mt->offered = c->t->elapsed > 0 ? (double)st->sent / c->t->elapsed : 0;
	mt->loss_ratio = tapgen_loss_ratio(c->t);
	/*
	 * The load is the intended one: a generator that fell short of it (by
	 * more than the last burst's worth, 0.1 %) did not offer it, and the
	 * frames it did not send count as lost.  Otherwise a load never
	 * offered could pass.
	 */
	intended = mt->load * c->t->elapsed;
	short_sent = (double)st->sent < intended * (1 - SHORTFALL);
	if (short_sent) {
		mt->loss_ratio = 1 - (double)st->unique / intended;
		c->shortfalls++;
	}
	tapgen_trace_add(c->tr, g->name, mt->phase + 1, c->t, mt->loss_ratio <= g->loss_ratio);
	if (short_sent && c->tr->n) {
		struct search_point *p = &c->tr->pt[c->tr->n - 1];

		p->loss = mt->loss_ratio;
		p->lost = (uint64_t)floor(intended - (double)st->unique + 0.5);
	}
	/* What the load is now, for the goal and phase that asked (this trial counted: n + 1). */
	mlr_phase_goal(g, mt->phase, &pg);
	fprintf(c->trace,
		"tapgen: %s phase %u/%u (%.2f s, width %.2f%%): %9.0f pps offered %9.0f, loss "
		"%.4f%%%s -> %s\n",
		g->name, mt->phase + 1, phases, mt->duration, mlr_phase_width(g, mt->phase) * 100,
		mt->load, mt->offered, mt->loss_ratio * 100, short_sent ? " (unsent counted)" : "",
		class_names[mlr_classify(s->trials, s->n + 1, mt->load, &pg)]);
	fflush(c->trace);
	return 0;
}

/* A load as the trace has it (to 1/1000 pps, as mlr.c rounds them), or null for none. */
static json_t *json_pps_or_null(double pps)
{
	return pps > 0 ? trf_json_fixed(pps, 3) : json_null();
}

/* One goal's result as a line: its bounds, or what made it irregular. */
static void print_goal(FILE *f, const struct mlr_search *s, unsigned int i)
{
	const struct mlr_goal *g = &s->goals[i];
	const struct mlr_result *r = &s->result[i];

	fprintf(f, "tapgen: %s (loss <= %g%%): ", g->name, g->loss_ratio * 100);
	if (r->regular)
		fprintf(f,
			"relevant lower bound %.0f pps, upper %.0f pps (width %.2f%%), "
			"conditional throughput %.0f pps",
			r->lower, r->upper, (r->upper - r->lower) / r->upper * 100,
			r->conditional_throughput);
	else if (r->lower && !r->upper && r->lower >= s->max_load)
		fprintf(f,
			"irregular: the ceiling %.0f pps is a lower bound (no upper bound), "
			"conditional throughput %.0f pps",
			r->lower, r->conditional_throughput);
	else if (r->upper && !r->lower && r->upper <= s->min_load)
		fprintf(
		    f,
		    "irregular: even the minimum load %.0f pps is an upper bound (no lower bound)",
		    r->upper);
	else {
		char lo[32] = "none", up[32] = "none";

		if (r->lower)
			snprintf(lo, sizeof(lo), "%.0f pps", r->lower);
		if (r->upper)
			snprintf(up, sizeof(up), "%.0f pps", r->upper);
		fprintf(f, "irregular: relevant lower bound %s, upper %s", lo, up);
	}
	fprintf(f, "%s\n", r->complete ? "" : " (incomplete: the search was cut short)");
}

static int search_mlr(int fd, const struct gen_opts *o, struct search_trace *tr, double ceiling,
		      uint64_t *seq, struct trial *t, FILE *trace, json_t *rec)
{
	static struct mlr_search s; /* large: not on the stack */
	static char names[MLR_GOALS_MAX][32];
	struct mlr_goal goals[MLR_GOALS_MAX];
	struct mlr_ctx ctx = { .fd = fd, .o = o, .seq = seq, .t = t, .trace = trace, .tr = tr };
	json_t *jgoals = json_array();
	double traffic = 0;
	bool complete = true;
	int ret;

	if (ceiling < 2) {
		fprintf(stderr, "tapgen: a ceiling of %.1f pps leaves no load to search\n",
			ceiling);
		json_decref(jgoals);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < 2 + o->goals; i++) {
		goals[i] = (struct mlr_goal){
			.name = i == 0	 ? "NDR"
				: i == 1 ? "PDR"
					 : names[i],
			.loss_ratio = i == 0   ? 0
				      : i == 1 ? o->pdr_loss
					       : o->goal_loss[i - 2],
			.exceed_ratio = o->exceed_ratio,
			.final_duration = o->duration,
			.duration_sum = o->duration_sum,
			.width = o->width,
			.initial_duration = o->initial_duration,
		};
		if (i >= 2)
			snprintf(names[i], sizeof(names[i]), "loss<=%g", o->goal_loss[i - 2]);
	}
	s = (struct mlr_search){ .min_load = fmax(1, floor(ceiling / 1000)),
				 .max_load = floor(ceiling),
				 .goals = goals,
				 .n_goals = 2 + o->goals,
				 .measure = mlr_measure,
				 .ctx = &ctx };
	ret = mlr_run(&s);
	for (unsigned int i = 0; i < s.n; i++)
		traffic += s.trials[i].duration;
	for (unsigned int i = 0; i < s.n_goals; i++) {
		const struct mlr_result *r = &s.result[i];
		json_t *jg = json_object();

		print_goal(trace, &s, i);
		complete = complete && r->complete;
		json_object_set_new(jg, "name", json_string(goals[i].name));
		json_object_set_new(jg, "loss_ratio", trf_json_fixed(goals[i].loss_ratio, 6));
		json_object_set_new(jg, "exceed_ratio", trf_json_fixed(goals[i].exceed_ratio, 4));
		json_object_set_new(jg, "final_trial_duration_s",
				    trf_json_fixed(goals[i].final_duration, 3));
		json_object_set_new(jg, "duration_sum_s", trf_json_fixed(goals[i].duration_sum, 3));
		json_object_set_new(jg, "width", trf_json_fixed(goals[i].width, 6));
		json_object_set_new(jg, "initial_trial_duration_s",
				    trf_json_fixed(goals[i].initial_duration, 3));
		json_object_set_new(jg, "relevant_lower_bound_pps", json_pps_or_null(r->lower));
		json_object_set_new(jg, "relevant_upper_bound_pps", json_pps_or_null(r->upper));
		json_object_set_new(jg, "conditional_throughput_pps",
				    r->lower ? trf_json_fixed(r->conditional_throughput, 3)
					     : json_null());
		json_object_set_new(jg, "regular", json_boolean(r->regular));
		json_object_set_new(jg, "complete", json_boolean(r->complete));
		json_array_append_new(jgoals, jg);
	}
	fprintf(trace,
		"tapgen: NDR %.0f pps, PDR %.0f pps (relevant lower bounds), ceiling %.0f pps: "
		"MLRsearch, %u trials, %.1f s of traffic; exceed ratio %g, final trials %.2f s, "
		"duration sum %.2f s, width %.2f%%%s\n",
		s.result[0].lower, s.result[1].lower, ceiling, s.n, traffic, o->exceed_ratio,
		o->duration, o->duration_sum, o->width * 100, complete ? "" : " (incomplete)");
	if (ctx.shortfalls)
		fprintf(
		    trace,
		    "tapgen: %u trial(s) sent under their load by more than %.1f%%: what they did "
		    "not send counted as lost (the generator could not offer those loads)\n",
		    ctx.shortfalls, SHORTFALL * 100);
	json_object_set_new(rec, "ndr_pps", trf_json_fixed(s.result[0].lower, 3));
	json_object_set_new(rec, "pdr_pps", trf_json_fixed(s.result[1].lower, 3));
	json_object_set_new(rec, "complete", json_boolean(complete));
	json_object_set_new(rec, "trials", json_integer(s.n));
	json_object_set_new(rec, "shortfalls", json_integer(ctx.shortfalls));
	json_object_set_new(rec, "traffic_s", trf_json_fixed(traffic, 3));
	json_object_set_new(rec, "goals", jgoals);
	return ret;
}

int tapgen_search(int fd, const struct gen_opts *o, uint64_t *seq, struct trial *t, FILE *trace,
		  FILE *json)
{
	static struct search_trace tr; /* large: not on the stack */
	double ceiling = o->max_rate;
	uint64_t start = tapgen_now_ns();
	json_t *rec = tapgen_record("search");
	bool mlr = o->search_method == TAPGEN_SEARCH_MLR;
	int ret;

	tr.n = 0;
	if (ceiling <= 0) {
		if (tapgen_run_trial(fd, o, 0, o->duration, seq, t) < 0) {
			json_decref(rec);
			return -EINTR;
		}
		ceiling = (double)t->st.sent / t->elapsed;
		tapgen_trace_add(&tr, "ceiling", 0, t, tapgen_loss_ratio(t) <= 0);
		fprintf(trace,
			"tapgen: ceiling: unlimited trial offered %.0f pps, reflected %.0f pps\n",
			ceiling, (double)t->st.unique / t->elapsed);
	}
	json_object_set_new(rec, "method", json_string(mlr ? "mlr" : "binary"));
	json_object_set_new(rec, "flows", json_integer(o->flows));
	json_object_set_new(rec, "payload", json_integer(o->payload));
	/* Every trial of the search sends the mix; its rates are frames/s of it. */
	if (o->imix)
		json_object_set_new(rec, "imix", json_string(o->imix->spec));
	ret = mlr ? search_mlr(fd, o, &tr, ceiling, seq, t, trace, rec)
		  : search_binary(fd, o, &tr, ceiling, seq, t, trace, rec);
	/* An interrupted bisection has no result to speak of; MLRsearch says what it had. */
	if (ret < 0 && (!mlr || ret != -EINTR)) {
		json_decref(rec);
		return ret;
	}
	json_object_set_new(rec, "pdr_loss", trf_json_fixed(o->pdr_loss, 4));
	json_object_set_new(rec, "ceiling_pps", trf_json_whole(ceiling));
	json_object_set_new(rec, "trial_s", trf_json_fixed(o->duration, 2));
	json_object_set_new(rec, "wall_s",
			    trf_json_fixed((double)(tapgen_now_ns() - start) / 1e9, 3));
	json_object_set_new(rec, "trace", tapgen_json_trace(&tr));
	if (json)
		trf_json_write(json, rec);
	else
		json_decref(rec);
	return ret;
}
