// SPDX-License-Identifier: MIT
/*
 * tapgen --metrics: the run's totals at /metrics, for Prometheus.  The
 * server (tools/common/metrics.c) answers from a thread of its own; each
 * scrape renders struct tapgen_live there with relaxed loads, while the
 * main thread goes on sending and receiving and publishes with relaxed
 * stores (tapgen.h).  Datagram kinds (udp, icmp) export the datagram
 * families and the RTT histogram, --tcp the streams' bytes.
 */
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "tapgen.h"

/* 1, 2, 5 x 10^k us: log-spaced, and each one a bin edge of the JSON's rtt_hist_us too (report.c). */
const uint32_t tapgen_rtt_bounds_us[TAPGEN_RTT_BOUNDS] = {
	1,    2,    5,	   10,	  20,	 50,	 100,	 200,	 500,	  1000,
	2000, 5000, 10000, 20000, 50000, 100000, 200000, 500000, 1000000,
};

#define SET(dst, v) __atomic_store_n(&(dst), (v), __ATOMIC_RELAXED)
#define GET(src) __atomic_load_n(&(src), __ATOMIC_RELAXED)

void tapgen_live_begin(struct tapgen_live *l, double rate)
{
	/* The only writer reads its own stores back without atomics. */
	l->base = l->run;
	__atomic_store(&l->rate_target, &rate, __ATOMIC_RELAXED);
	SET(l->trial, l->trial + 1);
}

void tapgen_live_publish(struct tapgen_live *l, const struct gen_stats *s)
{
	const struct tapgen_totals *b = &l->base;

	SET(l->run.sent, b->sent + s->sent);
	SET(l->run.send_errors, b->send_errors + s->send_errors);
	SET(l->run.received, b->received + s->received);
	SET(l->run.reflected, b->reflected + s->unique);
	SET(l->run.duplicates, b->duplicates + s->duplicates);
	SET(l->run.reordered, b->reordered + s->reordered);
	SET(l->run.foreign, b->foreign + s->foreign);
	SET(l->run.late, b->late + s->late);
	SET(l->run.corrupt, b->corrupt + s->corrupt);
	SET(l->run.rtt_sum_ns, b->rtt_sum_ns + s->rtt_sum_ns);
}

void tapgen_live_end(struct tapgen_live *l, const struct gen_stats *s)
{
	tapgen_live_publish(l, s);
	/* Lost only once the trial is over: before, a datagram in flight is not lost. */
	SET(l->run.lost, l->base.lost + (s->sent - s->unique));
	SET(l->trials_done, l->trials_done + 1);
}

void tapgen_live_tcp(struct tapgen_live *l, uint64_t sent, uint64_t verified,
		     uint64_t retransmissions)
{
	SET(l->tcp_sent_bytes, sent);
	SET(l->tcp_verified_bytes, verified);
	SET(l->tcp_retransmissions, retransmissions);
}

/* ---- the exposition ---- */

/* What each run total says of itself: it adds up every trial, as the report of one trial does not. */
#define RUN(json) "; over the whole run (a search: the sum over its trials); the JSON's " json

static const struct trf_prom_family
    fam_info = { "tapgen", TRF_PROM_INFO, NULL,
		 "what runs: tapgen's version, the traffic (udp, icmp, tcp), the destination, "
		 "and whether it is a rate search" },
    fam_finished = { "tapgen_finished", TRF_PROM_GAUGE, NULL,
		     "1 once the run is over and its reports are written: every value here is "
		     "final" },
    fam_trial = { "tapgen_trial", TRF_PROM_GAUGE, NULL,
		  "the trial in progress, or the last one: 1 for the first (a search runs many), 0 "
		  "before it" },
    fam_trials = { "tapgen_trials", TRF_PROM_COUNTER, NULL, "trials ended" },
    fam_rate = { "tapgen_target_datagrams_per_second", TRF_PROM_GAUGE, NULL,
		 "the current trial's target rate (--rate, or the search's); 0 = as fast as "
		 "possible" },
    fam_sent = { "tapgen_datagrams_sent", TRF_PROM_COUNTER, NULL, "datagrams sent" RUN("sent") },
    fam_send_errors = { "tapgen_send_errors", TRF_PROM_COUNTER, NULL,
			"sendmmsg calls that failed, sending nothing" RUN("send_errors") },
    fam_received = { "tapgen_datagrams_received", TRF_PROM_COUNTER, NULL,
		     "replies of ours, duplicates and late ones included" RUN("received") },
    fam_reflected = { "tapgen_datagrams_reflected", TRF_PROM_COUNTER, NULL,
		      "datagrams whose reply came back, each once" RUN("reflected") },
    fam_lost = { "tapgen_datagrams_lost", TRF_PROM_COUNTER, NULL,
		 "datagrams sent and not reflected, counted as each trial ends" RUN("lost") },
    fam_duplicates = { "tapgen_datagrams_duplicate", TRF_PROM_COUNTER, NULL,
		       "replies to a datagram already answered" RUN("duplicates") },
    fam_reordered = { "tapgen_datagrams_reordered", TRF_PROM_COUNTER, NULL,
		      "replies older than one already received in their flow" RUN("reordered") },
    fam_foreign = { "tapgen_datagrams_foreign", TRF_PROM_COUNTER, NULL,
		    "datagrams received that answer none the trial sent" RUN("foreign") },
    fam_late = { "tapgen_datagrams_late", TRF_PROM_COUNTER, NULL,
		 "replies to an earlier trial's datagrams" RUN("late") },
    fam_corrupt = { "tapgen_datagrams_corrupt", TRF_PROM_COUNTER, NULL,
		    "replies of ours with a payload byte changed (lost too)" RUN("corrupt") },
    fam_rtt = { "tapgen_rtt_seconds", TRF_PROM_HISTOGRAM, "seconds",
		"round-trip time of every reply received, over the whole run (a search: every "
		"trial), "
		"in whole microseconds as the JSON's rtt_hist_us bins (to 0.05 %; the sum exact)" },
    fam_tcp_sent = { "tapgen_tcp_sent_bytes", TRF_PROM_COUNTER, "bytes",
		     "--tcp: bytes written in all streams; the JSON's bytes_sent" },
    fam_tcp_verified = { "tapgen_tcp_verified_bytes", TRF_PROM_COUNTER, "bytes",
			 "--tcp: bytes that came back and were checked; the JSON's "
			 "bytes_verified" },
    fam_tcp_retrans = {
	    "tapgen_tcp_retransmissions", TRF_PROM_COUNTER, NULL,
	    "--tcp: the streams' retransmissions (TCP_INFO), counted at the end of the run"
    };

static void counter(struct trf_prom *p, const struct trf_prom_family *fam, const char *const *lb,
		    uint64_t v)
{
	trf_prom_head(p, fam);
	trf_prom_u64(p, fam, lb, v);
}

static void render(void *arg, struct trf_prom *p)
{
	const struct gen_opts *o = arg;
	struct tapgen_live *l = o->live;
	const char *proto = o->tcp ? "tcp" : o->traffic->name;
	/* First, and with acquire: a scrape that sees the run finished sees its final values. */
	uint32_t finished = __atomic_load_n(&l->finished, __ATOMIC_ACQUIRE);
	trf_prom_labels lb = { "proto", proto, NULL };
	double rate, bounds[TAPGEN_RTT_BOUNDS];
	uint64_t rtt[TAPGEN_RTT_BOUNDS + 1];
	char dst[INET6_ADDRSTRLEN];

	tapgen_dst_text(o, dst, sizeof(dst));
	trf_prom_head(p, &fam_info);
	trf_prom_u64(p, &fam_info,
		     (trf_prom_labels){ "version", TRF_VERSION, "proto", proto, "dst", dst,
					"search", o->search ? "true" : "false", NULL },
		     1);
	trf_prom_head(p, &fam_finished);
	trf_prom_u64(p, &fam_finished, NULL, finished);
	if (o->tcp) {
		counter(p, &fam_tcp_sent, lb, GET(l->tcp_sent_bytes));
		counter(p, &fam_tcp_verified, lb, GET(l->tcp_verified_bytes));
		counter(p, &fam_tcp_retrans, lb, GET(l->tcp_retransmissions));
		return;
	}
	__atomic_load(&l->rate_target, &rate, __ATOMIC_RELAXED);
	trf_prom_head(p, &fam_trial);
	trf_prom_u64(p, &fam_trial, NULL, GET(l->trial));
	counter(p, &fam_trials, NULL, GET(l->trials_done));
	trf_prom_head(p, &fam_rate);
	trf_prom_f64(p, &fam_rate, lb, rate);
	counter(p, &fam_sent, lb, GET(l->run.sent));
	counter(p, &fam_send_errors, lb, GET(l->run.send_errors));
	counter(p, &fam_received, lb, GET(l->run.received));
	counter(p, &fam_reflected, lb, GET(l->run.reflected));
	counter(p, &fam_lost, lb, GET(l->run.lost));
	counter(p, &fam_duplicates, lb, GET(l->run.duplicates));
	counter(p, &fam_reordered, lb, GET(l->run.reordered));
	counter(p, &fam_foreign, lb, GET(l->run.foreign));
	counter(p, &fam_late, lb, GET(l->run.late));
	counter(p, &fam_corrupt, lb, GET(l->run.corrupt));
	/*
	 * Each bucket is read once: the buckets may be a reply or two ahead of
	 * the sum (published per batch), never inconsistent among themselves.
	 */
	for (unsigned int i = 0; i < TAPGEN_RTT_BOUNDS; i++)
		bounds[i] = tapgen_rtt_bounds_us[i] / 1e6;
	for (unsigned int i = 0; i <= TAPGEN_RTT_BOUNDS; i++)
		rtt[i] = GET(l->rtt[i]);
	trf_prom_head(p, &fam_rtt);
	trf_prom_histogram(p, &fam_rtt, lb, bounds, rtt, TAPGEN_RTT_BOUNDS,
			   (double)GET(l->run.rtt_sum_ns) / 1e9);
}

struct trf_metrics_server *tapgen_metrics_start(struct gen_opts *o)
{
	static struct tapgen_live live; /* one run per process */
	const char *text = o->metrics_listen.text, *colon = strrchr(text, ':');
	struct trf_metrics_server *s;
	char err[256];

	sigset_t block, old;

	o->live = &live; /* before the server's thread can render */
	/*
	 * The server's thread starts with SIGINT and SIGTERM blocked, so that
	 * they go to the main thread and interrupt its poll() at once.
	 */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	s = trf_metrics_start(&o->metrics_listen, render, o, err, sizeof(err));
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!s) {
		fprintf(stderr, "tapgen: %s\n", err);
		o->live = NULL;
		return NULL;
	}
	/* The address as given ("[::1]" keeps its brackets), the port the one in use. */
	snprintf(o->metrics_at, sizeof(o->metrics_at), "%.*s:%u", (int)(colon - text), text,
		 trf_metrics_port(s));
	fprintf(stderr, "tapgen: metrics at http://%s/metrics\n", o->metrics_at);
	return s;
}

void tapgen_metrics_finish(const struct gen_opts *o, struct trf_metrics_server *s)
{
	uint64_t end;

	if (!s)
		return;
	/* What the reports printed may sit in a buffer: out before a scraper reads the end. */
	fflush(NULL);
	__atomic_store_n(&o->live->finished, 1, __ATOMIC_RELEASE);
	end = tapgen_now_ns() + (uint64_t)(o->metrics_linger * 1e9);
	/* SIGINT/SIGTERM end the wait: poll returns EINTR, or the flag is seen within 100 ms. */
	while (!tapgen_interrupted) {
		uint64_t now = tapgen_now_ns();

		if (now >= end)
			break;
		poll(NULL, 0, end - now > 100000000 ? 100 : (int)((end - now) / 1000000) + 1);
	}
	trf_metrics_stop(s);
}
