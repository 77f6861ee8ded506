/* SPDX-License-Identifier: MIT */
/*
 * --imix: a mix of Ethernet frame sizes instead of one --size, and the bit
 * rates benchmarking reports for frames (RFC 2544 section 9 frame sizes and
 * RFC 1242's frame: the FCS counted, the preamble not).
 *
 * A mix is up to TAPGEN_IMIX_SIZES frame sizes with integer weights, sent
 * in one fixed interleave of cycle = sum of weights datagrams: nginx's
 * smooth weighted round-robin (each step adds every size's weight to its
 * current value, takes the largest, first on a tie, and takes the cycle off
 * it).  Every size is sent exactly its weight's times per cycle, spread
 * over the cycle rather than in runs (csit, 64:7,570:4,1518:1: 64, 570, 64,
 * 64, 570, 64, 1518, 64, 570, 64, 570, 64).  It is smooth, not free of
 * repeats: 64:4,570:4,1518:6 puts two 1518s together where an order
 * without any exists.
 *
 * The size of datagram seq is the size at position seq % cycle, and each
 * trial begins at a multiple of the cycle (tapgen_imix_align): the sender
 * and the receiver agree on every datagram's size with no state per
 * datagram, every trial sends the same sequence, and what a trial sent of
 * each size follows from how many it sent (tapgen_imix_count).
 */
#ifndef TRF_TAPGEN_IMIX_H
#define TRF_TAPGEN_IMIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hist.h"

#define TAPGEN_IMIX_SIZES 16 /* sizes in a mix */
#define TAPGEN_IMIX_CYCLE 4096 /* the weights' sum at most: positions of the interleave */
#define TAPGEN_FRAME_MIN 64 /* Ethernet's smallest frame, FCS included */
#define TAPGEN_FRAME_MAX 9018 /* a 9000 B MTU's frame */
#define TAPGEN_ETH_HEADER_FCS 18 /* 14 B header + 4 B FCS: in the frame's size */
#define TAPGEN_ETH_WIRE \
	20 /* 7 B preamble + 1 B SFD + 12 B minimum gap: on the wire, not in the frame */

struct tapgen_imix {
	const char *spec; /* as given: "csit", or the list */
	unsigned int n; /* sizes, in the order given */
	unsigned int frame[TAPGEN_IMIX_SIZES]; /* Ethernet frame bytes, FCS included */
	unsigned int weight[TAPGEN_IMIX_SIZES];
	unsigned int
	    payload[TAPGEN_IMIX_SIZES]; /* tapgen's payload of each (tapgen_imix_payloads) */
	unsigned int max_payload;
	unsigned int cycle; /* the weights' sum */
	uint8_t order[TAPGEN_IMIX_CYCLE]; /* the size (index) at each position of the cycle */
};

/*
 * Parse spec into m (caller-owned; m->spec points at spec, which must
 * outlive it): "csit" (FD.io CSIT's IMIX, 64:7,570:4,1518:1) or
 * SIZE[:WEIGHT],... with SIZE a frame's bytes, FCS included, 64..9018, each
 * size once, WEIGHT 1 or more (default 1), the weights' sum at most
 * TAPGEN_IMIX_CYCLE; then the interleave.  0, or -EINVAL with why said in
 * why (without the option's name).
 */
int tapgen_imix_parse(struct tapgen_imix *m, const char *spec, char *why, size_t why_len);

/*
 * Bytes of a frame that are not tapgen's payload: Ethernet header and FCS,
 * the IPv4 or IPv6 header, and the 8 B UDP or ICMP echo header (the same
 * size, so both kinds map a frame to the same payload).  On a TUN device,
 * which carries IP packets, the frame is the packet + 18.
 */
static inline unsigned int tapgen_frame_overhead(bool ipv6)
{
	return TAPGEN_ETH_HEADER_FCS + (ipv6 ? 40 : 20) + 8;
}

/*
 * Each size's payload for this family; -EINVAL when one is under
 * min_payload, why naming the smallest frame allowed for `kind` ("UDP",
 * "ICMP echo") over that family.
 */
int tapgen_imix_payloads(struct tapgen_imix *m, bool ipv6, unsigned int min_payload,
			 const char *kind, char *why, size_t why_len);

/* The size of datagram seq: the same for the sender and the receiver. */
static inline unsigned int tapgen_imix_index(const struct tapgen_imix *m, uint64_t seq)
{
	return m->order[seq % m->cycle];
}

/* The first sequence number from seq on that begins a cycle: where a trial starts. */
static inline uint64_t tapgen_imix_align(const struct tapgen_imix *m, uint64_t seq)
{
	uint64_t r = seq % m->cycle;

	return r ? seq + (m->cycle - r) : seq;
}

/* Is len the payload of one of the mix's sizes (a reply that may be ours)? */
static inline bool tapgen_imix_has_payload(const struct tapgen_imix *m, size_t len)
{
	for (unsigned int i = 0; i < m->n; i++)
		if (m->payload[i] == len)
			return true;
	return false;
}

/* Datagrams of size i among the first n of a trial (which begins at a cycle). */
uint64_t tapgen_imix_count(const struct tapgen_imix *m, uint64_t n, unsigned int i);

/* The mix's mean frame, by weight: csit's is 4246 / 12 = 353.83 B. */
double tapgen_imix_mean_frame(const struct tapgen_imix *m);

/*
 * Bit rates of frames[i] frames of frame_bytes[i] bytes each (FCS included)
 * in `seconds`: L2 = frames/s x mean frame x 8, the frames alone; L1 =
 * frames/s x (mean frame + 20) x 8, with each frame's preamble, SFD and
 * minimum inter-frame gap, what the link carries.  All 0 when there are no
 * frames or no time.
 */
struct tapgen_bitrate {
	double frames_per_s;
	double mean_frame_bytes;
	double l2_gbps, l1_gbps;
};
struct tapgen_bitrate tapgen_bitrate(const unsigned int *frame_bytes, const uint64_t *frames,
				     unsigned int n, double seconds);

/*
 * A trial's replies by size: unique ones, and every reply's RTT (ns) in a
 * histogram of its own, n of them, allocated once (216 KiB each, hist.h).
 */
struct tapgen_imix_stats {
	unsigned int n;
	uint64_t reflected[TAPGEN_IMIX_SIZES];
	struct tapgen_hist *rtt[TAPGEN_IMIX_SIZES];
};

/* NULL when out of memory; destroy takes NULL and a half-made one. */
struct tapgen_imix_stats *tapgen_imix_stats_create(unsigned int n);
void tapgen_imix_stats_destroy(struct tapgen_imix_stats *s);
void tapgen_imix_stats_reset(struct tapgen_imix_stats *s);

#endif
