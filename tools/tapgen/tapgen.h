/* SPDX-License-Identifier: MIT */
/*
 * tapgen: a UDP (or ICMP echo) load generator for reflectors.  Shared by its
 * files: options.c (the option table), trial.c (one timed trial: send,
 * receive, account), hist.c (the RTT histogram, hist.h), traffic_udp.c and
 * traffic_icmp.c (the kinds of traffic), search.c (NDR/PDR: the ceiling,
 * bisection), mlr.c (RFC 9971 MLRsearch, mlr.h), imix.c (--imix: the mix of
 * frame sizes, its interleave, bit rates; imix.h), report.c (text and JSON),
 * metrics.c (--metrics: the run's totals over HTTP, for Prometheus), main.c.
 */
#ifndef TRF_TAPGEN_H
#define TRF_TAPGEN_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "hist.h"
#include "imix.h"
#include "metrics.h"
#include "mlr.h"

#define MAX_BATCH 256
#define MAX_PAYLOAD 65000
#define MIN_PAYLOAD 16 /* sequence number and send timestamp */
#define TAPGEN_SCHEMA_VERSION 1 /* of the JSON records; a field is only ever added within one */

struct tapgen_traffic;
struct tapgen_live;

struct gen_opts {
	struct sockaddr_storage dst;
	socklen_t dst_len;
	unsigned int port;
	unsigned int flows;
	unsigned int payload; /* --size; 0 with --imix */
	/*
	 * --imix, or NULL: the mix of sizes every datagram trial sends, its
	 * payloads those of o->dst's family; --rate is then frames/s of the mix.
	 */
	const struct tapgen_imix *imix;
	double rate;
	double duration;
	double drain;
	unsigned int batch;
	int cpu;
	const char *json_path;
	int ready_fd; /* --ready-fd, or -1 */
	bool progress;
	bool search; /* --search: NDR/PDR instead of one trial */
	enum tapgen_search_method {
		TAPGEN_SEARCH_MLR, /* RFC 9971 MLRsearch (mlr.c) */
		TAPGEN_SEARCH_BINARY, /* a bisection per goal, the majority of trials per step */
	} search_method;
	unsigned int steps; /* binary search steps */
	unsigned int repeats; /* trials per rate in a search; the majority decides */
	bool binary_given; /* --steps or --repeats given: for --search binary only */
	double pdr_loss; /* loss ratio allowed for the PDR */
	/* --search mlr: goals besides NDR and PDR (--goal), and what every goal shares. */
	double goal_loss[MLR_GOALS_MAX - 2];
	unsigned int goals;
	double exceed_ratio, width;
	double duration_sum; /* 0: 3 x --duration */
	double initial_duration; /* 0: --duration / 10, at least 0.05 s */
	bool mlr_given; /* one of those given: for --search mlr only */
	double max_rate; /* search ceiling; 0 = what an unlimited trial offered */
	const struct tapgen_traffic *traffic; /* UDP (default) or ICMP echo */
	bool tcp; /* TCP streams instead of datagrams (tcp.c) */
	uint64_t
	    tcp_bytes; /* --bytes: stop writing after this many bytes in all (0: --duration only) */
	unsigned int
	    gso; /* UDP: datagrams per send, cut apart by the kernel (UDP_SEGMENT); 0 = off */
	uint16_t icmp_id; /* echo id of flow 0 (ICMP) */
	/*
	 * --metrics: where to listen; --metrics-linger: seconds to serve the
	 * final values after the run; where it listens, as ADDR:PORT with the
	 * port in use (the one chosen when 0 was asked); the run's totals
	 * (metrics.c), NULL without --metrics.
	 */
	bool metrics;
	struct trf_metrics_listen metrics_listen;
	double metrics_linger;
	char metrics_at[64];
	struct tapgen_live *live;
};

struct gen_stats {
	uint64_t base_seq; /* the first sequence number of this trial */
	uint64_t sent, send_errors, received, unique, duplicates, reordered, foreign, late;
	uint64_t corrupt; /* ours by sequence number, but a payload byte changed */
	/*
	 * By flow: 1 + the highest sequence number (from the trial's first)
	 * received.  A reply older than that is reordered within its flow; order
	 * across flows means nothing (each queue answers its own flows).
	 */
	uint64_t *flow_top;
	uint8_t *seen; /* bitmap by sequence number */
	size_t seen_bytes;
	struct tapgen_hist *rtt; /* every reply's RTT, ns: min, max, percentiles, the chart */
	uint64_t rtt_sum_ns; /* of every RTT rtt counts */
	struct tapgen_imix_stats *imix; /* --imix: the replies by size; NULL without */
};

/*
 * --metrics: what the server's thread reads while the trials run.  Totals
 * are over the whole run, every trial of a search added up.  The main
 * thread (which sends and receives) is their only writer: it publishes each
 * with a relaxed atomic store, the totals once per sendmmsg and per
 * recvmmsg batch (tapgen_live_publish), an RTT bucket once per reply; the
 * server reads them with relaxed loads, as tapreflect's queue counters are
 * read.  `finished` is stored with release after the last of them, so that
 * a scrape that sees it (acquire) sees the final values.
 */
#define TAPGEN_RTT_BOUNDS 19 /* 1, 2, 5 x 10^k us, from 1 us to 1 s */
extern const uint32_t tapgen_rtt_bounds_us[TAPGEN_RTT_BOUNDS];

struct tapgen_totals {
	uint64_t sent, send_errors, received, reflected, lost;
	uint64_t duplicates, reordered, foreign, late, corrupt;
	uint64_t rtt_sum_ns;
};

struct tapgen_live {
	struct tapgen_totals run; /* the run so far: what a scrape reads */
	struct tapgen_totals base; /* the run's totals when this trial began: the writer's alone */
	/*
	 * Replies by RTT in whole microseconds, exact (the JSON's rtt_hist_us
	 * bins agree to the histogram's resolution, hist.h): rtt[i] those
	 * under tapgen_rtt_bounds_us[i] (and not under the bound before),
	 * rtt[TAPGEN_RTT_BOUNDS] the rest.
	 */
	uint64_t rtt[TAPGEN_RTT_BOUNDS + 1];
	uint64_t trial; /* the trial in progress or the last one, from 1; 0 before the first */
	uint64_t trials_done;
	double rate_target; /* the current trial's, datagrams/s; 0 = as fast as possible */
	uint64_t tcp_sent_bytes, tcp_verified_bytes, tcp_retransmissions; /* --tcp */
	uint32_t finished; /* 1 once the run is over and everything above is final */
};

/* Count one reply's RTT (ns) in the live histogram: the one atomic store per reply. */
static inline void tapgen_live_rtt(struct tapgen_live *l, uint64_t rtt_ns)
{
	uint64_t us = rtt_ns / 1000;
	unsigned int b = 0;

	while (b < TAPGEN_RTT_BOUNDS && us >= tapgen_rtt_bounds_us[b])
		b++;
	__atomic_store_n(&l->rtt[b], l->rtt[b] + 1, __ATOMIC_RELAXED);
}

/* A trial begins at `rate`; publish its totals so far; it ended (its losses are counted now). */
void tapgen_live_begin(struct tapgen_live *l, double rate);
void tapgen_live_publish(struct tapgen_live *l, const struct gen_stats *s);
void tapgen_live_end(struct tapgen_live *l, const struct gen_stats *s);

/* --tcp: the streams' bytes so far, and (at the end) their retransmissions. */
void tapgen_live_tcp(struct tapgen_live *l, uint64_t sent, uint64_t verified,
		     uint64_t retransmissions);

/*
 * --metrics: bind and listen now, before any traffic (a taken port or an
 * address that is not this host's is said on stderr: NULL), set o->live and
 * o->metrics_at, and say on stderr where the metrics are.
 */
struct trf_metrics_server *tapgen_metrics_start(struct gen_opts *o);

/*
 * The run is over and its reports are written: mark the values final, serve
 * them --metrics-linger seconds more (unless interrupted; a signal during
 * that time ends it early), then stop the server.  NULL is fine.
 */
void tapgen_metrics_finish(const struct gen_opts *o, struct trf_metrics_server *s);

/*
 * Every trial of a rate search, for the JSON record and the report's search
 * chart: binary, NDR and PDR with --steps <= 30 and --repeats <= 9; mlr, at
 * most MLR_TRIALS_MAX; and the ceiling.
 */
#define SEARCH_TRACE_MAX (2 * 30 * 9 + 1 > MLR_TRIALS_MAX + 1 ? 2 * 30 * 9 + 1 : MLR_TRIALS_MAX + 1)
struct search_point {
	const char *phase; /* "ceiling", or the goal: "NDR", "PDR", ... */
	unsigned int step; /* binary: the step; mlr: the goal's phase, from 1 */
	double rate; /* target; 0 = unlimited */
	double offered, loss; /* pps, ratio */
	double duration; /* s, as asked */
	uint64_t sent, lost; /* lost: of what was sent, and (mlr) of what was not */
	bool pass; /* loss within the goal's */
};
struct search_trace {
	unsigned int n;
	struct search_point pt[SEARCH_TRACE_MAX];
};

struct trial {
	double rate; /* target; 0 = unlimited */
	double duration; /* sending time asked */
	double elapsed; /* sending time */
	struct gen_stats st;
};

/*
 * A kind of traffic: how its socket is opened, how a datagram is made, and
 * how a reply is recognised.  Every datagram carries our 8-byte sequence
 * number and 8-byte send time (CLOCK_MONOTONIC ns) at offset hlen, followed
 * by filler up to --size bytes; a new kind is a file with one of these and a
 * way to choose it in options.c.
 */
struct tapgen_traffic {
	const char *name; /* "proto" in JSON */
	const char *label; /* in the text report */
	size_t hlen; /* header bytes the kind writes before our sequence number */
	/* Replies that are not ours count as foreign (a raw socket also sees others' traffic: no). */
	bool counts_foreign;
	/* Open the socket (may set fields of o, e.g. the ICMP id); returns it, or -errno with a message printed. */
	int (*open)(struct gen_opts *o);
	/*
	 * Finish datagram seq of flow `flow`: its first hlen bytes (the rest is
	 * written) and its destination in name.
	 */
	void (*fill)(const struct gen_opts *o, uint8_t *dgram, size_t len,
		     struct sockaddr_storage *name, unsigned int flow, uint64_t seq);
	/* Offset of our sequence number in a received datagram, or -1 if it is not a reply of ours. */
	int (*match)(const struct gen_opts *o, const uint8_t *p, size_t len);
	/* The flow of a reply that matched (from is its sender), in 0..flows-1; -1 if none. */
	int (*flow_of)(const struct gen_opts *o, const uint8_t *p, int off,
		       const struct sockaddr_storage *from);
};

extern const struct tapgen_traffic tapgen_udp;
extern const struct tapgen_traffic tapgen_icmp;

/* Is len the payload of a datagram of ours: --size's, or one of --imix's sizes? */
static inline bool tapgen_payload_ours(const struct gen_opts *o, size_t len)
{
	return o->imix ? tapgen_imix_has_payload(o->imix, len) : len == o->payload;
}

/* Without --imix: the Ethernet frame (FCS included) that --size's datagrams make. */
static inline unsigned int tapgen_frame_bytes(const struct gen_opts *o)
{
	return o->payload + tapgen_frame_overhead(o->dst.ss_family == AF_INET6);
}

/* Set by SIGINT/SIGTERM: the trial in progress ends, no new one starts. */
extern volatile sig_atomic_t tapgen_interrupted;

/* The option table (options.c): getopt_long's arguments and --help. */
struct trf_opt_tool;
extern const struct trf_opt_tool tapgen_tool;

/* Parse the command line; 0 to run, 1 to exit 0 (--help), negative after a usage error. */
int tapgen_parse_args(int argc, char **argv, struct gen_opts *o);

/*
 * One trial at `rate` (0 = as fast as possible) for `duration` seconds, then
 * up to --drain seconds for late replies.  *seq carries the sequence numbers
 * across trials, so that a late reply from an earlier trial is never counted
 * in this one.  Returns 0, or -EINTR when interrupted.
 */
int tapgen_run_trial(int fd, const struct gen_opts *o, double rate, double duration, uint64_t *seq,
		     struct trial *t);

/*
 * --tcp: o->flows TCP streams for o->duration seconds, every byte checked;
 * one line on text, one JSON object on json (if not NULL).  Returns the exit
 * status: 0, or 1 when a byte came back wrong, did not come back, or no
 * connection could be made.
 */
int tapgen_run_tcp(const struct gen_opts *o, FILE *text, FILE *json);

/* CLOCK_MONOTONIC in ns: send times, RTTs, trial and stream durations. */
uint64_t tapgen_now_ns(void);

/* Lost share of what a trial sent (1 when it sent nothing). */
double tapgen_loss_ratio(const struct trial *t);

/* RTT percentile p (0..100) in microseconds, from the trial's histogram (hist.h: within 0.05 %). */
double tapgen_rtt_percentile_us(const struct gen_stats *s, double p);

/*
 * --search: the ceiling (an unlimited trial, unless --max-rate), then the
 * NDR and PDR (and --goal's) by --search's method; every trial on trace as
 * it ends, the search record on json (if not NULL).  Returns 0, or -EINTR
 * when interrupted (mlr: its record is still written, incomplete).
 */
int tapgen_search(int fd, const struct gen_opts *o, uint64_t *seq, struct trial *t, FILE *trace,
		  FILE *json);

/*
 * The ready record (--ready-fd): one JSON line of what is about to be sent,
 * named as in the trial record, written to o->ready_fd, which is then
 * closed.  Called once the sockets are open (--tcp: connected), before the
 * first datagram or byte of load; a failed write is said and not fatal.
 */
void tapgen_ready(const struct gen_opts *o);

/* The destination address in its canonical form, as the records write it. */
void tapgen_dst_text(const struct gen_opts *o, char *buf, size_t len);

/*
 * A JSON record with the header every one of tapgen's records starts with:
 * type, schema_version, version (written with trf_json_write(), ready.h).
 */
json_t *tapgen_record(const char *type);

/*
 * One trial as text (what was sent and received, the RTT percentiles, with
 * --imix a line per size, and the frame and bit rates), and as the fields
 * of a JSON record (added to rec).
 */
void tapgen_print_trial(FILE *f, const struct gen_opts *o, const struct trial *t);
void tapgen_json_trial(json_t *rec, const struct gen_opts *o, const struct trial *t);

/* Record one trial of a search in tr (ignored when full). */
void tapgen_trace_add(struct search_trace *tr, const char *phase, unsigned int step,
		      const struct trial *t, bool pass);

/* The search's trials as a JSON array (for "trace"). */
json_t *tapgen_json_trace(const struct search_trace *tr);

#endif
