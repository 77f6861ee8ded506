// SPDX-License-Identifier: MIT
/*
 * NDR/PDR: a binary search for the highest rate that passes with no loss
 * (NDR) or with at most --pdr-loss (PDR), each rate judged by the majority of
 * up to --repeats trials.
 */
#include <errno.h>

#include "tapgen.h"

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

void tapgen_json_trace(FILE *f, const struct search_trace *tr)
{
	fputc('[', f);
	for (unsigned int i = 0; i < tr->n; i++) {
		const struct search_point *p = &tr->pt[i];

		fprintf(f,
			"%s{\"phase\":\"%s\",\"step\":%u,\"rate_target\":%.0f,\"offered_pps\":%.0f,"
			"\"loss_ratio\":%.6f,\"pass\":%s}",
			i ? "," : "", p->phase, p->step, p->rate, p->offered, p->loss,
			p->pass ? "true" : "false");
	}
	fputc(']', f);
}
