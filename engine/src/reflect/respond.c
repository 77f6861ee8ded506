// SPDX-License-Identifier: MIT
/*
 * The `respond` mode: behave like a host that answers everything sent to it.
 *
 * Every check happens before the first store, so a dropped frame is left
 * exactly as it was read.  No rewrite changes a checksum except the ICMP type
 * change: swapping the two addresses or the two ports permutes the words of
 * the IPv4 header and of the L4 pseudo-header sum, and the one's complement
 * sum does not depend on word order.
 */
#include "modes.h"
#include "proto.h"
#include "tapreflect/csum.h"
#include "tapreflect/reflect.h"

static bool ipv4_is_bad_source(const uint8_t *a)
{
	static const uint8_t any[4] = { 0, 0, 0, 0 };
	static const uint8_t bcast[4] = { 255, 255, 255, 255 };

	return memcmp(a, any, 4) == 0 || memcmp(a, bcast, 4) == 0 || (a[0] & 0xf0) == 224;
}

static bool ipv4_is_group_dest(const uint8_t *a)
{
	static const uint8_t bcast[4] = { 255, 255, 255, 255 };

	return memcmp(a, bcast, 4) == 0 || (a[0] & 0xf0) == 224;
}

/* ip points at the IPv4 header, len is what the frame holds from there on. */
static enum trf_drop respond_ipv4(uint8_t *ip, uint32_t len)
{
	uint32_t hlen, total, l4len;
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
	if (ipv4_is_bad_source(ip + 12))
		return TRF_DROP_SRC_NOT_UNICAST;
	if (ipv4_is_group_dest(ip + 16))
		return TRF_DROP_DST_NOT_UNICAST;

	l4 = ip + hlen;
	l4len = total - hlen;
	/* Only a first fragment (offset 0) carries the L4 header. */
	if ((trf_load_be16(ip + 6) & 0x1fff) == 0) {
		switch (ip[9]) {
		case TRF_IPPROTO_ICMP: {
			uint16_t old_word, new_word, check;

			if (l4len < TRF_ICMP_HLEN)
				return TRF_DROP_MALFORMED;
			if (l4[0] != TRF_ICMP_ECHO_REQUEST)
				return TRF_DROP_ICMP_NOT_ECHO;
			memcpy(&old_word, l4, 2);
			l4[0] = TRF_ICMP_ECHO_REPLY;
			memcpy(&new_word, l4, 2);
			memcpy(&check, l4 + 2, 2);
			check = trf_csum_update16(check, old_word, new_word);
			memcpy(l4 + 2, &check, 2);
			break;
		}
		case TRF_IPPROTO_UDP:
			if (l4len < TRF_UDP_HLEN)
				return TRF_DROP_MALFORMED;
			trf_swap_bytes(l4, l4 + 2, 2);
			break;
		case TRF_IPPROTO_TCP:
			if (l4len < TRF_TCP_MIN_HLEN)
				return TRF_DROP_MALFORMED;
			trf_swap_bytes(l4, l4 + 2, 2);
			break;
		default:
			break;
		}
	}
	trf_swap_bytes(ip + 12, ip + 16, 4);
	return TRF_DROP_NONE;
}

/* Turn an ARP request for any IPv4 address into the reply of its owner. */
static enum trf_drop respond_arp(const struct trf_reflect_ctx *ctx, uint8_t *frame, uint32_t len)
{
	uint8_t *arp = frame + TRF_ETH_HLEN;
	uint8_t *sha = arp + 8, *spa = arp + 14, *tha = arp + 18, *tpa = arp + 24;
	static const uint8_t any[4];

	if (len < TRF_ETH_HLEN + TRF_ARP_LEN)
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
	memcpy(frame, tha, TRF_ETH_ALEN);
	memcpy(frame + TRF_ETH_ALEN, ctx->mac, TRF_ETH_ALEN);
	return TRF_DROP_NONE;
}

static enum trf_drop respond_ether(const struct trf_reflect_ctx *ctx, uint8_t *frame, uint32_t len)
{
	uint8_t *dst = frame, *src = frame + TRF_ETH_ALEN;
	enum trf_drop drop;

	if (len < TRF_ETH_HLEN)
		return TRF_DROP_RUNT;
	if (trf_mac_is_group(src) || trf_mac_is_zero(src))
		return TRF_DROP_SRC_NOT_UNICAST;

	switch (trf_load_be16(frame + 12)) {
	case TRF_ETHERTYPE_ARP:
		return respond_arp(ctx, frame, len);
	case TRF_ETHERTYPE_IPV4:
		drop = respond_ipv4(frame + TRF_ETH_HLEN, len - TRF_ETH_HLEN);
		break;
	default:
		return TRF_DROP_UNSUPPORTED;
	}
	if (drop != TRF_DROP_NONE)
		return drop;

	/* A reply never leaves from a group address: answer as ourselves. */
	if (trf_mac_is_group(dst)) {
		memcpy(dst, src, TRF_ETH_ALEN);
		memcpy(src, ctx->mac, TRF_ETH_ALEN);
	} else {
		trf_swap_bytes(dst, src, TRF_ETH_ALEN);
	}
	return TRF_DROP_NONE;
}

enum trf_drop trf_respond_frame(const struct trf_reflect_ctx *ctx, uint8_t *frame, uint32_t len,
				uint32_t *out_len)
{
	enum trf_drop drop;

	if (ctx->link == TRF_LINK_TAP) {
		drop = respond_ether(ctx, frame, len);
	} else if (len < 1) {
		drop = TRF_DROP_RUNT;
	} else {
		/* IFF_NO_PI: the version nibble is all that says what follows. */
		switch (frame[0] >> 4) {
		case 4:
			drop = respond_ipv4(frame, len);
			break;
		case 6:
			drop = TRF_DROP_UNSUPPORTED;
			break;
		default:
			drop = TRF_DROP_MALFORMED;
			break;
		}
	}
	if (drop == TRF_DROP_NONE)
		*out_len = len;
	return drop;
}

static void respond_burst(const struct trf_reflect_ctx *ctx, struct trf_frame *frames,
			  unsigned int count)
{
	for (unsigned int i = 0; i < count; i++) {
		struct trf_frame *f = &frames[i];

		f->drop = (uint16_t)trf_respond_frame(ctx, f->data, f->len, &f->len);
	}
}

const struct trf_reflect_mode trf_reflect_mode_respond = {
	.name = "respond",
	.help = "answer ARP and ICMP echo, swap UDP/TCP 5-tuples, bounce other IPv4",
	.links = TRF_LINK_TAP | TRF_LINK_TUN,
	.burst = respond_burst,
};
