// SPDX-License-Identifier: MIT
/*
 * --imix: the mix's parser, its interleave, the payload of each frame size,
 * what a trial sent of each, the bit rates, and the replies' accounting by
 * size (imix.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imix.h"

/* FD.io CSIT's IMIX: 7 x 64 B, 4 x 570 B, 1 x 1518 B (frames with their FCS). */
static const char csit_mix[] = "64:7,570:4,1518:1";

/* A decimal number of 1 to 9 digits at *p, nothing else; its end in *p. */
static bool whole(const char **p, unsigned long *v)
{
	const char *s = *p;
	unsigned long n = 0;
	int digits = 0;

	while (*s >= '0' && *s <= '9' && digits < 10) {
		n = n * 10 + (unsigned long)(*s++ - '0');
		digits++;
	}
	if (digits == 0 || digits > 9)
		return false;
	*p = s;
	*v = n;
	return true;
}

/*
 * nginx's smooth weighted round-robin over one cycle: after `cycle` steps
 * every current value is back at 0, so the cycle repeats exactly and holds
 * each size its weight's times.
 */
static void interleave(struct tapgen_imix *m)
{
	int64_t cur[TAPGEN_IMIX_SIZES] = { 0 };

	for (unsigned int pos = 0; pos < m->cycle; pos++) {
		unsigned int best = 0;

		for (unsigned int i = 0; i < m->n; i++) {
			cur[i] += m->weight[i];
			if (cur[i] > cur[best])
				best = i;
		}
		cur[best] -= m->cycle;
		m->order[pos] = (uint8_t)best;
	}
}

int tapgen_imix_parse(struct tapgen_imix *m, const char *spec, char *why, size_t why_len)
{
	const char *p = strcasecmp(spec, "csit") == 0 ? csit_mix : spec;
	unsigned long cycle = 0;

	memset(m, 0, sizeof(*m));
	m->spec = spec;
	for (;;) {
		unsigned long frame, weight = 1;

		if (!whole(&p, &frame)) {
			snprintf(why, why_len,
				 "expected csit or SIZE[:WEIGHT],... with SIZE an Ethernet frame's "
				 "bytes, FCS included, %d..%d",
				 TAPGEN_FRAME_MIN, TAPGEN_FRAME_MAX);
			return -EINVAL;
		}
		if (frame < TAPGEN_FRAME_MIN || frame > TAPGEN_FRAME_MAX) {
			snprintf(why, why_len,
				 "a %lu B frame: frames are %d (Ethernet's least) to %d B (a 9000 "
				 "B MTU's), FCS included",
				 frame, TAPGEN_FRAME_MIN, TAPGEN_FRAME_MAX);
			return -EINVAL;
		}
		if (*p == ':') {
			p++;
			if (!whole(&p, &weight) || weight == 0) {
				snprintf(why, why_len,
					 "the weight of %lu B: a whole number, 1 or more", frame);
				return -EINVAL;
			}
		}
		for (unsigned int i = 0; i < m->n; i++) {
			if (m->frame[i] == frame) {
				snprintf(why, why_len, "%lu B given twice: add up its weights",
					 frame);
				return -EINVAL;
			}
		}
		if (m->n == TAPGEN_IMIX_SIZES) {
			snprintf(why, why_len, "at most %d sizes", TAPGEN_IMIX_SIZES);
			return -EINVAL;
		}
		cycle += weight;
		if (cycle > TAPGEN_IMIX_CYCLE) {
			snprintf(why, why_len, "the weights add up to over %d", TAPGEN_IMIX_CYCLE);
			return -EINVAL;
		}
		m->frame[m->n] = (unsigned int)frame;
		m->weight[m->n++] = (unsigned int)weight;
		if (*p == '\0')
			break;
		if (*p != ',') {
			snprintf(why, why_len, "unexpected '%c' after the %lu B size", *p, frame);
			return -EINVAL;
		}
		p++;
	}
	m->cycle = (unsigned int)cycle;
	interleave(m);
	return 0;
}

int tapgen_imix_payloads(struct tapgen_imix *m, bool ipv6, unsigned int min_payload,
			 const char *kind, char *why, size_t why_len)
{
	unsigned int over = tapgen_frame_overhead(ipv6);

	m->max_payload = 0;
	for (unsigned int i = 0; i < m->n; i++) {
		if (m->frame[i] < over + min_payload) {
			snprintf(
			    why, why_len,
			    "a %u B frame cannot carry %s over %s: %u B of headers and FCS and "
			    "%u B of payload (sequence number and send time) need frames of "
			    "%u B or more",
			    m->frame[i], kind, ipv6 ? "IPv6" : "IPv4", over, min_payload,
			    over + min_payload);
			return -EINVAL;
		}
		m->payload[i] = m->frame[i] - over;
		if (m->payload[i] > m->max_payload)
			m->max_payload = m->payload[i];
	}
	return 0;
}

uint64_t tapgen_imix_count(const struct tapgen_imix *m, uint64_t n, unsigned int i)
{
	uint64_t count = n / m->cycle * m->weight[i];

	for (unsigned int pos = 0; pos < n % m->cycle; pos++)
		count += m->order[pos] == i;
	return count;
}

double tapgen_imix_mean_frame(const struct tapgen_imix *m)
{
	uint64_t bytes = 0;

	for (unsigned int i = 0; i < m->n; i++)
		bytes += (uint64_t)m->frame[i] * m->weight[i];
	return m->cycle ? (double)bytes / m->cycle : 0;
}

struct tapgen_bitrate tapgen_bitrate(const unsigned int *frame_bytes, const uint64_t *frames,
				     unsigned int n, double seconds)
{
	struct tapgen_bitrate r = { 0 };
	double count = 0, bytes = 0;

	for (unsigned int i = 0; i < n; i++) {
		count += (double)frames[i];
		bytes += (double)frames[i] * frame_bytes[i];
	}
	if (count == 0 || seconds <= 0)
		return r;
	r.frames_per_s = count / seconds;
	r.mean_frame_bytes = bytes / count;
	r.l2_gbps = r.frames_per_s * r.mean_frame_bytes * 8 / 1e9;
	r.l1_gbps = r.frames_per_s * (r.mean_frame_bytes + TAPGEN_ETH_WIRE) * 8 / 1e9;
	return r;
}

struct tapgen_imix_stats *tapgen_imix_stats_create(unsigned int n)
{
	struct tapgen_imix_stats *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->n = n;
	for (unsigned int i = 0; i < n; i++) {
		s->rtt[i] = tapgen_hist_create();
		if (!s->rtt[i]) {
			tapgen_imix_stats_destroy(s);
			return NULL;
		}
	}
	return s;
}

void tapgen_imix_stats_destroy(struct tapgen_imix_stats *s)
{
	if (!s)
		return;
	for (unsigned int i = 0; i < s->n; i++)
		tapgen_hist_destroy(s->rtt[i]);
	free(s);
}

void tapgen_imix_stats_reset(struct tapgen_imix_stats *s)
{
	for (unsigned int i = 0; i < s->n; i++) {
		s->reflected[i] = 0;
		tapgen_hist_reset(s->rtt[i]);
	}
}
