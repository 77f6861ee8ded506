// SPDX-License-Identifier: MIT
/*
 * Frames behind a virtio-net header (--offload): the header is checked
 * against the frame, kept on what is reflected, and a partial checksum is
 * left for the receiver to complete.
 */
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
#define H TRF_VNET_HDR_LEN

typedef enum trf_drop (*frame_fn)(const struct trf_reflect_ctx *, uint8_t *, uint32_t, uint32_t *);

static struct trf_reflect_ctx tap = { .link = TRF_LINK_TAP,
				      .mac = { 0x02, 0x74, 0x72, 0x66, 0x00, 0x01 },
				      .vnet_hdr = true };
static struct trf_reflect_ctx tun = { .link = TRF_LINK_TUN, .vnet_hdr = true };

static uint8_t buf[TF_MAX + H + SLACK];
static uint8_t before[TF_MAX + H + SLACK];
static uint8_t *const f = buf + H; /* the frame, after its header */

struct hdr {
	uint8_t flags, gso_type;
	uint16_t hdr_len, gso_size, csum_start, csum_offset;
};

static void put_hdr(struct hdr h)
{
	tf_vnet_hdr(buf, h.flags, h.gso_type, h.hdr_len, h.gso_size, h.csum_start, h.csum_offset);
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Run fn on header + frame (frame_len bytes) with the invariants of every call. */
static enum trf_drop run(frame_fn fn, const struct trf_reflect_ctx *ctx, size_t frame_len,
			 uint32_t *out_len)
{
	size_t len = H + frame_len;
	uint32_t out = 0xdeadbeef;
	enum trf_drop d;

	memset(buf + len, CANARY, SLACK);
	memcpy(before, buf, len + SLACK);
	d = fn(ctx, buf, (uint32_t)len, &out);
	for (size_t i = len; i < len + SLACK; i++)
		assert_int_equal(buf[i], CANARY);
	if (d == TRF_DROP_NONE) {
		assert_true(out >= H && out <= len);
	} else {
		assert_memory_equal(buf, before, len);
		assert_int_equal(out, 0xdeadbeef);
	}
	if (out_len)
		*out_len = out;
	return d;
}

static size_t udp4(int tapf, size_t payload)
{
	struct tf_ipv4 h = { .proto = 17 };

	return tf_udp_frame(f, tapf, &h, 40000, 9000, payload);
}

static size_t tcp4(int tapf, size_t payload)
{
	struct tf_ipv4 h = { .proto = 6 };

	return tf_udp_frame(f, tapf, &h, 40000, 9000, payload);
}

static void test_plain_header_kept(void **state)
{
	uint32_t out;
	size_t len;

	(void)state;
	len = udp4(1, 100);
	put_hdr((struct hdr){ 0 });
	assert_int_equal(run(trf_respond_vnet_frame, &tap, len, &out), TRF_DROP_NONE);
	assert_int_equal(out, H + len);
	assert_int_equal(be16(f + 34), 9000); /* ports swapped */
	assert_int_equal(be16(f + 36), 40000);
	assert_true(tf_l4_csum_ok(f + 14));
	for (int i = 0; i < H; i++)
		assert_int_equal(buf[i], 0);
	/* Data valid: a plain hint, kept as it is. */
	len = udp4(0, 100);
	put_hdr((struct hdr){ .flags = TRF_VNET_F_DATA_VALID });
	assert_int_equal(run(trf_respond_vnet_frame, &tun, len, &out), TRF_DROP_NONE);
	assert_int_equal(buf[0], TRF_VNET_F_DATA_VALID);
}

/* TCP superpacket (TSO) on TAP and TUN: the header stays, the 5-tuple is swapped. */
static void test_tso_superpacket(void **state)
{
	static const uint8_t partial[2] = { 0x12, 0x34 };
	uint32_t out;

	(void)state;
	for (int tapf = 0; tapf <= 1; tapf++) {
		const struct trf_reflect_ctx *ctx = tapf ? &tap : &tun;
		uint16_t l4 = (uint16_t)(tapf ? 34 : 20);
		size_t len = tcp4(tapf, 15000);
		struct hdr h = { .flags = TRF_VNET_F_NEEDS_CSUM,
				 .gso_type = TRF_VNET_GSO_TCPV4,
				 .hdr_len = (uint16_t)(l4 + 20),
				 .gso_size = 1448,
				 .csum_start = l4,
				 .csum_offset = 16 };

		memcpy(f + l4 + 16, partial, 2);
		put_hdr(h);
		assert_int_equal(run(trf_respond_vnet_frame, ctx, len, &out), TRF_DROP_NONE);
		assert_int_equal(out, H + len);
		assert_memory_equal(buf + 1, before + 1, 9); /* header as read */
		assert_int_equal(buf[0], TRF_VNET_F_NEEDS_CSUM);
		assert_memory_equal(f + l4 + 16, partial, 2); /* partial sum untouched */
		assert_int_equal(be16(f + l4), 9000);
		assert_memory_equal(f + l4 - 8, tf_peer_ip, 4); /* addresses swapped */
		/* ECN on TCP segmentation is fine too. */
		h.gso_type = TRF_VNET_GSO_TCPV4 | TRF_VNET_GSO_ECN;
		len = tcp4(tapf, 3000);
		put_hdr(h);
		assert_int_equal(run(trf_respond_vnet_frame, ctx, len, NULL), TRF_DROP_NONE);
	}
}

/* Headers that do not describe the frame, or that the kernel would refuse. */
static void test_bad_headers_dropped(void **state)
{
	const struct hdr good = { .flags = TRF_VNET_F_NEEDS_CSUM,
				  .gso_type = TRF_VNET_GSO_TCPV4,
				  .hdr_len = 54,
				  .gso_size = 1448,
				  .csum_start = 34,
				  .csum_offset = 16 };
	struct {
		const char *what;
		struct hdr h;
		int udp;
	} cases[] = {
		{ "unknown flag", { .flags = 4 }, 0 },
		{ "UFO",
		  { .flags = 1,
		    .gso_type = 3,
		    .gso_size = 1000,
		    .csum_start = 34,
		    .csum_offset = 6 },
		  1 },
		{ "unknown GSO type",
		  { .flags = 1,
		    .gso_type = 7,
		    .gso_size = 1000,
		    .csum_start = 34,
		    .csum_offset = 16 },
		  0 },
		{ "GSO without a segment size",
		  { .flags = 1, .gso_type = 1, .csum_start = 34, .csum_offset = 16 },
		  0 },
		{ "GSO without a checksum to complete", { .gso_type = 1, .gso_size = 1448 }, 0 },
		{ "ECN without TCP segmentation", { .gso_type = 0x80 }, 0 },
		{ "TCPv4 segmentation of UDP",
		  { .flags = 1,
		    .gso_type = 1,
		    .gso_size = 1448,
		    .csum_start = 34,
		    .csum_offset = 6 },
		  1 },
		{ "TCPv6 segmentation of IPv4",
		  { .flags = 1,
		    .gso_type = 4,
		    .gso_size = 1448,
		    .csum_start = 34,
		    .csum_offset = 16 },
		  0 },
		{ "checksum not at the transport header",
		  { .flags = 1, .csum_start = 30, .csum_offset = 16 },
		  0 },
		{ "checksum at the wrong field",
		  { .flags = 1, .csum_start = 34, .csum_offset = 6 },
		  0 },
		{ "checksum beyond the frame",
		  { .flags = 1, .csum_start = 4000, .csum_offset = 16 },
		  0 },
		{ "hdr_len beyond the frame", { .hdr_len = 5000 }, 0 },
		{ "UDP segmentation beyond 128 segments",
		  { .flags = 1, .gso_type = 5, .gso_size = 2, .csum_start = 34, .csum_offset = 6 },
		  1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = cases[i].udp ? udp4(1, 1000) : tcp4(1, 1000);

		put_hdr(cases[i].h);
		if (run(trf_respond_vnet_frame, &tap, len, NULL) != TRF_DROP_BAD_VNET_HDR)
			fail_msg("%s: not dropped as bad_vnet_hdr", cases[i].what);
	}
	/* The same frame with a good header goes back. */
	put_hdr(good);
	assert_int_equal(run(trf_respond_vnet_frame, &tap, tcp4(1, 1000), NULL), TRF_DROP_NONE);
	/* A read shorter than the header. */
	assert_int_equal(trf_respond_vnet_frame(&tap, buf, H - 1, &(uint32_t){ 0 }), TRF_DROP_RUNT);
}

/* UDP segmentation (USO): UDP only, the UDP checksum, at most 128 segments. */
static void test_uso_superpacket(void **state)
{
	size_t len = udp4(1, 64 * 200);

	(void)state;
	put_hdr((struct hdr){ .flags = TRF_VNET_F_NEEDS_CSUM,
			      .gso_type = TRF_VNET_GSO_UDP_L4,
			      .hdr_len = 42,
			      .gso_size = 200,
			      .csum_start = 34,
			      .csum_offset = 6 });
	assert_int_equal(run(trf_respond_vnet_frame, &tap, len, NULL), TRF_DROP_NONE);
	assert_int_equal(be16(f + 34), 9000);
	assert_int_equal(buf[1], TRF_VNET_GSO_UDP_L4);
}

/* An echo request whose checksum the receiver completes: only the type changes. */
static void test_partial_checksum_left_alone(void **state)
{
	struct tf_ipv4 ih = { .proto = 1 };
	size_t len = tf_icmp_frame(f, 1, &ih, 8, 56);
	uint8_t check[2];

	(void)state;
	memcpy(check, f + 34 + 2, 2);
	put_hdr((struct hdr){ .flags = TRF_VNET_F_NEEDS_CSUM, .csum_start = 34, .csum_offset = 2 });
	assert_int_equal(run(trf_respond_vnet_frame, &tap, len, NULL), TRF_DROP_NONE);
	assert_int_equal(f[34], 0); /* echo reply */
	assert_memory_equal(f + 34 + 2, check, 2);
	/* Without the flag the checksum is updated as always, and verifies. */
	len = tf_icmp_frame(f, 1, &ih, 8, 56);
	put_hdr((struct hdr){ 0 });
	assert_int_equal(run(trf_respond_vnet_frame, &tap, len, NULL), TRF_DROP_NONE);
	assert_int_equal(f[34], 0);
	assert_true(tf_l4_csum_ok(f + 14));
}

/* sockperf's flag rewrite under a partial UDP checksum. */
static void test_sockperf_partial_checksum(void **state)
{
	struct tf_ipv4 h = { .proto = 17 };
	size_t len = tf_udp_frame(f, 0, &h, 40000, 11111, 14 + 20);
	uint8_t check[2] = { 0x55, 0x66 };

	(void)state;
	tf_sockperf_hdr(f + 28, 7, 3, 14 + 20); /* client | pong request */
	memcpy(f + 26, check, 2);
	put_hdr((struct hdr){ .flags = TRF_VNET_F_NEEDS_CSUM, .csum_start = 20, .csum_offset = 6 });
	assert_int_equal(run(trf_sockperf_vnet_frame, &tun, len, NULL), TRF_DROP_NONE);
	assert_int_equal(be16(f + 28 + 8), 2); /* client flag cleared */
	assert_memory_equal(f + 26, check, 2);
	assert_int_equal(be16(f + 20), 11111);
}

static size_t ns_frame(void)
{
	static const uint8_t snmac[6] = { 0x33, 0x33, 0xff, 0x00, 0x00, 0x02 };
	static const uint8_t snip[16] = { 0xff, 0x02, [11] = 1, [12] = 0xff, [15] = 2 };
	uint8_t *icmp = f + 14 + 40;

	tf_eth(f, snmac, tf_host_mac, 0x86dd);
	tf_ipv6(f + 14, 58, tf_host_ip6, snip, 32);
	f[14 + 7] = 255;
	memset(icmp, 0, 32);
	icmp[0] = 135;
	memcpy(icmp + 8, tf_peer_ip6, 16);
	icmp[24] = 1;
	icmp[25] = 1;
	memcpy(icmp + 26, tf_host_mac, 6);
	tf_l4_csum6(f + 14, icmp, 58);
	return 14 + 40 + 32;
}

/* ARP and NDP answers: a plain header in, a plain header out; nothing else is answered. */
static void test_answers_get_plain_headers(void **state)
{
	uint32_t out;
	size_t len;

	(void)state;
	len = ns_frame();
	put_hdr((struct hdr){ .flags = TRF_VNET_F_NEEDS_CSUM, .csum_start = 54, .csum_offset = 2 });
	assert_int_equal(run(trf_respond_vnet_frame, &tap, len, &out), TRF_DROP_NONE);
	assert_int_equal(out, H + 14 + 40 + 32);
	assert_int_equal(f[54], 136);
	assert_true(tf_l4_csum6_ok(f + 14, f + 54, 58)); /* a full checksum */
	for (int i = 0; i < H; i++)
		assert_int_equal(buf[i], 0);
	len = ns_frame();
	put_hdr((struct hdr){ .flags = 1,
			      .gso_type = TRF_VNET_GSO_TCPV6,
			      .gso_size = 1000,
			      .csum_start = 54,
			      .csum_offset = 2 });
	assert_int_equal(run(trf_respond_vnet_frame, &tap, len, NULL), TRF_DROP_BAD_VNET_HDR);

	len = tf_arp_frame(f, 1, tf_host_ip, tf_peer_ip);
	put_hdr((struct hdr){ 0 });
	assert_int_equal(run(trf_respond_vnet_frame, &tap, len, NULL), TRF_DROP_NONE);
	assert_int_equal(be16(f + 14 + 6), 2); /* reply */
	len = tf_arp_frame(f, 1, tf_host_ip, tf_peer_ip);
	put_hdr((struct hdr){ .flags = TRF_VNET_F_NEEDS_CSUM, .csum_start = 14, .csum_offset = 2 });
	assert_int_equal(run(trf_respond_vnet_frame, &tap, len, NULL), TRF_DROP_BAD_VNET_HDR);
}

static void test_macswap_behind_header(void **state)
{
	uint32_t out;
	size_t len = udp4(1, 200);

	(void)state;
	put_hdr((struct hdr){ .flags = TRF_VNET_F_NEEDS_CSUM, .csum_start = 34, .csum_offset = 6 });
	assert_int_equal(run(trf_macswap_vnet_frame, &tap, len, &out), TRF_DROP_NONE);
	assert_int_equal(out, H + len);
	assert_memory_equal(f, tf_host_mac, 6);
	assert_memory_equal(buf, before, H);
	put_hdr((struct hdr){ .flags = 0x10 });
	assert_int_equal(run(trf_macswap_vnet_frame, &tap, len, NULL), TRF_DROP_BAD_VNET_HDR);
	put_hdr((struct hdr){ 0 });
	assert_int_equal(run(trf_macswap_vnet_frame, &tap, 13, NULL), TRF_DROP_RUNT);
}

/* The mode's burst function takes every frame as header + frame when ctx says so. */
static void test_burst_with_headers(void **state)
{
	struct trf_frame frames[2];
	size_t len;

	(void)state;
	len = udp4(1, 100);
	put_hdr((struct hdr){ 0 });
	frames[0] = (struct trf_frame){ .data = buf, .len = (uint32_t)(H + len), .cookie = 1 };
	frames[1] = (struct trf_frame){ .data = buf, .len = 5, .cookie = 2 };
	trf_reflect_mode_find("respond")->burst(&tap, frames, 1);
	assert_int_equal(frames[0].verdict, TRF_DROP_NONE);
	assert_int_equal(frames[0].len, H + len);
	trf_reflect_mode_find("respond")->burst(&tap, &frames[1], 1);
	assert_int_equal(frames[1].verdict, TRF_DROP_RUNT);
	assert_string_equal(trf_drop_name(TRF_DROP_BAD_VNET_HDR), "bad_vnet_hdr");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_header_kept),
		cmocka_unit_test(test_tso_superpacket),
		cmocka_unit_test(test_bad_headers_dropped),
		cmocka_unit_test(test_uso_superpacket),
		cmocka_unit_test(test_partial_checksum_left_alone),
		cmocka_unit_test(test_sockperf_partial_checksum),
		cmocka_unit_test(test_answers_get_plain_headers),
		cmocka_unit_test(test_macswap_behind_header),
		cmocka_unit_test(test_burst_with_headers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
