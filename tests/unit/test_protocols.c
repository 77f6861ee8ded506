// SPDX-License-Identifier: MIT
/* respond over VLAN/QinQ and IPv6 (echo, NDP, extension headers, fragments); macswap; sockperf. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "frames.h"
#include "tapreflect/reflect.h"

#define SLACK 32

typedef enum trf_drop (*frame_fn)(const struct trf_reflect_ctx *, uint8_t *, uint32_t, uint32_t *);

static const struct trf_reflect_ctx tap = { .link = TRF_LINK_TAP,
					    .mac = { 0x02, 0x74, 0x72, 0x66, 0x00, 0x01 } };
static const struct trf_reflect_ctx tun = { .link = TRF_LINK_TUN };
static uint8_t f[TF_MAX + SLACK], before[TF_MAX + SLACK];

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The invariants of every call, as in test_reflect.c. */
static enum trf_drop run(frame_fn fn, const struct trf_reflect_ctx *ctx, size_t len,
			 uint32_t *out_len)
{
	uint32_t out = 0;
	enum trf_drop d;

	memset(f + len, 0xa5, SLACK);
	memcpy(before, f, len + SLACK);
	d = fn(ctx, f, (uint32_t)len, &out);
	for (size_t i = len; i < len + SLACK; i++)
		assert_int_equal(f[i], 0xa5);
	if (d == TRF_DROP_NONE)
		assert_true(out > 0 && out <= len);
	else
		assert_memory_equal(f, before, len);
	if (out_len)
		*out_len = out;
	return d;
}

/* Ethernet header with `tags` VLAN tags (outer QinQ if two), then `type`. */
static size_t eth_tagged(uint8_t *p, const uint8_t *dst, int tags, uint16_t type)
{
	size_t off = 12;

	memcpy(p, dst, 6);
	memcpy(p + 6, tf_host_mac, 6);
	for (int i = 0; i < tags; i++) {
		uint16_t tpid = (tags >= 2 && i == 0) ? 0x88a8 : 0x8100;

		p[off] = (uint8_t)(tpid >> 8);
		p[off + 1] = (uint8_t)tpid;
		p[off + 2] = (uint8_t)(0x20 + i); /* PCP 1, VID 0x0??, distinct per tag */
		p[off + 3] = (uint8_t)(0x10 + i);
		off += 4;
	}
	p[off] = (uint8_t)(type >> 8);
	p[off + 1] = (uint8_t)type;
	return off + 2;
}

static void test_vlan_echo_and_arp_keep_tags(void **state)
{
	(void)state;
	for (int tags = 1; tags <= 2; tags++) {
		struct tf_ipv4 h = { .proto = 1 };
		size_t l3 = eth_tagged(f, tf_refl_mac, tags, 0x0800), len;
		uint8_t hdr[22];

		len = l3 + tf_ipv4(f + l3, &h, tf_icmp_echo(f + l3 + 20, 8, 1, 1, 40));
		memcpy(hdr, f + 12, l3 - 12);
		assert_int_equal(run(trf_respond_frame, &tap, len, NULL), TRF_DROP_NONE);
		assert_memory_equal(f + 12, hdr, l3 - 12);
		assert_int_equal(f[l3 + 20], 0);
		assert_true(tf_l4_csum_ok(f + l3));
		assert_memory_equal(f, tf_host_mac, 6);

		/* ARP inside the same tags. */
		static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
		uint8_t arp[42];

		tf_arp_frame(arp, 1, tf_host_ip, tf_peer_ip);
		l3 = eth_tagged(f, bcast, tags, 0x0806);
		memcpy(f + l3, arp + 14, 28);
		memcpy(hdr, f + 12, l3 - 12);
		assert_int_equal(run(trf_respond_frame, &tap, l3 + 28, NULL), TRF_DROP_NONE);
		assert_memory_equal(f + 12, hdr, l3 - 12);
		assert_int_equal(be16(f + l3 + 6), 2);
		assert_memory_equal(f + l3 + 14, tf_peer_ip, 4);
		assert_memory_equal(f + 6, tap.mac, 6);
	}
	/* Three tags: dropped and counted. */
	size_t l3 = eth_tagged(f, tf_refl_mac, 3, 0x0800);

	memset(f + l3, 0x45, 40);
	assert_int_equal(run(trf_respond_frame, &tap, l3 + 40, NULL), TRF_DROP_VLAN_TOO_DEEP);
	/* A tag cut short. */
	l3 = eth_tagged(f, tf_refl_mac, 1, 0x0800);
	assert_int_equal(run(trf_respond_frame, &tap, 17, NULL), TRF_DROP_RUNT);
}

/* ICMPv6 echo request at offset off, with `ext` extension headers before it. */
static size_t echo6(int use_tap, int ext, size_t payload)
{
	size_t l3 = use_tap ? eth_tagged(f, tf_refl_mac, 0, 0x86dd) : 0, off = l3 + 40;
	uint8_t next = 58;

	for (int i = 0; i < ext; i++) {
		f[off] = (i + 1 < ext) ? 60 : 58; /* next header */
		f[off + 1] = 0; /* 8 bytes */
		memset(f + off + 2, 0, 6);
		f[off + 2] = 1; /* PadN */
		f[off + 3] = 4;
		off += 8;
	}
	if (ext)
		next = 0; /* hop-by-hop first, then destination options */
	tf_icmp_echo(f + off, 128, 9, 9, payload);
	tf_ipv6(f + l3, next, tf_host_ip6, tf_peer_ip6, off + 8 + payload - l3 - 40);
	tf_l4_csum6(f + l3, f + off, 58);
	return off + 8 + payload;
}

static void test_ipv6_echo(void **state)
{
	(void)state;
	for (int use_tap = 0; use_tap <= 1; use_tap++) {
		for (int ext = 0; ext <= 3; ext++) {
			size_t len = echo6(use_tap, ext, 56), l3 = use_tap ? 14 : 0;
			size_t icmp = len - 64;
			uint32_t out;

			assert_true(tf_l4_csum6_ok(f + l3, f + icmp, 58));
			assert_int_equal(run(trf_respond_frame, use_tap ? &tap : &tun, len, &out),
					 TRF_DROP_NONE);
			assert_int_equal(out, len);
			assert_int_equal(f[icmp], 129);
			assert_memory_equal(f + l3 + 8, tf_peer_ip6, 16);
			assert_memory_equal(f + l3 + 24, tf_host_ip6, 16);
			assert_true(tf_l4_csum6_ok(f + l3, f + icmp, 58));
		}
	}
	/* Too many extension headers: bounded walk. */
	size_t len = echo6(0, 9, 8);

	assert_int_equal(run(trf_respond_frame, &tun, len, NULL), TRF_DROP_MALFORMED);
	/* Payload length beyond the bytes read. */
	len = echo6(1, 0, 100);
	assert_int_equal(run(trf_respond_frame, &tap, len - 1, NULL), TRF_DROP_TRUNCATED);
	/* Echo replies and errors are never answered. */
	len = echo6(0, 0, 8);
	f[40] = 129;
	assert_int_equal(run(trf_respond_frame, &tun, len, NULL), TRF_DROP_ICMP_NOT_ECHO);
	f[40] = 1; /* destination unreachable */
	assert_int_equal(run(trf_respond_frame, &tun, len, NULL), TRF_DROP_ICMP_NOT_ECHO);
	/* Multicast source or destination. */
	len = echo6(0, 0, 8);
	f[8] = 0xff;
	assert_int_equal(run(trf_respond_frame, &tun, len, NULL), TRF_DROP_SRC_NOT_UNICAST);
	len = echo6(0, 0, 8);
	f[24] = 0xff;
	assert_int_equal(run(trf_respond_frame, &tun, len, NULL), TRF_DROP_DST_NOT_UNICAST);
}

static void test_ipv6_fragments(void **state)
{
	(void)state;
	/* A later fragment: addresses swapped, payload (which looks like echo) untouched. */
	size_t len = 40 + 8 + 64;
	uint8_t payload[64];

	tf_ipv6(f, 44, tf_host_ip6, tf_peer_ip6, 8 + 64);
	f[40] = 58;
	f[41] = 0;
	f[42] = 0x05; /* offset 0x05a0 >> 3 = 180 */
	f[43] = 0xa0;
	memset(f + 44, 0x11, 4);
	tf_icmp_echo(f + 48, 128, 1, 1, 56);
	memcpy(payload, f + 48, 64);
	assert_int_equal(run(trf_respond_frame, &tun, len, NULL), TRF_DROP_NONE);
	assert_memory_equal(f + 48, payload, 64);
	assert_memory_equal(f + 8, tf_peer_ip6, 16);
	/* The first fragment: the echo type changes. */
	tf_ipv6(f, 44, tf_host_ip6, tf_peer_ip6, 8 + 64);
	f[42] = 0x00;
	f[43] = 0x01; /* offset 0, more fragments */
	tf_icmp_echo(f + 48, 128, 1, 1, 56);
	assert_int_equal(run(trf_respond_frame, &tun, len, NULL), TRF_DROP_NONE);
	assert_int_equal(f[48], 129);
}

/* A Neighbor Solicitation from the host for tf_peer_ip6 (multicast to its solicited-node group). */
static size_t ns_frame(int with_option, const uint8_t *src)
{
	static const uint8_t snmac[6] = { 0x33, 0x33, 0xff, 0x00, 0x00, 0x02 };
	static const uint8_t snip[16] = { 0xff, 0x02, [11] = 1, [12] = 0xff, [15] = 2 };
	size_t icmp_len = 24 + (with_option ? 8 : 0);
	uint8_t *icmp = f + 14 + 40;

	tf_eth(f, snmac, tf_host_mac, 0x86dd);
	tf_ipv6(f + 14, 58, src, snip, icmp_len);
	f[14 + 7] = 255;
	memset(icmp, 0, icmp_len);
	icmp[0] = 135;
	memcpy(icmp + 8, tf_peer_ip6, 16);
	if (with_option) {
		icmp[24] = 1; /* source link-layer address */
		icmp[25] = 1;
		memcpy(icmp + 26, tf_host_mac, 6);
	}
	tf_l4_csum6(f + 14, icmp, 58);
	return 14 + 40 + icmp_len;
}

static void test_ndp_solicitation_answered(void **state)
{
	uint8_t *ip = f + 14, *icmp = ip + 40;
	uint32_t out;
	size_t len;

	(void)state;
	len = ns_frame(1, tf_host_ip6);
	assert_int_equal(run(trf_respond_frame, &tap, len, &out), TRF_DROP_NONE);
	assert_int_equal(out, 14 + 40 + 32);
	assert_memory_equal(f, tf_host_mac, 6);
	assert_memory_equal(f + 6, tap.mac, 6);
	assert_memory_equal(ip + 8, tf_peer_ip6, 16); /* from the target */
	assert_memory_equal(ip + 24, tf_host_ip6, 16); /* to the solicitor */
	assert_int_equal(be16(ip + 4), 32);
	assert_int_equal(ip[7], 255);
	assert_int_equal(icmp[0], 136);
	assert_int_equal(icmp[4], 0x60); /* solicited, override */
	assert_memory_equal(icmp + 8, tf_peer_ip6, 16);
	assert_int_equal(icmp[24], 2); /* target link-layer address */
	assert_int_equal(icmp[25], 1);
	assert_memory_equal(icmp + 26, tap.mac, 6);
	assert_true(tf_l4_csum6_ok(ip, icmp, 58));

	/* No room for the option: an advertisement without it, never longer than the input. */
	len = ns_frame(0, tf_host_ip6);
	assert_int_equal(run(trf_respond_frame, &tap, len, &out), TRF_DROP_NONE);
	assert_int_equal(out, len);
	assert_true(tf_l4_csum6_ok(ip, icmp, 58));

	/* DAD probe (unspecified source), hop limit not 255, TUN: no answer. */
	static const uint8_t any[16];
	len = ns_frame(1, any);
	assert_int_equal(run(trf_respond_frame, &tap, len, NULL), TRF_DROP_NDP_IGNORED);
	len = ns_frame(1, tf_host_ip6);
	ip[7] = 64;
	assert_int_equal(run(trf_respond_frame, &tap, len, NULL), TRF_DROP_NDP_IGNORED);
	len = ns_frame(1, tf_host_ip6);
	assert_int_equal(run(trf_respond_frame, &tun, len - 14, NULL), TRF_DROP_MALFORMED);
	memmove(f, f + 14, len - 14);
	assert_int_equal(run(trf_respond_frame, &tun, len - 14, NULL), TRF_DROP_NDP_IGNORED);
	/* Router solicitation and advertisements are not ours to answer. */
	len = ns_frame(1, tf_host_ip6);
	icmp[0] = 133;
	assert_int_equal(run(trf_respond_frame, &tap, len, NULL), TRF_DROP_NDP_IGNORED);
}

static void test_macswap(void **state)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint32_t out;

	(void)state;
	for (size_t len = 14; len < 200; len += 37) {
		tf_eth(f, tf_refl_mac, tf_host_mac, 0x88b5); /* local experimental EtherType */
		for (size_t i = 14; i < len; i++)
			f[i] = (uint8_t)i;
		assert_int_equal(run(trf_macswap_frame, &tap, len, &out), TRF_DROP_NONE);
		assert_int_equal(out, len);
		assert_memory_equal(f, tf_host_mac, 6);
		assert_memory_equal(f + 6, tf_refl_mac, 6);
		for (size_t i = 14; i < len; i++)
			assert_int_equal(f[i], (uint8_t)i);
	}
	tf_eth(f, bcast, tf_host_mac, 0x88b5);
	assert_int_equal(run(trf_macswap_frame, &tap, 60, NULL), TRF_DROP_NONE);
	assert_memory_equal(f + 6, tap.mac, 6); /* never from a group address */
	tf_eth(f, tf_refl_mac, bcast, 0x88b5);
	assert_int_equal(run(trf_macswap_frame, &tap, 60, NULL), TRF_DROP_SRC_NOT_UNICAST);
	assert_int_equal(run(trf_macswap_frame, &tap, 13, NULL), TRF_DROP_RUNT);
	assert_non_null(trf_reflect_mode_find("macswap"));
	assert_int_equal(trf_reflect_mode_find("macswap")->links, TRF_LINK_TAP);
}

/* sockperf request over IPv4 (TUN); returns its length; UDP header at 20. */
static size_t sockperf4(uint16_t flags, uint64_t seq, size_t payload)
{
	struct tf_ipv4 h = { .proto = 17 };
	size_t len = tf_udp_frame(f, 0, &h, 40000, 11111, 14 + payload);

	tf_sockperf_hdr(f + 28, seq, flags, (uint32_t)(14 + payload));
	tf_l4_csum(f);
	return len;
}

static void test_sockperf(void **state)
{
	uint32_t out;
	size_t len;

	(void)state;
	len = sockperf4(1 | 2, 42, 50);
	assert_int_equal(run(trf_sockperf_frame, &tun, len, &out), TRF_DROP_NONE);
	assert_int_equal(out, len);
	assert_int_equal(be16(f + 28 + 8), 2); /* a server's reply: client flag cleared */
	assert_int_equal(be16(f + 20), 11111);
	assert_int_equal(be16(f + 22), 40000);
	assert_true(tf_l4_csum_ok(f));
	assert_true(tf_ipv4_csum_ok(f));

	/* No reply asked, warm-up, already a server message, too short: ignored. */
	static const uint16_t ignored[] = { 1, 1 | 2 | 4, 2, 0 };
	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++) {
		len = sockperf4(ignored[i], 7, 10);
		assert_int_equal(run(trf_sockperf_frame, &tun, len, NULL),
				 TRF_DROP_SOCKPERF_IGNORED);
	}
	len = sockperf4(3, 7, 0);
	assert_int_equal(run(trf_sockperf_frame, &tun, len - 1, NULL), TRF_DROP_TRUNCATED);
	{
		struct tf_ipv4 h = { .proto = 17 };

		len = tf_udp_frame(f, 0, &h, 1, 2, 13);
		assert_int_equal(run(trf_sockperf_frame, &tun, len, NULL),
				 TRF_DROP_SOCKPERF_IGNORED);
	}

	/* A zero (absent) IPv4 UDP checksum stays zero. */
	len = sockperf4(3, 9, 20);
	f[26] = f[27] = 0;
	assert_int_equal(run(trf_sockperf_frame, &tun, len, NULL), TRF_DROP_NONE);
	assert_int_equal(be16(f + 26), 0);

	/* A computed zero goes out as 0xFFFF: search a sequence number that yields it. */
	int found = 0;
	for (uint32_t seq = 0; seq < 0x20000 && !found; seq++) {
		len = sockperf4(3, seq, 0);
		assert_int_equal(run(trf_sockperf_frame, &tun, len, NULL), TRF_DROP_NONE);
		assert_true(tf_l4_csum_ok(f));
		assert_int_not_equal(be16(f + 26), 0);
		if (be16(f + 26) == 0xffff)
			found = 1;
	}
	assert_true(found);

	/* Over IPv6 on TAP, with the checksum verified by recomputation. */
	size_t l3 = eth_tagged(f, tf_refl_mac, 1, 0x86dd);
	uint8_t *udp = f + l3 + 40;

	udp[0] = 0x9c;
	udp[1] = 0x40;
	udp[2] = 0x2b;
	udp[3] = 0x67;
	udp[4] = 0;
	udp[5] = 8 + 14 + 4;
	tf_sockperf_hdr(udp + 8, 5, 3, 18);
	memset(udp + 22, 0x5a, 4);
	tf_ipv6(f + l3, 17, tf_host_ip6, tf_peer_ip6, 8 + 14 + 4);
	tf_l4_csum6(f + l3, udp, 17);
	len = l3 + 40 + 26;
	assert_int_equal(run(trf_sockperf_frame, &tap, len, NULL), TRF_DROP_NONE);
	assert_int_equal(be16(udp + 8 + 8), 2);
	assert_true(tf_l4_csum6_ok(f + l3, udp, 17));

	/* Everything that is not UDP is answered as in respond. */
	{
		struct tf_ipv4 h = { .proto = 1 };

		len = tf_icmp_frame(f, 0, &h, 8, 20);
		assert_int_equal(run(trf_sockperf_frame, &tun, len, NULL), TRF_DROP_NONE);
		assert_int_equal(f[20], 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vlan_echo_and_arp_keep_tags),
		cmocka_unit_test(test_ipv6_echo),
		cmocka_unit_test(test_ipv6_fragments),
		cmocka_unit_test(test_ndp_solicitation_answered),
		cmocka_unit_test(test_macswap),
		cmocka_unit_test(test_sockperf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
