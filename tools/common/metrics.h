/* SPDX-License-Identifier: MIT */
/*
 * --metrics: an HTTP endpoint that serves the tool's counters at /metrics in
 * Prometheus's text format (0.0.4), or in OpenMetrics 1.0 when the scraper's
 * Accept header asks for it (Prometheus itself does).  libmicrohttpd serves
 * it from a thread of its own; each scrape calls the tool's render function
 * there, which reads the counters as the live line does (relaxed loads of
 * counters their owners publish), so that nothing is added to a data path
 * and no scraper, slow or many, can hold up the tool's threads.
 *
 * The writers below keep the format's rules in one place: a counter's
 * samples end in _total, a family's name ends in its unit, an info family is
 * a gauge of 1 in the text format, a histogram's buckets are cumulative and
 * end with le="+Inf", OpenMetrics ends with "# EOF".
 */
#ifndef TRF_TOOLS_METRICS_H
#define TRF_TOOLS_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#define TRF_METRICS_DEFAULT_ADDR "127.0.0.1"

/* Where to listen: [ADDR:]PORT, or [IPV6]:PORT. */
struct trf_metrics_listen {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[64]; /* as given, normalised: "127.0.0.1:9101", "[::1]:9101" */
};

/*
 * 0, or -EINVAL with why in err: "[ADDR:]PORT" with a numeric address and a
 * port 0..65535 (0: any free port, which trf_metrics_port() then says).
 */
int trf_metrics_parse_listen(const char *spec, struct trf_metrics_listen *out, char *err,
			     size_t errlen);

struct trf_prom {
	FILE *f;
	bool openmetrics;
};

enum trf_prom_type {
	TRF_PROM_COUNTER,
	TRF_PROM_GAUGE,
	TRF_PROM_HISTOGRAM,
	TRF_PROM_INFO,
};

/*
 * A family: name without the _total or _info of its samples; where it has a
 * unit ("bytes", "seconds"), the name ends in _unit.
 */
struct trf_prom_family {
	const char *name;
	enum trf_prom_type type;
	const char *unit; /* NULL: none */
	const char *help;
};

/* Labels of a sample: key, value, key, value, ..., NULL.  Values are escaped here. */
typedef const char *const trf_prom_labels[];

/* The # HELP, # TYPE (and # UNIT) lines: once per family, before its samples. */
void trf_prom_head(struct trf_prom *p, const struct trf_prom_family *fam);

/* A counter's, gauge's or info's sample (an info's value is 1: v is ignored). */
void trf_prom_u64(struct trf_prom *p, const struct trf_prom_family *fam, const char *const *labels,
		  uint64_t v);
void trf_prom_f64(struct trf_prom *p, const struct trf_prom_family *fam, const char *const *labels,
		  double v);

/*
 * A histogram's samples: counts[i] observations at most bounds[i] (and more
 * than bounds[i - 1]), for i < nbounds, and counts[nbounds] above the last
 * bound; written cumulative, with _count and _sum.
 */
void trf_prom_histogram(struct trf_prom *p, const struct trf_prom_family *fam,
			const char *const *labels, const double *bounds, const uint64_t *counts,
			size_t nbounds, double sum);

/* The end of an exposition ("# EOF" in OpenMetrics). */
void trf_prom_end(struct trf_prom *p);

/* Fill p->f with one exposition; called in the server's thread, once per scrape. */
typedef void (*trf_metrics_render_fn)(void *arg, struct trf_prom *p);

struct trf_metrics_server;

/*
 * Bind and listen now (a port that is taken or an address that is not this
 * host's fails here, with why in err), then serve from a thread of the
 * library's: GET or HEAD /metrics renders; / says where the metrics are;
 * anything else is 404 (405 for a method other than GET and HEAD).  NULL on
 * failure.
 */
struct trf_metrics_server *trf_metrics_start(const struct trf_metrics_listen *where,
					     trf_metrics_render_fn render, void *arg, char *err,
					     size_t errlen);

/* The port the server listens on (of interest when PORT was 0). */
unsigned int trf_metrics_port(const struct trf_metrics_server *s);

/* Stop serving (waits for a scrape in progress) and free; NULL is fine. */
void trf_metrics_stop(struct trf_metrics_server *s);

/* Scrapes answered so far (for tests and the summary). */
uint64_t trf_metrics_scrapes(const struct trf_metrics_server *s);

#endif
