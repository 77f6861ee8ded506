/* SPDX-License-Identifier: MIT */
/*
 * The iperf2 server report, and the per-queue state of `--reflect iperf2`.
 *
 * An iperf2 UDP client numbers its datagrams (a 64-bit sequence number split
 * over two 32-bit words, the low one first, and its send time), and ends a
 * test with a datagram whose sequence number is negative: minus the number
 * of datagrams it sent.  A server counts what arrives and answers each such
 * final datagram with its report: bytes, duration, lost and out-of-order
 * datagrams, the datagram count and the jitter (RFC 3550, from the client's
 * send times and its own receive clock).  Layout, all fields big-endian
 * 32-bit words, as iperf 2.1 sends it:
 *
 *   0   datagram header: 4 words, zero
 *   16  flags (VERSION1 | SEQNO64B), bytes high, bytes low, stop s, stop us,
 *       lost low, out-of-order low, datagrams low, jitter s, jitter us
 *   56  transit extension: min, max, sum, mean, m2, last delta (each s, us),
 *       count, IPG count, IPG sum
 *   116 lost high, out-of-order high, datagrams high
 *   128 end
 */
#ifndef TAPREFLECT_IPERF2_H
#define TAPREFLECT_IPERF2_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TRF_IPERF2_DEFAULT_PORT 5001
#define TRF_IPERF2_HDR_LEN 16 /* a datagram's own header: seq low, send s, send us, seq high */
#define TRF_IPERF2_REPORT_LEN 128 /* the whole report */
#define TRF_IPERF2_REPORT_V1_LEN 56 /* the part every client reads */
#define TRF_IPERF2_FLAG_VERSION1 0x80000000u
#define TRF_IPERF2_FLAG_SEQNO64B 0x08000000u

/* Flows each queue follows at once; an idle one gives its place up after TRF_IPERF2_IDLE_S. */
#define TRF_IPERF2_FLOWS 1024
#define TRF_IPERF2_IDLE_S 60

/* What a server reports of one test.  Times in seconds. */
struct trf_iperf2_report {
	uint64_t bytes; /* UDP payload bytes received, the final datagram's too */
	uint64_t datagrams; /* the highest sequence number: what the client sent */
	uint64_t lost; /* gaps in the sequence, less the datagrams that came late */
	uint64_t out_of_order; /* datagrams older than one already seen */
	double stop_s; /* first datagram to final datagram, on the receive clock */
	double jitter_s;
	/* One-way transit (receive clock minus send time): minimum, maximum, sum, mean. */
	double transit_min_s, transit_max_s, transit_sum_s, transit_mean_s;
	double transit_m2; /* sum of squared deviations, in microseconds squared */
	double transit_vd_s; /* the last transit's deviation from the running mean */
	uint32_t transit_count;
};

/*
 * Write the report into out[0..room): all of it when room holds
 * TRF_IPERF2_REPORT_LEN bytes; the 56-byte part without the 64-bit counts
 * (no SEQNO64B flag) when only that fits; nothing when less does.  Returns
 * the bytes written.
 */
size_t trf_iperf2_report_encode(uint8_t *out, size_t room, const struct trf_iperf2_report *r);

/* Read a report as a client would: 0, or -1 when len is short or VERSION1 is not set. */
int trf_iperf2_report_decode(const uint8_t *in, size_t len, struct trf_iperf2_report *r);

/* The mode's per-queue state (trf_reflect_mode.state_size bytes); opaque. */
struct trf_iperf2_state;

/* Receive clock in microseconds (CLOCK_REALTIME, as the client's send times); tests set their own. */
void trf_iperf2_set_clock(struct trf_iperf2_state *st, uint64_t (*now_us)(void *arg), void *arg);

/* Flows the state follows now (not yet idle). */
unsigned int trf_iperf2_flows(const struct trf_iperf2_state *st);

#ifdef __cplusplus
}
#endif

#endif /* TAPREFLECT_IPERF2_H */
