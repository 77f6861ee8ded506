/* SPDX-License-Identifier: MIT */
/*
 * Frame parsing shared by the reflect modes: the link-header walk, address
 * classes, and the checksum-preserving word rewrite.
 *
 * These run for every frame, so they are static inline: called across
 * translation units they would cost a call per frame, which the exact
 * instruction counts (tapreflect-bench micro) show.  Every function takes the
 * bytes it may read as (pointer, length) or documents the length its caller
 * has already checked.
 */
#ifndef TRF_PROTO_PARSE_H
#define TRF_PROTO_PARSE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tapreflect/csum.h"
#include "tapreflect/reflect.h"
#include "wire.h"

/* Where the network header starts, found by walking the link header. */
struct trf_l2 {
	uint32_t l3; /* offset of the network header */
	uint16_t proto; /* its EtherType */
};

/* 4 bytes checked by the caller. */
static inline bool trf_ipv4_is_bad_source(const uint8_t *a)
{
	static const uint8_t any[4] = { 0, 0, 0, 0 };
	static const uint8_t bcast[4] = { 255, 255, 255, 255 };

	return memcmp(a, any, 4) == 0 || memcmp(a, bcast, 4) == 0 || (a[0] & 0xf0) == 224;
}

static inline bool trf_ipv4_is_group_dest(const uint8_t *a)
{
	static const uint8_t bcast[4] = { 255, 255, 255, 255 };

	return memcmp(a, bcast, 4) == 0 || (a[0] & 0xf0) == 224;
}

/* 16 bytes checked by the caller. */
static inline bool trf_ipv6_is_multicast(const uint8_t *a)
{
	return a[0] == 0xff;
}

static inline bool trf_ipv6_is_unspecified(const uint8_t *a)
{
	static const uint8_t any[16];

	return memcmp(a, any, 16) == 0;
}

/*
 * Replace the 16-bit word at p and fix the checksum at check accordingly
 * (RFC 1624, both fields inside bytes the caller checked).
 *
 * A result of 0x0000 is written as 0xFFFF, its other one's complement form:
 * when the rewritten message is all zero (an echo reply with id 0, seq 0 and
 * no payload) only 0xFFFF verifies, and 0xFFFF verifies in every other case
 * too (0xFFFF + 0xFFFF folds to 0xFFFF).  For UDP it is also the rule: zero
 * would mean "no checksum".
 */
static inline void trf_set_word(uint8_t *p, uint8_t *check, uint16_t new_word_be)
{
	uint16_t old_word, new_word, sum;

	memcpy(&old_word, p, 2);
	trf_store_be16(p, new_word_be);
	memcpy(&new_word, p, 2);
	memcpy(&sum, check, 2);
	sum = trf_csum_update16(sum, old_word, new_word);
	if (sum == 0)
		sum = 0xffff;
	memcpy(check, &sum, 2);
}

/*
 * Walk the Ethernet header and up to two VLAN tags (802.1Q, QinQ); the tags
 * stay in place, so every reply keeps them.  A source that is a group or
 * zero address is refused here: nothing is ever answered to it.
 */
static inline enum trf_drop trf_walk_ether(const uint8_t *frame, uint32_t len, struct trf_l2 *l2)
{
	uint32_t off = 12;
	int tags = 0;

	if (len < TRF_ETH_HLEN)
		return TRF_DROP_RUNT;
	if (trf_mac_is_group(frame + TRF_ETH_ALEN) || trf_mac_is_zero(frame + TRF_ETH_ALEN))
		return TRF_DROP_SRC_NOT_UNICAST;
	l2->proto = trf_load_be16(frame + off);
	while (l2->proto == TRF_ETHERTYPE_VLAN || l2->proto == TRF_ETHERTYPE_QINQ) {
		if (++tags > TRF_MAX_VLAN_TAGS)
			return TRF_DROP_VLAN_TOO_DEEP;
		off += TRF_VLAN_HLEN;
		if (len < off + 2)
			return TRF_DROP_RUNT;
		l2->proto = trf_load_be16(frame + off);
	}
	l2->l3 = off + 2;
	return TRF_DROP_NONE;
}

/*
 * Walk the IPv6 extension headers of the packet ip[0..total) (total checked
 * against the frame by the caller, at least TRF_IPV6_HLEN), a bounded number
 * of them.  Returns the offset and protocol of what follows them, and whether
 * this is the first fragment (a later one carries no transport header).
 */
static inline enum trf_drop trf_ipv6_walk_ext(const uint8_t *ip, uint32_t total, uint32_t *off_out,
					      uint8_t *next_out, bool *first_fragment)
{
	uint32_t off = TRF_IPV6_HLEN;
	uint8_t next = ip[6];

	*first_fragment = true;
	for (int i = 0;; i++) {
		uint32_t hlen;

		if (next != TRF_IPPROTO_HOPOPTS && next != TRF_IPPROTO_ROUTING &&
		    next != TRF_IPPROTO_DSTOPTS && next != TRF_IPPROTO_FRAGMENT)
			break;
		if (i == TRF_IPV6_MAX_EXT_HEADERS || total - off < 8)
			return TRF_DROP_MALFORMED;
		if (next == TRF_IPPROTO_FRAGMENT) {
			hlen = 8;
			if ((trf_load_be16(ip + off + 2) & 0xfff8) != 0) {
				*first_fragment = false;
				next = ip[off];
				break; /* the rest is payload of a later fragment */
			}
		} else {
			hlen = ((uint32_t)ip[off + 1] + 1) * 8;
			if (total - off < hlen)
				return TRF_DROP_MALFORMED;
		}
		next = ip[off];
		off += hlen;
	}
	*off_out = off;
	*next_out = next;
	return TRF_DROP_NONE;
}

/*
 * Turn the Ethernet header of a checked frame around.  A reply never leaves
 * from a group address: one sent to a group is answered as ourselves.
 */
static inline void trf_swap_ether(const struct trf_reflect_ctx *ctx, uint8_t *frame)
{
	if (trf_mac_is_group(frame)) {
		memcpy(frame, frame + TRF_ETH_ALEN, TRF_ETH_ALEN);
		memcpy(frame + TRF_ETH_ALEN, ctx->mac, TRF_ETH_ALEN);
	} else {
		trf_swap_bytes(frame, frame + TRF_ETH_ALEN, TRF_ETH_ALEN);
	}
}

#endif /* TRF_PROTO_PARSE_H */
