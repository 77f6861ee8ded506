/* SPDX-License-Identifier: MIT */
/*
 * The virtio-net header in front of a frame (devices opened with
 * IFF_VNET_HDR): loading it, and checking it against the frame it describes.
 *
 * A mode reflects a frame with its header unchanged (the swaps change no
 * length, offset or checksum the header refers to), so the header it writes
 * back is valid exactly when the one it read is: these checks refuse what
 * the kernel's write path (virtio_net_hdr_to_skb) would refuse, and what
 * does not describe the frame at all.  csum_start counts from the first byte
 * after the header, which is the Ethernet header on TAP and the IP header on
 * TUN.
 */
#ifndef TRF_PROTO_VNET_H
#define TRF_PROTO_VNET_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "parse.h"
#include "tapreflect/reflect.h"
#include "wire.h"

struct trf_vnet {
	uint8_t *hdr; /* the header's bytes, in the frame buffer */
	uint8_t flags;
	uint8_t gso_type; /* TRF_VNET_GSO_* without the ECN bit */
	bool ecn;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
};

/* p holds at least TRF_VNET_HDR_LEN bytes (the caller checked). */
static inline void trf_vnet_load(struct trf_vnet *v, uint8_t *p)
{
	v->hdr = p;
	v->flags = p[0];
	v->gso_type = p[1] & (uint8_t)~TRF_VNET_GSO_ECN;
	v->ecn = p[1] & TRF_VNET_GSO_ECN;
	memcpy(&v->hdr_len, p + 2, 2);
	memcpy(&v->gso_size, p + 4, 2);
	memcpy(&v->csum_start, p + 6, 2);
	memcpy(&v->csum_offset, p + 8, 2);
}

/* Whether the frame is to be segmented or checksummed by whoever receives it. */
static inline bool trf_vnet_is_plain(const struct trf_vnet *v)
{
	return v->gso_type == TRF_VNET_GSO_NONE && !(v->flags & TRF_VNET_F_NEEDS_CSUM);
}

/*
 * What holds whatever the frame carries: known flags and GSO types, a GSO
 * frame with a segment size and a checksum to complete, the checksum field
 * and hdr_len inside the len bytes that follow the header.
 */
static inline enum trf_drop trf_vnet_check(const struct trf_vnet *v, uint32_t len)
{
	uint32_t end = v->hdr_len;

	if (v->flags & ~(TRF_VNET_F_NEEDS_CSUM | TRF_VNET_F_DATA_VALID))
		return TRF_DROP_BAD_VNET_HDR;
	switch (v->gso_type) {
	case TRF_VNET_GSO_NONE:
		if (v->ecn)
			return TRF_DROP_BAD_VNET_HDR;
		break;
	case TRF_VNET_GSO_TCPV4:
	case TRF_VNET_GSO_TCPV6:
	case TRF_VNET_GSO_UDP_L4:
		if (v->gso_size == 0 || !(v->flags & TRF_VNET_F_NEEDS_CSUM) ||
		    (v->ecn && v->gso_type == TRF_VNET_GSO_UDP_L4))
			return TRF_DROP_BAD_VNET_HDR;
		break;
	default:
		return TRF_DROP_BAD_VNET_HDR; /* UFO (3) and anything newer */
	}
	if (v->flags & TRF_VNET_F_NEEDS_CSUM) {
		uint32_t csum_end = (uint32_t)v->csum_start + v->csum_offset + 2;

		if (csum_end > len)
			return TRF_DROP_BAD_VNET_HDR;
		/* The kernel raises hdr_len to cover the checksum field. */
		if (csum_end > end)
			end = csum_end;
		/* UDP segmentation: the UDP checksum, and no more segments than UDP allows. */
		if (v->gso_type == TRF_VNET_GSO_UDP_L4 &&
		    (v->csum_offset != 6 ||
		     len - csum_end > (uint32_t)v->gso_size * TRF_VNET_UDP_MAX_SEGMENTS))
			return TRF_DROP_BAD_VNET_HDR;
	}
	return end > len ? TRF_DROP_BAD_VNET_HDR : TRF_DROP_NONE;
}

/*
 * What holds once the frame is parsed: the GSO type matches the IP version
 * and transport, and a checksum to complete is the transport's own (starts
 * at its header, at the field of its protocol).  l4proto is 0 where the
 * frame has no transport header of its own (not IP, a later fragment).
 */
static inline enum trf_drop trf_vnet_check_l4(const struct trf_vnet *v, int ip_version,
					      uint8_t l4proto, uint32_t l4off, uint32_t l4len)
{
	uint32_t field;

	switch (v->gso_type) {
	case TRF_VNET_GSO_TCPV4:
		if (ip_version != 4 || l4proto != TRF_IPPROTO_TCP)
			return TRF_DROP_BAD_VNET_HDR;
		break;
	case TRF_VNET_GSO_TCPV6:
		if (ip_version != 6 || l4proto != TRF_IPPROTO_TCP)
			return TRF_DROP_BAD_VNET_HDR;
		break;
	case TRF_VNET_GSO_UDP_L4:
		/* Its checksum field and segment count: trf_vnet_check(). */
		if (l4proto != TRF_IPPROTO_UDP)
			return TRF_DROP_BAD_VNET_HDR;
		break;
	default:
		break;
	}
	if (!(v->flags & TRF_VNET_F_NEEDS_CSUM))
		return TRF_DROP_NONE;
	switch (l4proto) {
	case TRF_IPPROTO_TCP:
		field = 16;
		break;
	case TRF_IPPROTO_UDP:
		field = 6;
		break;
	case TRF_IPPROTO_ICMP:
	case TRF_IPPROTO_ICMPV6:
		field = 2;
		break;
	default:
		return TRF_DROP_BAD_VNET_HDR;
	}
	if (v->csum_start != l4off || v->csum_offset != field || l4len < field + 2)
		return TRF_DROP_BAD_VNET_HDR;
	return TRF_DROP_NONE;
}

/* Where a frame's transport header is, as far as a virtio-net header cares. */
struct trf_l4_loc {
	int ip_version; /* 4, 6, or 0: not IP */
	uint8_t proto; /* the transport protocol, 0 if the frame carries no transport header */
	uint32_t off; /* from the frame's first byte */
	uint32_t len; /* transport header and payload, as the IP length says */
	uint8_t icmp_type; /* ICMP/ICMPv6: the message type */
};

/*
 * Find the transport header of frame[0..len) for trf_vnet_check_l4().  Only
 * what that check needs is parsed; a frame this cannot make sense of is left
 * with proto 0, and the mode itself says what is wrong with it.
 */
static inline void trf_vnet_locate_l4(const struct trf_reflect_ctx *ctx, const uint8_t *frame,
				      uint32_t len, struct trf_l4_loc *loc)
{
	struct trf_l2 l2 = { 0, 0 };
	const uint8_t *ip;
	uint32_t rest;

	*loc = (struct trf_l4_loc){ 0 };
	if (ctx->link == TRF_LINK_TAP) {
		if (trf_walk_ether(frame, len, &l2) != TRF_DROP_NONE)
			return;
	} else if (len < 1) {
		return;
	}
	ip = frame + l2.l3;
	rest = len - l2.l3;
	if (rest >= TRF_IPV4_MIN_HLEN && (ip[0] >> 4) == 4 &&
	    (ctx->link == TRF_LINK_TUN || l2.proto == TRF_ETHERTYPE_IPV4)) {
		uint32_t hlen = (uint32_t)(ip[0] & 0x0f) * 4, total = trf_load_be16(ip + 2);

		loc->ip_version = 4;
		if (hlen < TRF_IPV4_MIN_HLEN || total < hlen || total > rest ||
		    (trf_load_be16(ip + 6) & 0x1fff) != 0)
			return;
		loc->off = l2.l3 + hlen;
		loc->len = total - hlen;
		loc->proto = ip[9];
	} else if (rest >= TRF_IPV6_HLEN && (ip[0] >> 4) == 6 &&
		   (ctx->link == TRF_LINK_TUN || l2.proto == TRF_ETHERTYPE_IPV6)) {
		uint32_t total = TRF_IPV6_HLEN + trf_load_be16(ip + 4), off;
		bool first_fragment;
		uint8_t next;

		loc->ip_version = 6;
		if (total > rest ||
		    trf_ipv6_walk_ext(ip, total, &off, &next, &first_fragment) != TRF_DROP_NONE ||
		    !first_fragment)
			return;
		loc->off = l2.l3 + off;
		loc->len = total - off;
		loc->proto = next;
	} else {
		return;
	}
	if ((loc->proto == TRF_IPPROTO_ICMP || loc->proto == TRF_IPPROTO_ICMPV6) && loc->len > 0)
		loc->icmp_type = frame[loc->off];
}

#endif /* TRF_PROTO_VNET_H */
