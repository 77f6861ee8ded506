// SPDX-License-Identifier: MIT
/* tapgen's results: a trial as text and as JSON fields; every record's common header. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <unistd.h>

#include "ready.h"
#include "tapgen.h"

/* Lost share of `sent` (1 when none was sent, as tapgen_loss_ratio says). */
static double loss_of(uint64_t sent, uint64_t back)
{
	return sent ? (double)(sent - back) / (double)sent : 1.0;
}

static double hist_us(const struct tapgen_hist *h, double p)
{
	return (double)tapgen_hist_percentile(h, p) / 1e3;
}

/*
 * The frame and bit rates of what a trial sent and of what came back
 * (reflected: unique replies), each frame counted at its size: --imix's
 * sizes, each sent as many times as its place in the cycle says, or the
 * one frame --size makes.
 */
static void bitrates(const struct gen_opts *o, const struct trial *t,
		     struct tapgen_bitrate *offered, struct tapgen_bitrate *reflected)
{
	const struct gen_stats *s = &t->st;
	unsigned int frame[TAPGEN_IMIX_SIZES], n = 1;
	uint64_t sent[TAPGEN_IMIX_SIZES], back[TAPGEN_IMIX_SIZES];

	if (o->imix && s->imix) {
		n = o->imix->n;
		for (unsigned int i = 0; i < n; i++) {
			frame[i] = o->imix->frame[i];
			sent[i] = tapgen_imix_count(o->imix, s->sent, i);
			back[i] = s->imix->reflected[i];
		}
	} else {
		frame[0] = tapgen_frame_bytes(o);
		sent[0] = s->sent;
		back[0] = s->unique;
	}
	*offered = tapgen_bitrate(frame, sent, n, t->elapsed);
	*reflected = tapgen_bitrate(frame, back, n, t->elapsed);
}

void tapgen_print_trial(FILE *f, const struct gen_opts *o, const struct trial *t)
{
	const struct gen_stats *s = &t->st;
	struct tapgen_bitrate off, refl;

	fprintf(f, "tapgen: %u %s flow(s), ", o->flows, o->traffic->label);
	if (o->imix)
		fprintf(f, "IMIX %s (mean frame %.1f B)", o->imix->spec,
			tapgen_imix_mean_frame(o->imix));
	else
		fprintf(f, "%u B payload", o->payload);
	fprintf(f,
		", %.2f s: sent %" PRIu64 " (%.0f pps), reflected %" PRIu64
		" (%.0f pps), lost %" PRIu64 " (%.4f%%), duplicates %" PRIu64 ", reordered %" PRIu64
		", corrupt %" PRIu64 "\n",
		t->elapsed, s->sent, (double)s->sent / t->elapsed, s->unique,
		(double)s->unique / t->elapsed, s->sent - s->unique, tapgen_loss_ratio(t) * 100,
		s->duplicates, s->reordered, s->corrupt);
	fprintf(f,
		"tapgen: rtt us: min %.1f p50 %.1f p90 %.1f p99 %.1f p99.9 %.1f p99.99 %.1f "
		"p99.999 %.1f max %.1f\n",
		(double)tapgen_hist_min(s->rtt) / 1e3, tapgen_rtt_percentile_us(s, 50),
		tapgen_rtt_percentile_us(s, 90), tapgen_rtt_percentile_us(s, 99),
		tapgen_rtt_percentile_us(s, 99.9), tapgen_rtt_percentile_us(s, 99.99),
		tapgen_rtt_percentile_us(s, 99.999), (double)tapgen_hist_max(s->rtt) / 1e3);
	for (unsigned int i = 0; o->imix && s->imix && i < o->imix->n; i++) {
		const struct tapgen_hist *h = s->imix->rtt[i];
		uint64_t sent = tapgen_imix_count(o->imix, s->sent, i);

		fprintf(f,
			"tapgen: imix %4u B frame (%4u B payload) x%u: sent %" PRIu64
			", reflected %" PRIu64 ", lost %" PRIu64 " (%.4f%%), rtt us min %.1f "
			"p50 %.1f p99 %.1f p99.9 %.1f max %.1f\n",
			o->imix->frame[i], o->imix->payload[i], o->imix->weight[i], sent,
			s->imix->reflected[i], sent - s->imix->reflected[i],
			loss_of(sent, s->imix->reflected[i]) * 100,
			(double)tapgen_hist_min(h) / 1e3, hist_us(h, 50), hist_us(h, 99),
			hist_us(h, 99.9), (double)tapgen_hist_max(h) / 1e3);
	}
	bitrates(o, t, &off, &refl);
	fprintf(f,
		"tapgen: reflected %.0f frames/s of %.1f B: L2 %.4f Gbit/s, L1 %.4f Gbit/s; "
		"offered %.0f frames/s of %.1f B: L2 %.4f Gbit/s, L1 %.4f Gbit/s\n",
		refl.frames_per_s, refl.mean_frame_bytes, refl.l2_gbps, refl.l1_gbps,
		off.frames_per_s, off.mean_frame_bytes, off.l2_gbps, off.l1_gbps);
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

/* min, p50, p99, p999, max of one size's RTTs, as rtt_us names them. */
static json_t *json_size_rtt(const struct tapgen_hist *h)
{
	json_t *rtt = json_object();

	json_object_set_new(rtt, "min", trf_json_fixed((double)tapgen_hist_min(h) / 1e3, 1));
	json_object_set_new(rtt, "p50", trf_json_fixed(hist_us(h, 50), 1));
	json_object_set_new(rtt, "p99", trf_json_fixed(hist_us(h, 99), 1));
	json_object_set_new(rtt, "p999", trf_json_fixed(hist_us(h, 99.9), 1));
	json_object_set_new(rtt, "max", trf_json_fixed((double)tapgen_hist_max(h) / 1e3, 1));
	return rtt;
}

/*
 * The bit rates (l2_gbps, l1_gbps: of the reflected frames; offered_...: of
 * those sent), and frame_bytes, or with --imix the "imix" object: the mix
 * and each size's accounting.
 */
static void json_bitrates(json_t *rec, const struct gen_opts *o, const struct trial *t)
{
	const struct gen_stats *s = &t->st;
	struct tapgen_bitrate off, refl;
	json_t *imix, *sizes;

	bitrates(o, t, &off, &refl);
	if (!o->imix || !s->imix)
		json_object_set_new(rec, "frame_bytes", json_integer(tapgen_frame_bytes(o)));
	json_object_set_new(rec, "l2_gbps", trf_json_fixed(refl.l2_gbps, 6));
	json_object_set_new(rec, "l1_gbps", trf_json_fixed(refl.l1_gbps, 6));
	json_object_set_new(rec, "offered_l2_gbps", trf_json_fixed(off.l2_gbps, 6));
	json_object_set_new(rec, "offered_l1_gbps", trf_json_fixed(off.l1_gbps, 6));
	if (!o->imix || !s->imix)
		return;
	imix = json_object();
	sizes = json_array();
	json_object_set_new(imix, "spec", json_string(o->imix->spec));
	for (unsigned int i = 0; i < o->imix->n; i++) {
		json_t *z = json_object();
		uint64_t sent = tapgen_imix_count(o->imix, s->sent, i);
		uint64_t back = s->imix->reflected[i];

		json_object_set_new(z, "frame_bytes", json_integer(o->imix->frame[i]));
		json_object_set_new(z, "payload", json_integer(o->imix->payload[i]));
		json_object_set_new(z, "weight", json_integer(o->imix->weight[i]));
		json_object_set_new(z, "sent", trf_json_count(sent));
		json_object_set_new(z, "reflected", trf_json_count(back));
		json_object_set_new(z, "lost", trf_json_count(sent - back));
		json_object_set_new(z, "loss_ratio", trf_json_fixed(loss_of(sent, back), 6));
		json_object_set_new(z, "rtt_us", json_size_rtt(s->imix->rtt[i]));
		json_array_append_new(sizes, z);
	}
	json_object_set_new(imix, "sizes", sizes);
	json_object_set_new(imix, "cycle", json_integer(o->imix->cycle));
	json_object_set_new(imix, "mean_frame_bytes",
			    trf_json_fixed(tapgen_imix_mean_frame(o->imix), 4));
	json_object_set_new(imix, "l2_gbps", trf_json_fixed(refl.l2_gbps, 6));
	json_object_set_new(imix, "l1_gbps", trf_json_fixed(refl.l1_gbps, 6));
	json_object_set_new(imix, "offered_l2_gbps", trf_json_fixed(off.l2_gbps, 6));
	json_object_set_new(imix, "offered_l1_gbps", trf_json_fixed(off.l1_gbps, 6));
	json_object_set_new(rec, "imix", imix);
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
	json_bitrates(rec, o, t);
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
		json_object_set_new(rec, "imix",
				    o->imix ? json_string(o->imix->spec) : json_null());
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
