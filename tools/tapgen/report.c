// SPDX-License-Identifier: MIT
/* tapgen's results: a trial as text and as JSON fields; every record's common header. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <unistd.h>

#include "ready.h"
#include "tapgen.h"

void tapgen_print_trial(FILE *f, const struct gen_opts *o, const struct trial *t)
{
	const struct gen_stats *s = &t->st;

	fprintf(f,
		"tapgen: %u %s flow(s), %u B payload, %.2f s: sent %" PRIu64
		" (%.0f pps), reflected %" PRIu64 " (%.0f pps), lost %" PRIu64
		" (%.4f%%), duplicates %" PRIu64 ", reordered %" PRIu64 ", corrupt %" PRIu64 "\n",
		o->flows, o->traffic->label, o->payload, t->elapsed, s->sent,
		(double)s->sent / t->elapsed, s->unique, (double)s->unique / t->elapsed,
		s->sent - s->unique, tapgen_loss_ratio(t) * 100, s->duplicates, s->reordered,
		s->corrupt);
	fprintf(f,
		"tapgen: rtt us: min %.1f p50 %.1f p90 %.1f p99 %.1f p99.9 %.1f p99.99 %.1f "
		"p99.999 %.1f max %.1f\n",
		(double)tapgen_hist_min(s->rtt) / 1e3, tapgen_rtt_percentile_us(s, 50),
		tapgen_rtt_percentile_us(s, 90), tapgen_rtt_percentile_us(s, 99),
		tapgen_rtt_percentile_us(s, 99.9), tapgen_rtt_percentile_us(s, 99.99),
		tapgen_rtt_percentile_us(s, 99.999), (double)tapgen_hist_max(s->rtt) / 1e3);
}

/* One bin of the chart, [from_us, to_us, count]; an empty one is left out. */
static void append_bin(json_t *bins, uint64_t from, uint64_t to, uint64_t n)
{
	json_t *bin;

	if (!n)
		return;
	bin = json_array();
	json_array_append_new(bin, json_integer((json_int_t)from));
	json_array_append_new(bin, json_integer((json_int_t)to));
	json_array_append_new(bin, trf_json_count(n));
	json_array_append_new(bins, bin);
}

/*
 * The RTT histogram for charts: its buckets gathered into bins of about ten
 * per decade (0..10 us by 1 us, then 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x
 * 10^k us), nonzero ones only, as [from_us, to_us, count]: a bin holds the
 * replies whose RTT, in whole microseconds, is from <= rtt < to.  Each
 * bucket counts at the value a percentile reports for it (hist.h): a reply
 * within 0.05 % of an edge may be in the bin beside it.  Every edge to 20
 * us is a bound of the histogram's buckets, and so exact; from 25 us on,
 * most are not.  Bins go as far as the largest RTT.
 */
static json_t *json_rtt_hist(const struct gen_stats *s)
{
	static const unsigned int mant[] = { 10, 12, 15, 20, 25, 30, 40, 50, 60, 80 };
	uint64_t from = 0, to = 1, scale = 1, n = 0;
	unsigned int k = 0; /* to = mant[k] x scale from 10 us on */
	struct tapgen_hist_bucket b;
	json_t *bins = json_array();
	size_t pos = 0;

	while (tapgen_hist_next(s->rtt, &pos, &b)) {
		/* The buckets' values never decrease: the bins this one is past are done. */
		while (b.value / 1000 >= to) {
			append_bin(bins, from, to, n);
			n = 0;
			from = to;
			if (to < 10) {
				to++;
				continue;
			}
			if (++k == sizeof(mant) / sizeof(mant[0])) {
				k = 0;
				scale *= 10;
			}
			to = mant[k] * scale;
		}
		n += b.count;
	}
	append_bin(bins, from, to, n);
	return bins;
}

void tapgen_json_trial(json_t *rec, const struct gen_opts *o, const struct trial *t)
{
	const struct gen_stats *s = &t->st;
	json_t *rtt = json_object();

	json_object_set_new(rec, "proto", json_string(o->traffic->name));
	json_object_set_new(rec, "flows", json_integer(o->flows));
	json_object_set_new(rec, "payload", json_integer(o->payload));
	json_object_set_new(rec, "rate_target", trf_json_whole(t->rate));
	json_object_set_new(rec, "duration_s", trf_json_fixed(t->elapsed, 3));
	json_object_set_new(rec, "sent", trf_json_count(s->sent));
	json_object_set_new(rec, "send_errors", trf_json_count(s->send_errors));
	json_object_set_new(rec, "received", trf_json_count(s->received));
	json_object_set_new(rec, "reflected", trf_json_count(s->unique));
	json_object_set_new(rec, "lost", trf_json_count(s->sent - s->unique));
	json_object_set_new(rec, "loss_ratio", trf_json_fixed(tapgen_loss_ratio(t), 6));
	json_object_set_new(rec, "duplicates", trf_json_count(s->duplicates));
	json_object_set_new(rec, "reordered", trf_json_count(s->reordered));
	json_object_set_new(rec, "foreign", trf_json_count(s->foreign));
	json_object_set_new(rec, "late", trf_json_count(s->late));
	json_object_set_new(rec, "corrupt", trf_json_count(s->corrupt));
	json_object_set_new(rec, "offered_pps", trf_json_whole((double)s->sent / t->elapsed));
	json_object_set_new(rec, "reflected_pps", trf_json_whole((double)s->unique / t->elapsed));
	json_object_set_new(rtt, "min", trf_json_fixed((double)tapgen_hist_min(s->rtt) / 1e3, 1));
	json_object_set_new(rtt, "p50", trf_json_fixed(tapgen_rtt_percentile_us(s, 50), 1));
	json_object_set_new(rtt, "p90", trf_json_fixed(tapgen_rtt_percentile_us(s, 90), 1));
	json_object_set_new(rtt, "p99", trf_json_fixed(tapgen_rtt_percentile_us(s, 99), 1));
	json_object_set_new(rtt, "p999", trf_json_fixed(tapgen_rtt_percentile_us(s, 99.9), 1));
	json_object_set_new(rtt, "p9999", trf_json_fixed(tapgen_rtt_percentile_us(s, 99.99), 1));
	json_object_set_new(rtt, "p99999", trf_json_fixed(tapgen_rtt_percentile_us(s, 99.999), 1));
	json_object_set_new(rtt, "max", trf_json_fixed((double)tapgen_hist_max(s->rtt) / 1e3, 1));
	json_object_set_new(rec, "rtt_us", rtt);
	json_object_set_new(rec, "rtt_hist_us", json_rtt_hist(s));
}

json_t *tapgen_record(const char *type)
{
	json_t *rec = json_object();

	json_object_set_new(rec, "type", json_string(type));
	json_object_set_new(rec, "schema_version", json_integer(TAPGEN_SCHEMA_VERSION));
	json_object_set_new(rec, "version", json_string(TRF_VERSION));
	return rec;
}

void tapgen_dst_text(const struct gen_opts *o, char *buf, size_t len)
{
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&o->dst;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&o->dst;
	const char *ok;

	/* As a caller would write it back: the canonical form, not what was typed. */
	if (o->dst.ss_family == AF_INET)
		ok = inet_ntop(AF_INET, &s4->sin_addr, buf, (socklen_t)len);
	else
		ok = inet_ntop(AF_INET6, &s6->sin6_addr, buf, (socklen_t)len);
	if (!ok)
		snprintf(buf, len, "?");
}

void tapgen_ready(const struct gen_opts *o)
{
	char dst[INET6_ADDRSTRLEN];
	json_t *rec = tapgen_record("start");

	tapgen_dst_text(o, dst, sizeof(dst));
	json_object_set_new(rec, "pid", json_integer(getpid()));
	json_object_set_new(rec, "proto", json_string(o->tcp ? "tcp" : o->traffic->name));
	json_object_set_new(rec, "dst", json_string(dst));
	json_object_set_new(rec, "flows", json_integer(o->flows));
	/* A flow is a destination port, or (ICMP) an echo id. */
	if (o->tcp || o->traffic == &tapgen_udp)
		json_object_set_new(rec, "port", json_integer(o->port));
	else
		json_object_set_new(rec, "icmp_id", json_integer(o->icmp_id));
	if (o->tcp) {
		json_object_set_new(rec, "bytes", trf_json_count(o->tcp_bytes));
	} else {
		json_object_set_new(rec, "payload", json_integer(o->payload));
		json_object_set_new(rec, "rate_target", trf_json_whole(o->rate));
	}
	if (!o->tcp && o->traffic == &tapgen_udp)
		json_object_set_new(rec, "gso", json_integer(o->gso));
	json_object_set_new(rec, "duration_s", trf_json_fixed(o->duration, 3));
	json_object_set_new(rec, "search", json_boolean(o->search));
	json_object_set_new(rec, "cpu", o->cpu >= 0 ? json_integer(o->cpu) : json_null());
	/* --metrics: where a scraper finds them, the port the one in use (0 asked: the one given). */
	if (o->metrics)
		json_object_set_new(rec, "metrics", json_string(o->metrics_at));
	trf_ready_send_record("tapgen", o->ready_fd, rec);
}
