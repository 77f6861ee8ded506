// SPDX-License-Identifier: MIT
/* The respond mode, rule by rule, on TAP and TUN framing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "frames.h"
#include "tapreflect/reflect.h"

#define CANARY 0xa5
#define SLACK 64

static struct trf_reflect_ctx tap_ctx = { .link = TRF_LINK_TAP,
					  .mac = { 0x02, 0x74, 0x72, 0x66, 0x00, 0x01 } };
static struct trf_reflect_ctx tun_ctx = { .link = TRF_LINK_TUN };

static uint8_t frame[TF_MAX + SLACK];
static uint8_t before[TF_MAX + SLACK];

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/*
 * Run respond on frame[0..len) and check the invariants of every call: no
 * byte beyond len is touched, the output is never longer than the input,
 * and a dropped frame is left exactly as it was.
 */
static enum trf_drop run(const struct trf_reflect_ctx *ctx, size_t len, uint32_t *out_len)
{
	uint32_t out = 0xdeadbeef;
	enum trf_drop d;

	memset(frame + len, CANARY, SLACK);
	memcpy(before, frame, len + SLACK);
	d = trf_respond_frame(ctx, frame, (uint32_t)len, &out);
	for (size_t i = len; i < len + SLACK; i++)
		assert_int_equal(frame[i], CANARY);
	if (d == TRF_DROP_NONE) {
		assert_true(out <= len);
	} else {
		assert_memory_equal(frame, before, len);
		assert_int_equal(out, 0xdeadbeef);
	}
	if (out_len)
		*out_len = out;
	return d;
}

static const uint8_t *l3(int tap)
{
	return frame + (tap ? 14 : 0);
}

static void check_ip_swapped(int tap)
{
	assert_memory_equal(l3(tap) + 12, tf_peer_ip, 4);
	assert_memory_equal(l3(tap) + 16, tf_host_ip, 4);
}

static void check_eth_swapped(void)
{
	assert_memory_equal(frame, tf_host_mac, 6);
	assert_memory_equal(frame + 6, tf_refl_mac, 6);
}

static void echo_case(int tap, unsigned int ihl, size_t payload)
{
	struct tf_ipv4 h = { .proto = 1, .ihl = (uint8_t)ihl };
	size_t len = tf_icmp_frame(frame, tap, &h, 8, payload), hlen = ihl * 4u;
	uint8_t opts[40];
	uint32_t out;

	memcpy(opts, l3(tap) + 20, hlen - 20);
	assert_int_equal(run(tap ? &tap_ctx : &tun_ctx, len, &out), TRF_DROP_NONE);
	assert_int_equal(out, len);
	assert_int_equal(l3(tap)[hlen], 0); /* echo reply */
	assert_true(tf_ipv4_csum_ok(l3(tap)));
	assert_true(tf_l4_csum_ok(l3(tap)));
	assert_memory_equal(l3(tap) + 20, opts, hlen - 20);
	check_ip_swapped(tap);
	if (tap)
		check_eth_swapped();
}

static void test_icmp_echo_every_ihl(void **state)
{
	(void)state;
	for (int tap = 0; tap <= 1; tap++)
		for (unsigned int ihl = 5; ihl <= 15; ihl++)
			for (size_t payload = 0; payload < 70; payload += 7)
				echo_case(tap, ihl, payload);
	echo_case(1, 5, 9000);
	echo_case(0, 5, 9000);
}

static void test_icmp_first_fragment_gets_type_change(void **state)
{
	/* MF set, offset 0: the ICMP header is here; the checksum covers all fragments. */
	struct tf_ipv4 h = { .proto = 1, .frag = 0x2000 };
	size_t len = tf_icmp_frame(frame, 1, &h, 8, 1472);
	uint32_t expect = be16(frame + 14 + 22) + 0x0800u; /* sum fell by 0x0800 */

	(void)state;
	expect = (expect & 0xffff) + (expect >> 16);
	assert_int_equal(run(&tap_ctx, len, NULL), TRF_DROP_NONE);
	assert_int_equal(frame[14 + 20], 0);
	assert_int_equal(be16(frame + 14 + 22), expect);
}

/*
 * Found by fuzzing: an echo whose reply is all zero (id 0, seq 0, no payload).
 * RFC 1624 eqn. 3 gives 0x0000 there, which does not verify; 0xFFFF does.
 */
static void test_icmp_all_zero_reply_verifies(void **state)
{
	for (int tap = 0; tap <= 1; tap++) {
		struct tf_ipv4 h = { .proto = 1 };
		size_t len = tf_icmp_frame(frame, tap, &h, 8, 0), l4 = (tap ? 14 : 0) + 20;

		(void)state;
		frame[l4 + 4] = frame[l4 + 5] = frame[l4 + 6] = frame[l4 + 7] = 0; /* id 0, seq 0 */
		frame[l4 + 2] = 0xf7;
		frame[l4 + 3] = 0xff; /* the request's checksum: ~0x0800 */
		assert_true(tf_l4_csum_ok(l3(tap)));
		assert_int_equal(run(tap ? &tap_ctx : &tun_ctx, len, NULL), TRF_DROP_NONE);
		assert_int_equal(be16(frame + l4 + 2), 0xffff);
		assert_true(tf_l4_csum_ok(l3(tap)));
	}
}

static void test_non_first_fragment_payload_untouched(void **state)
{
	static const uint8_t any_proto[] = { 1, 6, 17, 47 };

	(void)state;
	for (int tap = 0; tap <= 1; tap++) {
		for (size_t i = 0; i < sizeof(any_proto); i++) {
			/* Offset 185 (1480 B): the payload starts with what looks like echo. */
			struct tf_ipv4 h = { .proto = any_proto[i], .frag = 185 };
			size_t len = tf_icmp_frame(frame, tap, &h, 8, 100);
			size_t off = tap ? 14 : 0;
			uint8_t payload[108];

			memcpy(payload, frame + off + 20, sizeof(payload));
			assert_int_equal(run(tap ? &tap_ctx : &tun_ctx, len, NULL), TRF_DROP_NONE);
			assert_memory_equal(frame + off + 20, payload, sizeof(payload));
			assert_true(tf_ipv4_csum_ok(frame + off));
			check_ip_swapped(tap);
		}
	}
}

static void l4_swap_case(int tap, uint8_t proto, unsigned int ihl)
{
	struct tf_ipv4 h = { .proto = proto, .ihl = (uint8_t)ihl };
	size_t len = tf_udp_frame(frame, tap, &h, 40000, 9000, 100);
	size_t l4 = (tap ? 14 : 0) + ihl * 4u;
	uint32_t out;

	assert_true(tf_l4_csum_ok(l3(tap)));
	assert_int_equal(run(tap ? &tap_ctx : &tun_ctx, len, &out), TRF_DROP_NONE);
	assert_int_equal(out, len);
	assert_int_equal(be16(frame + l4), 9000);
	assert_int_equal(be16(frame + l4 + 2), 40000);
	if (proto == 17)
		assert_int_equal(be16(frame + l4 + 4), 108); /* the seed corrupted this */
	assert_true(tf_ipv4_csum_ok(l3(tap)));
	assert_true(tf_l4_csum_ok(l3(tap)));
	check_ip_swapped(tap);
	if (tap)
		check_eth_swapped();
}

static void test_udp_tcp_5tuple_swapped(void **state)
{
	(void)state;
	for (int tap = 0; tap <= 1; tap++) {
		l4_swap_case(tap, 17, 5);
		l4_swap_case(tap, 17, 15);
		l4_swap_case(tap, 6, 5);
		l4_swap_case(tap, 6, 9);
	}
}

static void test_udp_zero_checksum_stays_zero(void **state)
{
	struct tf_ipv4 h = { .proto = 17 };
	size_t len = tf_udp_frame(frame, 0, &h, 1, 2, 10);

	(void)state;
	frame[26] = frame[27] = 0;
	assert_int_equal(run(&tun_ctx, len, NULL), TRF_DROP_NONE);
	assert_int_equal(be16(frame + 26), 0);
}

static void test_other_protocol_addresses_swapped(void **state)
{
	struct tf_ipv4 h = { .proto = 47 /* GRE */ };
	size_t len;

	(void)state;
	memset(frame + 14 + 20, 0x77, 24);
	len = 14 + tf_ipv4(frame + 14, &h, 24);
	tf_eth(frame, tf_refl_mac, tf_host_mac, 0x0800);
	assert_int_equal(run(&tap_ctx, len, NULL), TRF_DROP_NONE);
	check_ip_swapped(1);
	check_eth_swapped();
	for (int i = 0; i < 24; i++)
		assert_int_equal(frame[14 + 20 + i], 0x77);
}

static void test_arp_request_answered(void **state)
{
	size_t len = tf_arp_frame(frame, 1, tf_host_ip, tf_peer_ip);
	const uint8_t *a = frame + 14;
	uint32_t out;

	(void)state;
	assert_int_equal(run(&tap_ctx, len, &out), TRF_DROP_NONE);
	assert_int_equal(out, 42);
	assert_memory_equal(frame, tf_host_mac, 6);
	assert_memory_equal(frame + 6, tap_ctx.mac, 6);
	assert_int_equal(be16(frame + 12), 0x0806);
	assert_int_equal(be16(a + 6), 2);
	assert_memory_equal(a + 8, tap_ctx.mac, 6);
	assert_memory_equal(a + 14, tf_peer_ip, 4);
	assert_memory_equal(a + 18, tf_host_mac, 6);
	assert_memory_equal(a + 24, tf_host_ip, 4);
}

static void test_arp_not_answered(void **state)
{
	static const uint8_t zero[4];
	size_t len;

	(void)state;
	len = tf_arp_frame(frame, 2, tf_host_ip, tf_peer_ip); /* a reply */
	assert_int_equal(run(&tap_ctx, len, NULL), TRF_DROP_ARP_IGNORED);
	len = tf_arp_frame(frame, 1, tf_host_ip, tf_host_ip); /* gratuitous */
	assert_int_equal(run(&tap_ctx, len, NULL), TRF_DROP_ARP_IGNORED);
	len = tf_arp_frame(frame, 1, zero, tf_peer_ip); /* RFC 5227 probe */
	assert_int_equal(run(&tap_ctx, len, NULL), TRF_DROP_ARP_IGNORED);
	len = tf_arp_frame(frame, 1, tf_host_ip, tf_peer_ip);
	frame[14 + 5] = 16; /* not IPv4 */
	assert_int_equal(run(&tap_ctx, len, NULL), TRF_DROP_ARP_IGNORED);
	len = tf_arp_frame(frame, 1, tf_host_ip, tf_peer_ip);
	assert_int_equal(run(&tap_ctx, len - 1, NULL), TRF_DROP_RUNT);
}

static void test_icmp_other_than_echo_request_dropped(void **state)
{
	static const uint8_t types[] = { 0 /* reply */, 3, 5, 11, 12, 13 };

	(void)state;
	for (size_t i = 0; i < sizeof(types); i++) {
		struct tf_ipv4 h = { .proto = 1 };
		size_t len = tf_icmp_frame(frame, 1, &h, types[i], 20);

		assert_int_equal(run(&tap_ctx, len, NULL), TRF_DROP_ICMP_NOT_ECHO);
	}
}

static void test_truncated_and_malformed(void **state)
{
	struct tf_ipv4 h = { .proto = 17 };
	size_t len;

	(void)state;
	/* Read cut short by the buffer: IP total length beyond the bytes read. */
	len = tf_udp_frame(frame, 1, &h, 1, 2, 9000);
	assert_int_equal(run(&tap_ctx, len - 1, NULL), TRF_DROP_TRUNCATED);
	assert_int_equal(run(&tap_ctx, 14 + 20 + 8, NULL), TRF_DROP_TRUNCATED);
	/* Link padding beyond the IP length is fine and kept. */
	len = tf_udp_frame(frame, 1, &h, 1, 2, 4);
	memset(frame + len, 0, 8);
	assert_int_equal(run(&tap_ctx, len + 8, NULL), TRF_DROP_NONE);

	len = tf_udp_frame(frame, 1, &h, 1, 2, 40);
	frame[14] = 0x44; /* IHL 4 */
	assert_int_equal(run(&tap_ctx, len, NULL), TRF_DROP_MALFORMED);
	frame[14] = 0x55; /* version 5 */
	assert_int_equal(run(&tap_ctx, len, NULL), TRF_DROP_MALFORMED);
	frame[14] = 0x45;
	frame[16] = 0;
	frame[17] = 19; /* total length below the header */
	assert_int_equal(run(&tap_ctx, len, NULL), TRF_DROP_MALFORMED);
	frame[17] = 24; /* UDP header cut short */
	assert_int_equal(run(&tap_ctx, len, NULL), TRF_DROP_MALFORMED);
	frame[14] = 0x4f; /* IHL 15: header longer than the packet */
	frame[17] = 40;
	assert_int_equal(run(&tap_ctx, len, NULL), TRF_DROP_MALFORMED);

	/* TUN: first nibble decides. */
	len = tf_udp_frame(frame, 0, &h, 1, 2, 10);
	frame[0] = 0x75;
	assert_int_equal(run(&tun_ctx, len, NULL), TRF_DROP_MALFORMED);
	frame[0] = 0x15;
	assert_int_equal(run(&tun_ctx, len, NULL), TRF_DROP_MALFORMED);
	assert_int_equal(run(&tun_ctx, 0, NULL), TRF_DROP_RUNT);
}

/* Every prefix of every kind of frame: no crash, no out-of-bounds, a reason. */
static void test_every_prefix(void **state)
{
	struct tf_ipv4 icmp = { .proto = 1, .ihl = 7 }, udp = { .proto = 17 }, tcp = { .proto = 6 };
	uint8_t full[256];

	(void)state;
	for (int kind = 0; kind < 7; kind++) {
		int tap = kind < 4;
		size_t len;

		switch (kind % 4) {
		case 0:
			len = tf_icmp_frame(full, tap, &icmp, 8, 32);
			break;
		case 1:
			len = tf_udp_frame(full, tap, &udp, 5, 6, 32);
			break;
		case 2:
			len = tf_udp_frame(full, tap, &tcp, 5, 6, 32);
			break;
		default:
			len = tf_arp_frame(full, 1, tf_host_ip, tf_peer_ip);
			break;
		}
		for (size_t n = 0; n <= len; n++) {
			enum trf_drop d;

			memcpy(frame, full, n);
			d = run(tap ? &tap_ctx : &tun_ctx, n, NULL);
			if (n == len)
				assert_int_equal(d, TRF_DROP_NONE);
			else
				assert_int_not_equal(d, TRF_DROP_NONE);
		}
	}
}

static void test_group_addresses_never_reflected(void **state)
{
	static const uint8_t bcast_ip[4] = { 255, 255, 255, 255 }, mcast_ip[4] = { 224, 0, 0, 251 },
			     any_ip[4] = { 0, 0, 0, 0 };
	static const uint8_t mcast_mac[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb };
	struct tf_ipv4 h = { .proto = 17 };
	size_t len;
	uint32_t out;

	(void)state;
	/* Source MAC multicast. */
	len = tf_udp_frame(frame, 1, &h, 1, 2, 10);
	memcpy(frame + 6, mcast_mac, 6);
	assert_int_equal(run(&tap_ctx, len, NULL), TRF_DROP_SRC_NOT_UNICAST);
	/* Source IP 0.0.0.0, broadcast, multicast. */
	h.src = any_ip;
	len = tf_udp_frame(frame, 1, &h, 1, 2, 10);
	assert_int_equal(run(&tap_ctx, len, NULL), TRF_DROP_SRC_NOT_UNICAST);
	h.src = bcast_ip;
	len = tf_udp_frame(frame, 0, &h, 1, 2, 10);
	assert_int_equal(run(&tun_ctx, len, NULL), TRF_DROP_SRC_NOT_UNICAST);
	h.src = mcast_ip;
	len = tf_udp_frame(frame, 0, &h, 1, 2, 10);
	assert_int_equal(run(&tun_ctx, len, NULL), TRF_DROP_SRC_NOT_UNICAST);
	/* Destination IP multicast or broadcast. */
	h.src = NULL;
	h.dst = mcast_ip;
	len = tf_udp_frame(frame, 1, &h, 1, 2, 10);
	assert_int_equal(run(&tap_ctx, len, NULL), TRF_DROP_DST_NOT_UNICAST);
	h.dst = bcast_ip;
	len = tf_icmp_frame(frame, 0, &h, 8, 10);
	assert_int_equal(run(&tun_ctx, len, NULL), TRF_DROP_DST_NOT_UNICAST);
	/* Unicast IP sent to a group MAC: answered from the reflector's own MAC. */
	h.dst = NULL;
	len = tf_udp_frame(frame, 1, &h, 1, 2, 10);
	memcpy(frame, mcast_mac, 6);
	assert_int_equal(run(&tap_ctx, len, &out), TRF_DROP_NONE);
	assert_memory_equal(frame, tf_host_mac, 6);
	assert_memory_equal(frame + 6, tap_ctx.mac, 6);
}

static void test_unsupported_ethertypes(void **state)
{
	static const uint16_t types[] = { 0x88cc /* LLDP */, 0x0842, 0x88b5, 0x8847 /* MPLS */ };

	(void)state;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		memset(frame, 0, 64);
		tf_eth(frame, tf_refl_mac, tf_host_mac, types[i]);
		assert_int_equal(run(&tap_ctx, 64, NULL), TRF_DROP_UNSUPPORTED);
	}
	assert_int_equal(run(&tap_ctx, 13, NULL), TRF_DROP_RUNT);
}

static void test_burst_sets_every_verdict(void **state)
{
	static uint8_t a[128], b[128], c[128];
	struct tf_ipv4 h = { .proto = 1 };
	struct trf_frame frames[3] = {
		{ .data = a, .len = (uint32_t)tf_icmp_frame(a, 0, &h, 8, 10), .cookie = 7 },
		{ .data = b, .len = 3, .cookie = 8 },
		{ .data = c, .len = (uint32_t)tf_icmp_frame(c, 0, &h, 0, 10), .cookie = 9 },
	};
	const struct trf_reflect_mode *m = trf_reflect_mode_find("respond");

	(void)state;
	assert_non_null(m);
	assert_ptr_equal(m, trf_reflect_modes[0]);
	assert_null(trf_reflect_mode_find("nope"));
	b[0] = 0x45;
	m->burst(&tun_ctx, frames, 3);
	assert_int_equal(frames[0].verdict, TRF_DROP_NONE);
	assert_int_equal(frames[1].verdict, TRF_DROP_RUNT);
	assert_int_equal(frames[2].verdict, TRF_DROP_ICMP_NOT_ECHO);
	assert_int_equal(frames[0].cookie, 7);
	assert_int_equal(frames[2].cookie, 9);
	assert_string_equal(trf_drop_name(TRF_DROP_TRUNCATED), "truncated");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_icmp_echo_every_ihl),
		cmocka_unit_test(test_icmp_first_fragment_gets_type_change),
		cmocka_unit_test(test_icmp_all_zero_reply_verifies),
		cmocka_unit_test(test_non_first_fragment_payload_untouched),
		cmocka_unit_test(test_udp_tcp_5tuple_swapped),
		cmocka_unit_test(test_udp_zero_checksum_stays_zero),
		cmocka_unit_test(test_other_protocol_addresses_swapped),
		cmocka_unit_test(test_arp_request_answered),
		cmocka_unit_test(test_arp_not_answered),
		cmocka_unit_test(test_icmp_other_than_echo_request_dropped),
		cmocka_unit_test(test_truncated_and_malformed),
		cmocka_unit_test(test_every_prefix),
		cmocka_unit_test(test_group_addresses_never_reflected),
		cmocka_unit_test(test_unsupported_ethertypes),
		cmocka_unit_test(test_burst_sets_every_verdict),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
