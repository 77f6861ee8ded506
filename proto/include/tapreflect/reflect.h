/* SPDX-License-Identifier: MIT */
/*
 * Reflect: pure functions that turn a frame around in place.
 *
 * A reflect mode takes a burst of frames just read from one queue, decides
 * for each one whether it goes back (verdict TRF_DROP_NONE, possibly with a
 * new length that is never larger than the old one) or why it is dropped,
 * and rewrites the frames it keeps.  Modes know nothing of io_uring, threads
 * or devices; the worker knows nothing of protocols.
 */
#ifndef TAPREFLECT_REFLECT_H
#define TAPREFLECT_REFLECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Framing of the queue: TAP carries Ethernet frames, TUN bare IP packets. */
enum trf_link {
	TRF_LINK_TAP = 1u << 0,
	TRF_LINK_TUN = 1u << 1,
};

/*
 * Why a mode did not reflect a frame.  One list, so that the enum, the
 * counter names in every report and their explanations cannot drift apart.
 * Drops that the I/O path decides (a failed write) are not a mode's verdict:
 * they are listed with the counters, in tapreflect/stats.h.
 */
/* clang-format off */
#define TRF_DROP_REASONS(X)                                                                        \
	X(RUNT, "runt", "shorter than the link or network header it starts")                      \
	X(TRUNCATED, "truncated", "larger than its buffer: the read filled it, or the IP length exceeds it")        \
	X(MALFORMED, "malformed", "bad IP version, header length, total length or L4 header")      \
	X(UNSUPPORTED, "unsupported", "link or network protocol this mode does not handle")       \
	X(VLAN_TOO_DEEP, "vlan_too_deep", "more than two VLAN tags (802.1Q/QinQ)")                   \
	X(ARP_IGNORED, "arp_ignored", "ARP other than a request (replies, gratuitous, probes)")   \
	X(NDP_IGNORED, "ndp_ignored", "NDP other than a solicitation (DAD probes, RS, RA, NA)")     \
	X(ICMP_NOT_ECHO, "icmp_not_echo", "ICMP other than echo request: errors are never answered") \
	X(SOCKPERF_IGNORED, "sockperf_ignored", "UDP that is no sockperf request for a reply")      \
	X(SRC_NOT_UNICAST, "src_not_unicast", "source MAC or IP is multicast, broadcast or zero")    \
	X(DST_NOT_UNICAST, "dst_not_unicast", "destination IP is multicast or broadcast")            \
	X(BAD_VNET_HDR, "bad_vnet_hdr", "virtio-net header that does not fit the frame (offloads)")   \
	X(IPERF2_TABLE_FULL, "iperf2_table_full", "iperf2 datagram of a new flow while its queue's flow table was full")

enum trf_drop {
	TRF_DROP_NONE = 0, /* reflected */
#define TRF_DROP_ENUM_(id, name, help) TRF_DROP_##id,
	TRF_DROP_REASONS(TRF_DROP_ENUM_)
#undef TRF_DROP_ENUM_
	TRF_DROP__COUNT,
	/*
	 * Not a drop: the mode took the frame in, as the server it plays would
	 * (iperf2 data datagrams).  Never written; counted apart, as consumed.
	 */
	TRF_CONSUMED = 0xff
};
/* clang-format on */

/* Counter name ("truncated") and one-line explanation of a drop reason. */
const char *trf_drop_name(enum trf_drop reason);
const char *trf_drop_help(enum trf_drop reason);

/*
 * The virtio-net header tun puts in front of every frame of a device opened
 * with IFF_VNET_HDR (struct virtio_net_hdr, 10 bytes, fields in the host's
 * byte order as tun writes them by default): how the frame is to be
 * checksummed and segmented.  With it, a TCP or UDP superpacket of up to
 * 64 KiB passes as one frame.
 */
#define TRF_VNET_HDR_LEN 10
#define TRF_VNET_F_NEEDS_CSUM 1 /* the L4 checksum field holds the pseudo-header sum */
#define TRF_VNET_F_DATA_VALID 2
#define TRF_VNET_GSO_NONE 0
#define TRF_VNET_GSO_TCPV4 1
#define TRF_VNET_GSO_TCPV6 4
#define TRF_VNET_GSO_UDP_L4 5 /* UDP segmentation (USO), Linux 6.2+ */
#define TRF_VNET_GSO_ECN 0x80
#define TRF_VNET_UDP_MAX_SEGMENTS 128 /* the kernel refuses a longer UDP superpacket */

/* What a mode needs to know about the far end it pretends to be. */
struct trf_reflect_ctx {
	enum trf_link link;
	uint8_t mac[6]; /* the reflector's MAC: ARP replies, multicast-destined frames */
	/*
	 * Every frame of a burst starts with a virtio-net header
	 * (TRF_VNET_HDR_LEN bytes, counted in len), and the burst function takes
	 * it as the *_vnet_frame() entry points below do.
	 */
	bool vnet_hdr;
	/* --reflect iperf2: UDP to these destination ports is iperf2's (default 5001). */
	uint16_t iperf2_port_lo, iperf2_port_hi;
	/*
	 * A mode that keeps state (mode->state_size != 0) finds its own here:
	 * one per queue, so one ctx per queue, used by that queue's worker only.
	 */
	void *state;
};

/*
 * One frame of a burst.  data/len describe the bytes read; the mode updates
 * len and sets the verdict: TRF_DROP_NONE (write it back), TRF_CONSUMED
 * (taken in, not a drop), or the reason it is dropped.  cookie belongs to
 * the caller (a buffer id, say) and is never touched by a mode.
 */
struct trf_frame {
	uint8_t *data;
	uint32_t len;
	uint32_t cookie;
	uint16_t verdict; /* enum trf_drop */
};

typedef void (*trf_reflect_burst_fn)(const struct trf_reflect_ctx *ctx, struct trf_frame *frames,
				     unsigned int count);

/* A reflect mode, as listed by `tapreflect --reflect help`. */
struct trf_reflect_mode {
	const char *name;
	const char *help;
	unsigned int links; /* TRF_LINK_* bits the mode works on */
	trf_reflect_burst_fn burst;
	/* Some frames are taken in, as a server would (TRF_CONSUMED): reports show them. */
	bool consumes;
	/* Bytes of per-queue state (0: none) and how to make it ready (zeroed first). */
	size_t state_size;
	void (*state_init)(void *state);
};

/* NULL-terminated table of every mode; the first one is the default. */
extern const struct trf_reflect_mode *const trf_reflect_modes[];

/* The mode called name, or NULL. */
const struct trf_reflect_mode *trf_reflect_mode_find(const char *name);

/*
 * Single-frame entry points of the modes (each mode's burst function loops
 * over its own).  Each returns TRF_DROP_NONE and sets *out_len (never more than len)
 * when the frame is to be written back, else the drop reason; a dropped frame
 * is left exactly as it was, and no byte at or beyond len is ever read or
 * written.
 *
 * respond:  ARP and NDP answered, ICMP/ICMPv6 echo requests answered, UDP/TCP
 *           5-tuples swapped, other IPv4/IPv6 bounced with addresses swapped;
 *           802.1Q/QinQ tags kept.
 * macswap:  TAP only; Ethernet addresses swapped, nothing else touched.
 * sockperf: respond, but UDP is answered as a sockperf server would.
 * iperf2:   respond, but UDP to ctx's iperf2 ports is taken in as an iperf2
 *           server would (TRF_CONSUMED), and a client's final datagram is
 *           answered with the server report; needs ctx->state (see iperf2.h).
 */
enum trf_drop trf_respond_frame(const struct trf_reflect_ctx *ctx, uint8_t *frame, uint32_t len,
				uint32_t *out_len);
enum trf_drop trf_macswap_frame(const struct trf_reflect_ctx *ctx, uint8_t *frame, uint32_t len,
				uint32_t *out_len);
enum trf_drop trf_sockperf_frame(const struct trf_reflect_ctx *ctx, uint8_t *frame, uint32_t len,
				 uint32_t *out_len);
enum trf_drop trf_iperf2_frame(const struct trf_reflect_ctx *ctx, uint8_t *frame, uint32_t len,
			       uint32_t *out_len);

/*
 * The same behind a virtio-net header: buf holds the header and then the
 * frame, len counts both, and *out_len too.  The header is checked against
 * the frame before anything is stored, and kept on what is reflected (the
 * swaps change nothing it refers to; a checksum left for the receiver to
 * complete keeps its pseudo-header sum; an NDP answer, built anew, gets a
 * plain header).  A header that the kernel's write path would refuse, or that
 * does not describe the frame, drops it as bad_vnet_hdr: such a frame is
 * never written.
 */
enum trf_drop trf_respond_vnet_frame(const struct trf_reflect_ctx *ctx, uint8_t *buf, uint32_t len,
				     uint32_t *out_len);
enum trf_drop trf_macswap_vnet_frame(const struct trf_reflect_ctx *ctx, uint8_t *buf, uint32_t len,
				     uint32_t *out_len);
enum trf_drop trf_sockperf_vnet_frame(const struct trf_reflect_ctx *ctx, uint8_t *buf, uint32_t len,
				      uint32_t *out_len);
enum trf_drop trf_iperf2_vnet_frame(const struct trf_reflect_ctx *ctx, uint8_t *buf, uint32_t len,
				    uint32_t *out_len);

#ifdef __cplusplus
}
#endif

#endif /* TAPREFLECT_REFLECT_H */
