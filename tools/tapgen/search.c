// SPDX-License-Identifier: MIT
/*
 * NDR/PDR: a binary search for the highest rate that passes with no loss
 * (NDR) or with at most --pdr-loss (PDR), each rate judged by the majority of
 * up to --repeats trials.
 */
#include <errno.h>

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
int tapgen_search_rate(int fd, const struct gen_opts *o, struct search_trace *tr, double lo,
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
		json_object_set_new(o, "rate_target", trf_json_whole(p->rate));
		json_object_set_new(o, "offered_pps", trf_json_whole(p->offered));
		json_object_set_new(o, "loss_ratio", trf_json_fixed(p->loss, 6));
		json_object_set_new(o, "pass", json_boolean(p->pass));
		json_array_append_new(trace, o);
	}
	return trace;
}
