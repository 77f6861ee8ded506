// SPDX-License-Identifier: MIT
/*
 * NDR/PDR: a binary search for the highest rate that passes with no loss
 * (NDR) or with at most --pdr-loss (PDR), each rate judged by the majority of
 * up to --repeats trials.
 */
#include <errno.h>

#include "tapgen.h"

static int rate_passes(int fd, const struct gen_opts *o, double rate, double allowed, uint64_t *seq,
		       struct trial *t, FILE *trace, const char *what, unsigned int step)
{
	unsigned int pass = 0, fail = 0, need = o->repeats / 2 + 1;

	while (pass < need && fail < need) {
		if (tapgen_run_trial(fd, o, rate, o->duration, seq, t) < 0)
			return -EINTR;
		if (tapgen_loss_ratio(t) <= allowed)
			pass++;
		else
			fail++;
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
int tapgen_search_rate(int fd, const struct gen_opts *o, double lo, double hi, double allowed,
		       uint64_t *seq, struct trial *t, FILE *trace, const char *what, double *found)
{
	for (unsigned int step = 1; step <= o->steps; step++) {
		double mid = (lo + hi) / 2;
		int ok = rate_passes(fd, o, mid, allowed, seq, t, trace, what, step);

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
