// SPDX-License-Identifier: MIT
/*
 * The `respond` mode: behave like a host that answers everything sent to it.
 * ARP and NDP solicitations are answered, ICMP/ICMPv6 echo requests become
 * replies, UDP and TCP get their ports swapped, and every IP packet its
 * addresses.  Other modes that differ only in what they do with UDP (sockperf)
 * reuse it through trf_respond_frame_with().
 *
 * Every check happens before the first store, so a dropped frame is left
 * exactly as it was read.  Swapping the two addresses or the two ports
 * changes no checksum: it permutes words of the IPv4 header and of the L4
 * pseudo-header sum, and the one's complement sum does not depend on word
 * order.  Only type changes (ICMP echo, ICMPv6 echo), a mode's UDP rewrite and
 * the NDP advertisement, which is built anew, touch checksums.
 */
#include "respond.h"

#include "modes.h"
#include "parse.h"
#include "tapreflect/csum.h"
#include "tapreflect/reflect.h"
#include "vnet.h"
#include "wire.h"

/* Deliberate extra work per frame, only in builds that test the regression gate. */
#ifndef TRF_INJECT_SLOWDOWN
#define TRF_INJECT_SLOWDOWN 0
#endif

/* UDP and TCP: ports swapped, or UDP as the mode's udp function says.  Checks before stores. */
static inline __attribute__((always_inline)) enum trf_drop
transport(const struct trf_reflect_ctx *ctx, uint8_t *ip, uint8_t proto, uint8_t *l4,
	  uint32_t l4len, trf_udp_fn udp, bool superpacket)
{
	switch (proto) {
	case TRF_IPPROTO_UDP:
		if (l4len < TRF_UDP_HLEN)
			return TRF_DROP_MALFORMED;
		if (udp)
			return udp(ctx, ip, l4, l4len, superpacket);
		trf_swap_bytes(l4, l4 + 2, 2);
		return TRF_DROP_NONE;
	case TRF_IPPROTO_TCP:
		if (l4len < TRF_TCP_MIN_HLEN)
			return TRF_DROP_MALFORMED;
		trf_swap_bytes(l4, l4 + 2, 2);
		return TRF_DROP_NONE;
	default:
		return TRF_DROP_NONE;
	}
}

/* ip points at the IPv4 header, len is what the frame holds from there on. */
static enum trf_drop respond_ipv4(const struct trf_reflect_ctx *ctx, uint8_t *ip, uint32_t len,
				  trf_udp_fn udp, bool superpacket)
{
	uint32_t hlen, total, l4len;
	enum trf_drop drop;
	uint8_t *l4;

	if (len < TRF_IPV4_MIN_HLEN)
		return TRF_DROP_RUNT;
	if ((ip[0] >> 4) != 4)
		return TRF_DROP_MALFORMED;
	hlen = (uint32_t)(ip[0] & 0x0f) * 4;
	total = trf_load_be16(ip + 2);
	if (hlen < TRF_IPV4_MIN_HLEN || total < hlen)
		return TRF_DROP_MALFORMED;
	/* Bytes beyond total are link padding; fewer means the read was cut. */
	if (total > len)
		return TRF_DROP_TRUNCATED;
	if (trf_ipv4_is_bad_source(ip + 12))
		return TRF_DROP_SRC_NOT_UNICAST;
	if (trf_ipv4_is_group_dest(ip + 16))
		return TRF_DROP_DST_NOT_UNICAST;

	l4 = ip + hlen;
	l4len = total - hlen;
	/* Only a first fragment (offset 0) carries the L4 header. */
	if ((trf_load_be16(ip + 6) & 0x1fff) == 0) {
		if (ip[9] == TRF_IPPROTO_ICMP) {
			if (l4len < TRF_ICMP_HLEN)
				return TRF_DROP_MALFORMED;
			if (l4[0] != TRF_ICMP_ECHO_REQUEST)
				return TRF_DROP_ICMP_NOT_ECHO;
			trf_set_word(l4, l4 + 2, (uint16_t)(TRF_ICMP_ECHO_REPLY << 8 | l4[1]));
		} else {
			drop = transport(ctx, ip, ip[9], l4, l4len, udp, superpacket);
			if (drop != TRF_DROP_NONE)
				return drop;
		}
	}
	trf_swap_bytes(ip + 12, ip + 16, 4);
	return TRF_DROP_NONE;
}

/* The ICMPv6 checksum of msg[0..len) between src and dst. */
static uint16_t icmpv6_checksum(const uint8_t *src, const uint8_t *dst, const uint8_t *msg,
				uint32_t len)
{
	uint8_t tail[8] = { 0 };
	uint32_t sum;

	tail[0] = (uint8_t)(len >> 24);
	tail[1] = (uint8_t)(len >> 16);
	tail[2] = (uint8_t)(len >> 8);
	tail[3] = (uint8_t)len;
	tail[7] = TRF_IPPROTO_ICMPV6;
	sum = trf_csum_partial(src, 16, 0);
	sum = trf_csum_partial(dst, 16, sum);
	sum = trf_csum_partial(tail, sizeof(tail), sum);
	return trf_csum_fold(trf_csum_partial(msg, len, sum));
}

/*
 * Neighbor Solicitation → Neighbor Advertisement from the reflector's MAC.
 * ip: the IPv6 header (no extension headers) inside frame.
 */
static __attribute__((noinline)) enum trf_drop answer_ns(const struct trf_reflect_ctx *ctx,
							 uint8_t *frame, uint8_t *ip,
							 uint32_t icmp_len, uint32_t *out_len)
{
	uint8_t *icmp = ip + TRF_IPV6_HLEN, *target = icmp + 8;
	uint32_t na_len = TRF_ND_NS_LEN;
	uint16_t check;

	/* RFC 4861 §7.1.1: hop limit 255, code 0, target not multicast. */
	if (ip[7] != 255 || icmp[1] != 0 || icmp_len < TRF_ND_NS_LEN ||
	    trf_ipv6_is_multicast(target))
		return TRF_DROP_NDP_IGNORED;
	/* Duplicate address detection: the prober owns nothing yet. */
	if (trf_ipv6_is_unspecified(ip + 8))
		return TRF_DROP_NDP_IGNORED;
	/* The target link-layer option, if the solicitation left room for it. */
	if (icmp_len >= TRF_ND_NS_LEN + TRF_ND_OPT_LLA_LEN)
		na_len += TRF_ND_OPT_LLA_LEN;

	memcpy(ip + 24, ip + 8, 16); /* to the solicitor */
	memcpy(ip + 8, target, 16); /* from the target */
	trf_store_be16(ip + 4, (uint16_t)na_len);
	ip[6] = TRF_IPPROTO_ICMPV6;
	icmp[0] = TRF_ND_NEIGHBOR_ADVERT;
	icmp[1] = 0;
	memset(icmp + 2, 0, 6);
	icmp[4] = TRF_ND_NA_SOLICITED | TRF_ND_NA_OVERRIDE;
	if (na_len > TRF_ND_NS_LEN) {
		uint8_t *opt = icmp + TRF_ND_NS_LEN;

		opt[0] = TRF_ND_OPT_TLLA;
		opt[1] = 1; /* in units of 8 bytes */
		memcpy(opt + 2, ctx->mac, TRF_ETH_ALEN);
	}
	check = icmpv6_checksum(ip + 8, ip + 24, icmp, na_len);
	memcpy(icmp + 2, &check, 2);
	/* The Ethernet header is turned around by the caller, as for any reply. */
	*out_len = (uint32_t)(ip - frame) + TRF_IPV6_HLEN + na_len;
	return TRF_DROP_NONE;
}

/*
 * frame: the whole frame (TAP) or the packet (TUN); ip = frame + l3off.
 * *out_len is set only for a rewrite that changes the length (NDP).
 */
static enum trf_drop respond_ipv6(const struct trf_reflect_ctx *ctx, uint8_t *frame, uint32_t l3off,
				  uint32_t len, trf_udp_fn udp, bool superpacket, uint32_t *out_len)
{
	uint8_t *ip = frame + l3off;
	uint32_t total, off;
	bool first_fragment;
	enum trf_drop drop;
	uint8_t next;

	len -= l3off;
	if (len < TRF_IPV6_HLEN)
		return TRF_DROP_RUNT;
	if ((ip[0] >> 4) != 6)
		return TRF_DROP_MALFORMED;
	total = TRF_IPV6_HLEN + trf_load_be16(ip + 4);
	if (total > len)
		return TRF_DROP_TRUNCATED;
	if (trf_ipv6_is_multicast(ip + 8))
		return TRF_DROP_SRC_NOT_UNICAST;

	drop = trf_ipv6_walk_ext(ip, total, &off, &next, &first_fragment);
	if (drop != TRF_DROP_NONE)
		return drop;

	if (first_fragment && next == TRF_IPPROTO_ICMPV6) {
		uint8_t *icmp = ip + off;
		uint32_t icmp_len = total - off;

		if (icmp_len < 4)
			return TRF_DROP_MALFORMED;
		switch (icmp[0]) {
		case TRF_ICMPV6_ECHO_REQUEST:
			if (icmp_len < TRF_ICMP_HLEN)
				return TRF_DROP_MALFORMED;
			if (trf_ipv6_is_multicast(ip + 24))
				return TRF_DROP_DST_NOT_UNICAST;
			if (trf_ipv6_is_unspecified(ip + 8))
				return TRF_DROP_SRC_NOT_UNICAST;
			trf_set_word(icmp, icmp + 2,
				     (uint16_t)(TRF_ICMPV6_ECHO_REPLY << 8 | icmp[1]));
			break;
		case TRF_ND_NEIGHBOR_SOLICIT:
			if (ctx->link != TRF_LINK_TAP || off != TRF_IPV6_HLEN)
				return TRF_DROP_NDP_IGNORED;
			return answer_ns(ctx, frame, ip, icmp_len, out_len);
		default:
			if (icmp[0] >= TRF_ND_ROUTER_SOLICIT && icmp[0] <= TRF_ND_REDIRECT)
				return TRF_DROP_NDP_IGNORED;
			return TRF_DROP_ICMP_NOT_ECHO;
		}
	} else {
		if (trf_ipv6_is_multicast(ip + 24))
			return TRF_DROP_DST_NOT_UNICAST;
		if (trf_ipv6_is_unspecified(ip + 8))
			return TRF_DROP_SRC_NOT_UNICAST;
		if (first_fragment) {
			drop = transport(ctx, ip, next, ip + off, total - off, udp, superpacket);
			if (drop != TRF_DROP_NONE)
				return drop;
		}
	}
	trf_swap_bytes(ip + 8, ip + 24, 16);
	return TRF_DROP_NONE;
}

/* Turn an ARP request for any IPv4 address into the reply of its owner. */
static enum trf_drop respond_arp(const struct trf_reflect_ctx *ctx, uint8_t *frame, uint32_t l3,
				 uint32_t len)
{
	uint8_t *arp = frame + l3;
	uint8_t *sha = arp + 8, *spa = arp + 14, *tha = arp + 18, *tpa = arp + 24;
	static const uint8_t any[4];

	if (len - l3 < TRF_ARP_LEN)
		return TRF_DROP_RUNT;
	if (trf_load_be16(arp) != 1 || trf_load_be16(arp + 2) != TRF_ETHERTYPE_IPV4 ||
	    arp[4] != TRF_ETH_ALEN || arp[5] != 4)
		return TRF_DROP_ARP_IGNORED;
	/* Replies, gratuitous announcements and RFC 5227 probes get no answer. */
	if (trf_load_be16(arp + 6) != 1 || memcmp(spa, tpa, 4) == 0 || memcmp(spa, any, 4) == 0)
		return TRF_DROP_ARP_IGNORED;
	if (trf_mac_is_group(sha))
		return TRF_DROP_SRC_NOT_UNICAST;

	trf_store_be16(arp + 6, 2);
	memcpy(tha, sha, TRF_ETH_ALEN);
	memcpy(sha, ctx->mac, TRF_ETH_ALEN);
	trf_swap_bytes(spa, tpa, 4);
	memcpy(frame, frame + TRF_ETH_ALEN, TRF_ETH_ALEN);
	memcpy(frame + TRF_ETH_ALEN, ctx->mac, TRF_ETH_ALEN);
	return TRF_DROP_NONE;
}

static inline __attribute__((always_inline)) enum trf_drop
respond(const struct trf_reflect_ctx *ctx, uint8_t *frame, uint32_t len, uint32_t *out_len,
	trf_udp_fn udp, bool superpacket)
{
	struct trf_l2 l2 = { 0, 0 };
	enum trf_drop drop;

#if TRF_INJECT_SLOWDOWN > 0
	for (volatile int spin = 0; spin < TRF_INJECT_SLOWDOWN; spin++)
		;
#endif
	*out_len = len;
	if (ctx->link == TRF_LINK_TAP) {
		drop = trf_walk_ether(frame, len, &l2);
		if (drop != TRF_DROP_NONE)
			return drop;
	} else {
		/* IFF_NO_PI: the version nibble is all that says what follows. */
		if (len < 1)
			return TRF_DROP_RUNT;
		l2.proto = (frame[0] >> 4) == 4	  ? TRF_ETHERTYPE_IPV4
			   : (frame[0] >> 4) == 6 ? TRF_ETHERTYPE_IPV6
						  : 0;
		if (!l2.proto)
			return TRF_DROP_MALFORMED;
	}

	switch (l2.proto) {
	case TRF_ETHERTYPE_ARP:
		return ctx->link == TRF_LINK_TAP ? respond_arp(ctx, frame, l2.l3, len)
						 : TRF_DROP_UNSUPPORTED;
	case TRF_ETHERTYPE_IPV4:
		drop = respond_ipv4(ctx, frame + l2.l3, len - l2.l3, udp, superpacket);
		break;
	case TRF_ETHERTYPE_IPV6:
		drop = respond_ipv6(ctx, frame, l2.l3, len, udp, superpacket, out_len);
		break;
	default:
		return TRF_DROP_UNSUPPORTED;
	}
	if (drop == TRF_DROP_NONE && ctx->link == TRF_LINK_TAP)
		trf_swap_ether(ctx, frame);
	return drop;
}

/*
 * A frame behind its virtio-net header (ctx->vnet_hdr).  The header is
 * checked against the frame before respond() touches a byte.  respond()
 * changes no length or offset the header refers to, except when it answers a
 * neighbour solicitation, so the header stays valid as it was read.  A
 * checksum the receiver is to complete (NEEDS_CSUM) holds only the
 * pseudo-header sum, which the swaps leave as it is; what respond() adds to
 * it for a rewritten payload word (an echo type, sockperf's flags) would be
 * counted twice once the receiver sums the payload, so the field gets its
 * read value back.
 */
static enum trf_drop respond_vnet(const struct trf_reflect_ctx *ctx, uint8_t *buf, uint32_t len,
				  uint32_t *out_len, trf_udp_fn udp)
{
	uint8_t *frame = buf + TRF_VNET_HDR_LEN, partial[2] = { 0, 0 };
	struct trf_l4_loc loc;
	struct trf_vnet vn;
	enum trf_drop drop;
	bool answer_ns;

	if (len < TRF_VNET_HDR_LEN)
		return TRF_DROP_RUNT;
	len -= TRF_VNET_HDR_LEN;
	trf_vnet_load(&vn, buf);
	drop = trf_vnet_check(&vn, len);
	if (drop != TRF_DROP_NONE)
		return drop;
	trf_vnet_locate_l4(ctx, frame, len, &loc);
	drop = trf_vnet_check_l4(&vn, loc.ip_version, loc.proto, loc.off, loc.len);
	if (drop != TRF_DROP_NONE)
		return drop;
	/* The advertisement is built anew, shorter, with a full checksum. */
	answer_ns = loc.proto == TRF_IPPROTO_ICMPV6 && loc.icmp_type == TRF_ND_NEIGHBOR_SOLICIT;
	if (answer_ns && vn.gso_type != TRF_VNET_GSO_NONE)
		return TRF_DROP_BAD_VNET_HDR;
	if (vn.flags & TRF_VNET_F_NEEDS_CSUM)
		memcpy(partial, frame + vn.csum_start + vn.csum_offset, 2);
	drop = respond(ctx, frame, len, out_len, udp, vn.gso_type != TRF_VNET_GSO_NONE);
	if (drop != TRF_DROP_NONE)
		return drop;
	if (answer_ns)
		memset(buf, 0, TRF_VNET_HDR_LEN); /* a plain frame, complete as it is */
	else if (vn.flags & TRF_VNET_F_NEEDS_CSUM)
		memcpy(frame + vn.csum_start + vn.csum_offset, partial, 2);
	*out_len += TRF_VNET_HDR_LEN;
	return TRF_DROP_NONE;
}

enum trf_drop trf_respond_frame(const struct trf_reflect_ctx *ctx, uint8_t *frame, uint32_t len,
				uint32_t *out_len)
{
	uint32_t out;
	enum trf_drop drop = respond(ctx, frame, len, &out, NULL, false);

	if (drop == TRF_DROP_NONE)
		*out_len = out;
	return drop;
}

enum trf_drop trf_respond_vnet_frame(const struct trf_reflect_ctx *ctx, uint8_t *buf, uint32_t len,
				     uint32_t *out_len)
{
	uint32_t out;
	enum trf_drop drop = respond_vnet(ctx, buf, len, &out, NULL);

	if (drop == TRF_DROP_NONE)
		*out_len = out;
	return drop;
}

enum trf_drop trf_respond_frame_with(const struct trf_reflect_ctx *ctx, uint8_t *frame,
				     uint32_t len, uint32_t *out_len, trf_udp_fn udp)
{
	uint32_t out;
	enum trf_drop drop = respond(ctx, frame, len, &out, udp, false);

	if (drop == TRF_DROP_NONE)
		*out_len = out;
	return drop;
}

enum trf_drop trf_respond_vnet_frame_with(const struct trf_reflect_ctx *ctx, uint8_t *buf,
					  uint32_t len, uint32_t *out_len, trf_udp_fn udp)
{
	uint32_t out;
	enum trf_drop drop = respond_vnet(ctx, buf, len, &out, udp);

	if (drop == TRF_DROP_NONE)
		*out_len = out;
	return drop;
}

/* Every frame of a burst comes from one queue: with a virtio-net header, or none has one. */
static void respond_burst(const struct trf_reflect_ctx *ctx, struct trf_frame *frames,
			  unsigned int count)
{
	if (ctx->vnet_hdr) {
		for (unsigned int i = 0; i < count; i++) {
			struct trf_frame *f = &frames[i];

			f->verdict =
			    (uint16_t)trf_respond_vnet_frame(ctx, f->data, f->len, &f->len);
		}
		return;
	}
	for (unsigned int i = 0; i < count; i++) {
		struct trf_frame *f = &frames[i];

		f->verdict = (uint16_t)trf_respond_frame(ctx, f->data, f->len, &f->len);
	}
}

const struct trf_reflect_mode trf_reflect_mode_respond = {
	.name = "respond",
	.help = "answer ARP, NDP and ICMP/ICMPv6 echo, swap UDP/TCP 5-tuples, bounce other IP",
	.links = TRF_LINK_TAP | TRF_LINK_TUN,
	.burst = respond_burst,
};
