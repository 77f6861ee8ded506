// SPDX-License-Identifier: MIT
/* tapgen's results: a trial as text and as JSON fields. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdlib.h>
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
	fprintf(f, "tapgen: rtt us: min %.1f p50 %.1f p90 %.1f p99 %.1f p99.9 %.1f max %.1f\n",
		(double)s->rtt_min_ns / 1e3, tapgen_rtt_percentile_us(s, 50),
		tapgen_rtt_percentile_us(s, 90), tapgen_rtt_percentile_us(s, 99),
		tapgen_rtt_percentile_us(s, 99.9), (double)s->rtt_max_ns / 1e3);
}

/*
 * The RTT histogram for charts: the 1 us buckets gathered into bins of about
 * ten per decade (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^k us), nonzero ones
 * only, as [from_us, to_us, count]: a bin holds from <= rtt < to.
 */
static void json_rtt_hist(FILE *f, const struct gen_stats *s)
{
	static const unsigned int mant[] = { 10, 12, 15, 20, 25, 30, 40, 50, 60, 80 };
	unsigned int from = 0, to, k = 1, scale = 1; /* after 10 us: 12, 15, ... */
	bool first = true;

	fputc('[', f);
	while (from < RTT_BUCKETS) {
		uint64_t n = 0;

		to = from < 10 ? from + 1 : mant[k] * scale;
		if (from >= 10 && ++k == sizeof(mant) / sizeof(mant[0])) {
			k = 0;
			scale *= 10;
		}
		if (to > RTT_BUCKETS)
			to = RTT_BUCKETS;
		for (unsigned int i = from; i < to; i++)
			n += s->rtt_hist[i];
		if (n) {
			fprintf(f, "%s[%u,%u,%" PRIu64 "]", first ? "" : ",", from, to, n);
			first = false;
		}
		from = to;
	}
	fputc(']', f);
}

void tapgen_json_trial(FILE *f, const struct gen_opts *o, const struct trial *t)
{
	const struct gen_stats *s = &t->st;

	fprintf(
	    f,
	    "\"proto\":\"%s\",\"flows\":%u,\"payload\":%u,\"rate_target\":%.0f,\"duration_s\":%.3f,"
	    "\"sent\":%" PRIu64 ",\"send_errors\":%" PRIu64 ",\"received\":%" PRIu64
	    ",\"reflected\":%" PRIu64 ",\"lost\":%" PRIu64
	    ",\"loss_ratio\":%.6f,\"duplicates\":%" PRIu64 ",\"reordered\":%" PRIu64
	    ",\"foreign\":%" PRIu64 ",\"late\":%" PRIu64 ",\"corrupt\":%" PRIu64
	    ",\"offered_pps\":%.0f,\"reflected_pps\":%.0f,"
	    "\"rtt_us\":{\"min\":%.1f,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,"
	    "\"max\":%.1f},\"rtt_hist_us\":",
	    o->traffic->name, o->flows, o->payload, t->rate, t->elapsed, s->sent, s->send_errors,
	    s->received, s->unique, s->sent - s->unique, tapgen_loss_ratio(t), s->duplicates,
	    s->reordered, s->foreign, s->late, s->corrupt, (double)s->sent / t->elapsed,
	    (double)s->unique / t->elapsed, (double)s->rtt_min_ns / 1e3,
	    tapgen_rtt_percentile_us(s, 50), tapgen_rtt_percentile_us(s, 90),
	    tapgen_rtt_percentile_us(s, 99), tapgen_rtt_percentile_us(s, 99.9),
	    (double)s->rtt_max_ns / 1e3);
	json_rtt_hist(f, s);
}

/*
 * Does `rate` pass with loss <= allowed?  Up to --repeats trials, stopping as
 * soon as a majority agrees: one sporadic loss on a noisy VM does not fail a
 * rate, and one lucky trial does not pass it.
 */

void tapgen_ready(const struct gen_opts *o)
{
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&o->dst;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&o->dst;
	const char *proto = o->tcp ? "tcp" : o->traffic->name;
	char dst[INET6_ADDRSTRLEN] = "?", *line = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&line, &len);

	if (!f) {
		fprintf(stderr, "tapgen: --ready-fd %d: out of memory (going on)\n", o->ready_fd);
		close(o->ready_fd);
		return;
	}
	/* As a caller would write it back: the canonical form, not what was typed. */
	if (o->dst.ss_family == AF_INET)
		inet_ntop(AF_INET, &s4->sin_addr, dst, sizeof(dst));
	else
		inet_ntop(AF_INET6, &s6->sin6_addr, dst, sizeof(dst));
	fprintf(f,
		"{\"type\":\"start\",\"schema_version\":%d,\"version\":\"%s\",\"pid\":%ld,"
		"\"proto\":\"%s\",\"dst\":\"%s\",\"flows\":%u,",
		TAPGEN_SCHEMA_VERSION, TRF_VERSION, (long)getpid(), proto, dst, o->flows);
	/* A flow is a destination port, or (ICMP) an echo id. */
	if (o->tcp || o->traffic == &tapgen_udp)
		fprintf(f, "\"port\":%u,", o->port);
	else
		fprintf(f, "\"icmp_id\":%u,", (unsigned int)o->icmp_id);
	if (o->tcp)
		fprintf(f, "\"bytes\":%" PRIu64 ",", o->tcp_bytes);
	else
		fprintf(f, "\"payload\":%u,\"rate_target\":%.0f,", o->payload, o->rate);
	if (!o->tcp && o->traffic == &tapgen_udp)
		fprintf(f, "\"gso\":%u,", o->gso);
	fprintf(f, "\"duration_s\":%.3f,\"search\":%s,\"cpu\":", o->duration,
		o->search ? "true" : "false");
	if (o->cpu >= 0)
		fprintf(f, "%d}\n", o->cpu);
	else
		fputs("null}\n", f);
	if (fclose(f) != 0 || !line) {
		fprintf(stderr, "tapgen: --ready-fd %d: out of memory (going on)\n", o->ready_fd);
		free(line);
		close(o->ready_fd);
		return;
	}
	trf_ready_send("tapgen", o->ready_fd, line, len);
	free(line);
}
