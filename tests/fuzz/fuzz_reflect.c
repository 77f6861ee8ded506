// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the single-frame entry point of one reflect mode on
 * one framing (chosen at build time: FUZZ_MODE, FUZZ_LINK).
 *
 * Invariants checked on every input, beyond what ASan/UBSan catch:
 *  - nothing at or beyond the input length is read (the frame sits at the
 *    end of a guard-paged mapping... here: an exact-size heap copy, so ASan
 *    flags any overread) or written, and the output is never longer;
 *  - a dropped frame is left exactly as it was;
 *  - an IPv4 header checksum, and an unfragmented IPv4/IPv6 L4 checksum
 *    (ICMP, ICMPv6, UDP, TCP), that verified on input verifies on output;
 *  - reflecting the output again never yields a frame for echo, ARP, NDP or
 *    sockperf traffic: two reflectors facing each other cannot ping-pong.
 * With FUZZ_VNET the input starts with a virtio-net header, and beyond the
 * above (on the frame after it):
 *  - a reflected frame's header is one the kernel's write path accepts, for
 *    the frame it is written with;
 *  - where the header leaves the L4 checksum to the receiver (NEEDS_CSUM),
 *    the checksum completed as the receiver would verifies on output if it
 *    did on input.
 * This harness parses frames on its own, independently of the engine.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tapreflect/csum.h"
#include "tapreflect/reflect.h"

#define CHECK(cond)                       \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

#ifndef FUZZ_VNET
#define FUZZ_VNET 0
#endif
#define HDR (FUZZ_VNET ? TRF_VNET_HDR_LEN : 0)

static const struct trf_reflect_ctx ctx = { .link = FUZZ_LINK,
					    .mac = { 0x02, 0x74, 0x72, 0x66, 0x00, 0x01 },
					    .vnet_hdr = FUZZ_VNET };

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* What the harness sees in a frame: where L3 and L4 are, and what they hold. */
struct view {
	bool ipv4, ipv6, arp;
	uint32_t l3, l4, l4len; /* l4 == 0: no L4 header in this packet */
	uint8_t proto;
	bool ip_csum_ok, l4_csum_ok, l4_csum_zero;
};

static uint32_t pseudo(const uint8_t *ip, bool v6, uint8_t proto, uint32_t l4len)
{
	uint8_t tail[8] = { 0 };

	tail[2] = (uint8_t)(l4len >> 8);
	tail[3] = (uint8_t)l4len;
	tail[7] = proto;
	if (v6)
		return trf_csum_partial(tail, 8, trf_csum_partial(ip + 8, 32, 0));
	return trf_csum_partial(tail, 8, trf_csum_partial(ip + 12, 8, 0));
}

static struct view look(const uint8_t *f, uint32_t len)
{
	struct view v = { 0 };
	uint32_t off = 0;
	uint16_t type = 0;

	if (FUZZ_LINK == TRF_LINK_TAP) {
		if (len < 14)
			return v;
		off = 12;
		type = be16(f + off);
		for (int tags = 0; (type == 0x8100 || type == 0x88a8) && tags < 2; tags++) {
			off += 4;
			if (len < off + 2)
				return v;
			type = be16(f + off);
		}
		off += 2;
	} else if (len >= 1) {
		type = (f[0] >> 4) == 4 ? 0x0800 : (f[0] >> 4) == 6 ? 0x86dd : 0;
	}
	v.l3 = off;
	if (type == 0x0806) {
		v.arp = len >= off + 28;
		return v;
	}
	if (type == 0x0800 && len >= off + 20 && (f[off] >> 4) == 4) {
		const uint8_t *ip = f + off;
		uint32_t hl = (ip[0] & 15u) * 4, tot = be16(ip + 2);

		if (hl < 20 || tot < hl || off + tot > len)
			return v;
		v.ipv4 = true;
		v.ip_csum_ok = trf_csum_fold(trf_csum_partial(ip, hl, 0)) == 0;
		if ((be16(ip + 6) & 0x3fff) == 0) { /* unfragmented */
			v.proto = ip[9];
			v.l4 = off + hl;
			v.l4len = tot - hl;
		}
	} else if (type == 0x86dd && len >= off + 40 && (f[off] >> 4) == 6) {
		const uint8_t *ip = f + off;
		uint32_t tot = 40u + be16(ip + 4);

		if (off + tot > len)
			return v;
		v.ipv6 = true;
		v.proto = ip[6]; /* only packets without extension headers are checked */
		v.l4 = off + 40;
		v.l4len = tot - 40;
	}
	if (v.l4) {
		const uint8_t *l4 = f + v.l4;
		uint32_t sum = 0;
		size_t check_at = 0;

		/* ICMP belongs to IPv4 and ICMPv6 to IPv6; anything else is unchecked payload. */
		if ((v.proto == 1 && v.ipv6) || (v.proto == 58 && v.ipv4)) {
			v.l4 = 0;
			return v;
		}
		switch (v.proto) {
		case 1:
			check_at = 2;
			break;
		case 58:
			sum = pseudo(f + off, true, 58, v.l4len);
			check_at = 2;
			break;
		case 17:
			sum = pseudo(f + off, v.ipv6, 17, v.l4len);
			check_at = 6;
			break;
		case 6:
			sum = pseudo(f + off, v.ipv6, 6, v.l4len);
			check_at = 16;
			break;
		default:
			v.l4 = 0;
			return v;
		}
		if (v.l4len < check_at + 2) {
			v.l4 = 0;
			return v;
		}
		v.l4_csum_zero = be16(l4 + check_at) == 0;
		v.l4_csum_ok = trf_csum_fold(trf_csum_partial(l4, v.l4len, sum)) == 0;
	}
	return v;
}

/* Traffic that a second reflector must never answer back. */
static bool is_answer(const uint8_t *f, const struct view *v)
{
	if (v->arp)
		return be16(f + v->l3 + 6) == 2;
	if (!v->l4)
		return false;
	if (v->proto == 1)
		return f[v->l4] == 0;
	if (v->proto == 58)
		return f[v->l4] == 129 || f[v->l4] == 136;
	if (v->proto == 17 && FUZZ_MODE_SOCKPERF && v->l4len >= 8 + 14)
		return (be16(f + v->l4 + 16) & 1) == 0; /* a server's message */
	return false;
}

static enum trf_drop reflect(uint8_t *f, uint32_t len, uint32_t *out)
{
	return FUZZ_FN(&ctx, f, len, out);
}

static uint16_t host16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

/* What virtio_net_hdr_to_skb() and tun's write path accept, for a frame of len bytes. */
static bool kernel_accepts(const uint8_t *h, uint32_t len)
{
	uint8_t flags = h[0], gso = h[1] & 0x7f;
	uint32_t hdr_len = host16(h + 2), gso_size = host16(h + 4);
	uint32_t start = host16(h + 6), off = host16(h + 8);

	if (flags & ~3u)
		return false;
	if (gso != 0 && gso != 1 && gso != 4 && gso != 5)
		return false;
	if (gso && gso_size == 0)
		return false;
	if (flags & 1) {
		if (start + off + 2 > len)
			return false;
		if (hdr_len < start + off + 2)
			hdr_len = start + off + 2;
	}
	if (hdr_len > len)
		return false;
	if (gso == 5 && (!(flags & 1) || off != 6 || len - start - 8 > gso_size * 128u))
		return false;
	if (FUZZ_LINK == TRF_LINK_TAP && len < 14)
		return false;
	return true;
}

/*
 * The frame f[0..len) with a NEEDS_CSUM header: complete its checksum as the
 * receiver would (over csum_start..end, the field holding the partial sum),
 * into a copy, and say whether the L4 checksum then verifies.
 */
static bool completed_verifies(const uint8_t *h, const uint8_t *f, uint32_t len)
{
	uint32_t start = host16(h + 6), off = host16(h + 8);
	uint8_t *c = malloc(len ? len : 1);
	uint16_t check;
	struct view v;

	memcpy(c, f, len);
	check = trf_csum_fold(trf_csum_partial(c + start, len - start, 0));
	memcpy(c + start + off, &check, 2);
	v = look(c, len);
	free(c);
	return v.l4 && v.l4 == start && v.l4_csum_ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *f, *orig;
	uint32_t out = 0, out2 = 0;
	struct view in, res;
	enum trf_drop d;

	if (size > 65536)
		return 0;
	/* Exact-size copies: ASan reports any access beyond the frame. */
	f = malloc(size ? size : 1);
	orig = malloc(size ? size : 1);
	memcpy(f, data, size);
	memcpy(orig, data, size);

	in = size >= HDR ? look(f + HDR, (uint32_t)(size - HDR)) : (struct view){ 0 };
	d = reflect(f, (uint32_t)size, &out);
	if (d != TRF_DROP_NONE) {
		CHECK(d < TRF_DROP__COUNT);
		CHECK(memcmp(f, orig, size) == 0);
		goto done;
	}
	CHECK(out <= size && out > HDR);
	if (FUZZ_VNET) {
		bool partial_in = orig[0] & 1, partial_out = f[0] & 1;

		CHECK(kernel_accepts(f, out - HDR));
		if (partial_in && partial_out &&
		    completed_verifies(orig, orig + HDR, (uint32_t)size - HDR))
			CHECK(completed_verifies(f, f + HDR, out - HDR));
		/* A partial checksum is not a checksum: the checks below are for plain frames. */
		if (partial_in || partial_out)
			goto done;
		/* Past the header, the frame checks are those of a plain frame. */
		memmove(f, f + HDR, out - HDR);
		memmove(orig, orig + HDR, size - HDR);
		out -= HDR;
	}
	res = look(f, out);
	if (in.ipv4 && in.ip_csum_ok && res.ipv4)
		CHECK(res.ip_csum_ok);
	/* An NDP advertisement is built anew: its checksum must verify whatever came in. */
	if (in.ipv6 && in.l4 && in.proto == 58 && orig[in.l4] == 135 && res.ipv6 && res.l4 &&
	    res.proto == 58 && f[res.l4] == 136)
		CHECK(res.l4_csum_ok);
	if (in.l4 && in.l4_csum_ok && res.l4 && res.proto == in.proto && res.l4len == in.l4len &&
	    !(in.l4_csum_zero && in.proto == 17 && in.ipv4))
		CHECK(res.l4_csum_ok);

	/* Turned around once more, an answer is never answered. */
	if (is_answer(f, &res) && !(FUZZ_MODE_MACSWAP)) {
		uint8_t *again = malloc(out + HDR);

		memset(again, 0, HDR); /* a plain header in front, where there is one */
		memcpy(again + HDR, f, out);
		CHECK(reflect(again, out + HDR, &out2) != TRF_DROP_NONE);
		free(again);
	}
done:
	free(f);
	free(orig);
	return 0;
}
