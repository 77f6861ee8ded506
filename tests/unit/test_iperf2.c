// SPDX-License-Identifier: MIT
/*
 * The iperf2 mode: the server report against one captured from the real
 * thing, and a flow's counts, jitter and verdicts against values worked out
 * here from the same datagrams.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frames.h"
#include "tapreflect/iperf2.h"
#include "tapreflect/reflect.h"

/*
 * The report Debian's iperf 2.1.8 server (`iperf -s -u`) sent on loopback to
 * `iperf -u -c 127.0.0.1 -t 1 -b 1M -l 200`, captured off the wire (the UDP
 * payload, 128 bytes).  Both ends printed:
 *   [  1] 0.0000-1.0031 sec   129 KBytes  1.05 Mbits/sec   0.006 ms 0/659 (0%)
 */
static const char fixture_hex[] =
    "000000000000000000000000000000008800000000000000000202d800000001"
    "00000c3500000000000000000000029300000000000000060000000000000002"
    "00000000000000590000000000002710000000000000000f0000a426000e3782"
    "0000000000000007000002930000029000000001000000000000000000000000";

static void fixture(uint8_t out[TRF_IPERF2_REPORT_LEN])
{
	for (size_t i = 0; i < TRF_IPERF2_REPORT_LEN; i++) {
		char byte[3] = { fixture_hex[2 * i], fixture_hex[2 * i + 1], 0 };

		out[i] = (uint8_t)strtoul(byte, NULL, 16);
	}
}

static void test_decode_fixture(void **state)
{
	uint8_t wire[TRF_IPERF2_REPORT_LEN];
	struct trf_iperf2_report r;

	(void)state;
	fixture(wire);
	assert_int_equal(trf_iperf2_report_decode(wire, sizeof(wire), &r), 0);
	/* What both ends printed: 129 KBytes (131800 B = 659 x 200), 0.0000-1.0031 s, 0/659, 0.006 ms. */
	assert_int_equal(r.bytes, 131800);
	assert_int_equal(r.datagrams, 659);
	assert_int_equal(r.lost, 0);
	assert_int_equal(r.out_of_order, 0);
	assert_float_equal(r.stop_s, 1.003125, 1e-9);
	assert_float_equal(r.jitter_s, 0.000006, 1e-9);
	assert_float_equal(r.transit_min_s, 0.000002, 1e-9);
	assert_float_equal(r.transit_max_s, 0.000089, 1e-9);
	assert_float_equal(r.transit_sum_s, 0.01, 1e-9);
	assert_float_equal(r.transit_mean_s, 0.000015, 1e-9);
	assert_float_equal(r.transit_m2, 42022.931714, 1e-6);
	assert_int_equal(r.transit_count, 659);
	/* Too short, or no VERSION1 flag: not a report. */
	assert_int_equal(trf_iperf2_report_decode(wire, 55, &r), -1);
	wire[16] = 0;
	assert_int_equal(trf_iperf2_report_decode(wire, sizeof(wire), &r), -1);
}

/* Encoding what the fixture says gives the fixture, word for word, but the IPG pair. */
static void test_encode_matches_fixture(void **state)
{
	uint8_t wire[TRF_IPERF2_REPORT_LEN], out[TRF_IPERF2_REPORT_LEN + 8];
	struct trf_iperf2_report r;

	(void)state;
	fixture(wire);
	assert_int_equal(trf_iperf2_report_decode(wire, sizeof(wire), &r), 0);
	memset(out, 0xaa, sizeof(out));
	assert_int_equal(trf_iperf2_report_encode(out, sizeof(out), &r), TRF_IPERF2_REPORT_LEN);
	for (size_t w = 0; w < TRF_IPERF2_REPORT_LEN / 4; w++) {
		/* Words 27 and 28: inter-packet gap count and sum, which tapreflect leaves 0. */
		if (w == 27 || w == 28) {
			assert_memory_equal(out + 4 * w, "\0\0\0\0", 4);
			continue;
		}
		if (memcmp(out + 4 * w, wire + 4 * w, 4) != 0)
			fail_msg("word %zu differs from the captured report", w);
	}
	assert_int_equal(out[TRF_IPERF2_REPORT_LEN], 0xaa); /* nothing past the report */

	/* Room for the first part only: no 64-bit counts, no SEQNO64B flag. */
	memset(out, 0xaa, sizeof(out));
	assert_int_equal(trf_iperf2_report_encode(out, 100, &r), TRF_IPERF2_REPORT_V1_LEN);
	assert_int_equal(out[16], 0x80);
	assert_int_equal(out[TRF_IPERF2_REPORT_V1_LEN], 0xaa);
	assert_int_equal(trf_iperf2_report_encode(out, 55, &r), 0);

	/* Counts above 32 bits go to the extension, and come back. */
	r.datagrams = 0x123456789ull;
	r.lost = 0x200000001ull;
	r.out_of_order = 0x300000002ull;
	r.bytes = 0x7fffffff12ull;
	assert_int_equal(trf_iperf2_report_encode(out, sizeof(out), &r), TRF_IPERF2_REPORT_LEN);
	{
		struct trf_iperf2_report back;

		assert_int_equal(trf_iperf2_report_decode(out, TRF_IPERF2_REPORT_LEN, &back), 0);
		assert_int_equal(back.datagrams, r.datagrams);
		assert_int_equal(back.lost, r.lost);
		assert_int_equal(back.out_of_order, r.out_of_order);
		assert_int_equal(back.bytes, r.bytes);
	}
}

/* ---- the mode on frames ---- */

static uint64_t fake_now_us;

static uint64_t fake_clock(void *arg)
{
	(void)arg;
	return fake_now_us;
}

struct mode_fixture {
	struct trf_reflect_ctx ctx;
	const struct trf_reflect_mode *mode;
};

static int setup_mode(void **state)
{
	struct mode_fixture *m = calloc(1, sizeof(*m));

	m->mode = trf_reflect_mode_find("iperf2");
	assert_non_null(m->mode);
	assert_true(m->mode->consumes);
	m->ctx.link = TRF_LINK_TUN;
	m->ctx.iperf2_port_lo = 5001;
	m->ctx.iperf2_port_hi = 5002;
	m->ctx.state = calloc(1, m->mode->state_size);
	m->mode->state_init(m->ctx.state);
	trf_iperf2_set_clock(m->ctx.state, fake_clock, NULL);
	fake_now_us = 1700000000ull * 1000000;
	*state = m;
	return 0;
}

static int teardown_mode(void **state)
{
	struct mode_fixture *m = *state;

	free(m->ctx.state);
	free(m);
	return 0;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* A TUN IPv4 datagram from sport to dport carrying iperf2 sequence seq sent at tx_us. */
static size_t datagram(uint8_t *p, uint16_t sport, uint16_t dport, int64_t seq, uint64_t tx_us,
		       size_t payload)
{
	struct tf_ipv4 h = { .proto = 17 };
	size_t len = tf_udp_frame(p, 0, &h, sport, dport, payload);
	uint8_t *pl = p + 20 + 8;

	put32(pl, (uint32_t)(uint64_t)seq);
	put32(pl + 4, (uint32_t)(tx_us / 1000000));
	put32(pl + 8, (uint32_t)(tx_us % 1000000));
	put32(pl + 12, (uint32_t)((uint64_t)seq >> 32));
	tf_l4_csum(p);
	return len;
}

/*
 * Datagrams 1 2 3 5 4 6, then the final (-7), with transit times that vary:
 * the report counts 7 datagrams, 1 out of order, none lost (4 came late), the
 * bytes of all seven, the time from the first to the final, and the RFC 3550
 * jitter of the in-order ones, worked out here.
 */
static void test_flow_report(void **state)
{
	struct mode_fixture *m = *state;
	static const int64_t ids[] = { 1, 2, 3, 5, 4, 6, -7 };
	static const uint32_t transit_us[] = { 100, 130, 90, 160, 999, 120, 110 };
	uint8_t frame[TF_MAX], before[TF_MAX];
	uint64_t start = fake_now_us;
	double jitter = 0, last = 0;
	bool have = false;
	uint32_t out;
	size_t len = 0;

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		uint64_t rx = start + i * 1000;

		fake_now_us = rx;
		len = datagram(frame, 40000, 5001, ids[i], rx - transit_us[i], 1400);
		memcpy(before, frame, len);
		if (ids[i] > 0) {
			assert_int_equal(trf_iperf2_frame(&m->ctx, frame, (uint32_t)len, &out),
					 TRF_CONSUMED);
			assert_memory_equal(frame, before, len); /* consumed: untouched */
		}
		/* RFC 3550 over the datagrams that came in order (not id 4). */
		if (ids[i] != 4) {
			if (have) {
				double d = transit_us[i] - last;

				jitter += ((d < 0 ? -d : d) - jitter) / 16;
			}
			last = transit_us[i];
			have = true;
		}
	}
	assert_int_equal(trf_iperf2_frame(&m->ctx, frame, (uint32_t)len, &out), TRF_DROP_NONE);
	assert_int_equal(out, len);
	/* Turned around: addresses and ports swapped, a valid checksum over the report. */
	assert_memory_equal(frame + 12, before + 16, 4);
	assert_memory_equal(frame + 16, before + 12, 4);
	assert_memory_equal(frame + 20, before + 22, 2);
	assert_memory_equal(frame + 22, before + 20, 2);
	assert_true(tf_l4_csum_ok(frame));
	{
		struct trf_iperf2_report r;
		const uint8_t *pl = frame + 28;

		assert_int_equal(trf_iperf2_report_decode(pl, 1400 - 0, &r), 0);
		assert_int_equal(r.datagrams, 7);
		assert_int_equal(r.out_of_order, 1);
		assert_int_equal(r.lost, 0);
		assert_int_equal(r.bytes, 7 * 1400);
		assert_float_equal(r.stop_s, 0.006, 1e-9);
		/* Sent in whole microseconds. */
		assert_float_equal(r.jitter_s, jitter / 1e6, 1e-6);
		assert_int_equal(r.transit_count, 6);
		assert_float_equal(r.transit_min_s, 90e-6, 1e-9);
		assert_float_equal(r.transit_max_s, 160e-6, 1e-9);
		/* Past the report, the datagram is zeros. */
		for (size_t i = TRF_IPERF2_REPORT_LEN; i < 1400; i++)
			if (pl[i])
				fail_msg("byte %zu of the answer is not zero", i);
	}
	/* A repeat of the final gets the same report, counts nothing again. */
	{
		uint8_t again[TF_MAX];

		fake_now_us += 250000;
		memcpy(again, before, len);
		assert_int_equal(trf_iperf2_frame(&m->ctx, again, (uint32_t)len, &out),
				 TRF_DROP_NONE);
		assert_memory_equal(again + 28, frame + 28, 1400);
	}
}

/* Gaps are lost; a 64-bit sequence number (high word set) counts as one. */
static void test_loss_and_wide_ids(void **state)
{
	struct mode_fixture *m = *state;
	static const int64_t ids[] = { 0x100000001ll, 0x100000002ll, 0x100000006ll,
				       -0x100000008ll };
	uint8_t frame[TF_MAX];
	struct trf_iperf2_report r;
	uint32_t out;
	size_t len = 0;

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		fake_now_us += 1000;
		len = datagram(frame, 40001, 5002, ids[i], fake_now_us - 50, 200);
		assert_int_equal(trf_iperf2_frame(&m->ctx, frame, (uint32_t)len, &out),
				 ids[i] > 0 ? TRF_CONSUMED : TRF_DROP_NONE);
	}
	assert_int_equal(trf_iperf2_report_decode(frame + 28, 200 - 8 + 8, &r), 0);
	assert_int_equal(r.datagrams, 0x100000008ull);
	/* The first datagram after the flow began at 0x100000001: 0x100000000 before it, 3 + 1 gaps. */
	assert_int_equal(r.lost, 0x100000000ull + 3 + 1);
	assert_int_equal(r.out_of_order, 0);
}

/* UDP to other ports, ICMP and short datagrams are answered as respond does. */
static void test_not_iperf2(void **state)
{
	struct mode_fixture *m = *state;
	uint8_t frame[TF_MAX], before[TF_MAX];
	struct tf_ipv4 h = { .proto = 17 };
	uint32_t out;
	size_t len;

	len = datagram(frame, 40000, 5003, 1, fake_now_us, 100); /* outside 5001-5002 */
	memcpy(before, frame, len);
	assert_int_equal(trf_iperf2_frame(&m->ctx, frame, (uint32_t)len, &out), TRF_DROP_NONE);
	assert_memory_equal(frame + 20, before + 22, 2); /* ports swapped, payload as it was */
	assert_memory_equal(frame + 28, before + 28, 100);
	len = tf_udp_frame(frame, 0, &h, 40000, 5001, 15); /* shorter than the iperf2 header */
	assert_int_equal(trf_iperf2_frame(&m->ctx, frame, (uint32_t)len, &out), TRF_DROP_NONE);
	len = tf_icmp_frame(frame, 0, &(struct tf_ipv4){ .proto = 1 }, 8, 56);
	assert_int_equal(trf_iperf2_frame(&m->ctx, frame, (uint32_t)len, &out), TRF_DROP_NONE);
	assert_int_equal(frame[20], 0); /* echo reply */
}

/* A full probe window: the new flow is dropped with its reason; once the others idle, it gets in. */
static void test_table_full(void **state)
{
	struct mode_fixture *m = *state;
	uint8_t frame[TF_MAX];
	unsigned int admitted = 0, full_at = 0;
	uint32_t out;
	size_t len;

	for (unsigned int sport = 1; sport <= 2 * TRF_IPERF2_FLOWS && !full_at; sport++) {
		enum trf_drop v;

		len = datagram(frame, (uint16_t)sport, 5001, 1, fake_now_us, 64);
		v = trf_iperf2_frame(&m->ctx, frame, (uint32_t)len, &out);
		if (v == TRF_DROP_IPERF2_TABLE_FULL)
			full_at = sport;
		else
			assert_int_equal(v, TRF_CONSUMED), admitted++;
	}
	assert_true(full_at > 0);
	assert_true(admitted <= TRF_IPERF2_FLOWS);
	assert_int_equal(trf_iperf2_flows(m->ctx.state), admitted);
	/* A dropped datagram is left as it was read. */
	{
		uint8_t copy[TF_MAX];

		len = datagram(frame, (uint16_t)full_at, 5001, 1, fake_now_us, 64);
		memcpy(copy, frame, len);
		assert_int_equal(trf_iperf2_frame(&m->ctx, frame, (uint32_t)len, &out),
				 TRF_DROP_IPERF2_TABLE_FULL);
		assert_memory_equal(frame, copy, len);
	}
	fake_now_us += (uint64_t)(TRF_IPERF2_IDLE_S + 1) * 1000000;
	assert_int_equal(trf_iperf2_flows(m->ctx.state), 0);
	len = datagram(frame, (uint16_t)full_at, 5001, 1, fake_now_us, 64);
	assert_int_equal(trf_iperf2_frame(&m->ctx, frame, (uint32_t)len, &out), TRF_CONSUMED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_fixture),
		cmocka_unit_test(test_encode_matches_fixture),
		cmocka_unit_test_setup_teardown(test_flow_report, setup_mode, teardown_mode),
		cmocka_unit_test_setup_teardown(test_loss_and_wide_ids, setup_mode, teardown_mode),
		cmocka_unit_test_setup_teardown(test_not_iperf2, setup_mode, teardown_mode),
		cmocka_unit_test_setup_teardown(test_table_full, setup_mode, teardown_mode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
