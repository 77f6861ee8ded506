// SPDX-License-Identifier: MIT
/*
 * tapgen --imix (tools/tapgen/imix.h): the spec parser, csit and lists and
 * what it refuses; the interleave, against sequences worked out by hand
 * from nginx's smooth weighted round-robin, each size its weight's times a
 * cycle and every prefix within one datagram of its share; each frame's
 * payload per address family and what is too small; the L1/L2 bit rates
 * against a hand calculation; a sequence number's size and what a trial
 * sent of each; and the trial record's "imix" object and text lines.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imix.h"
#include "tapgen.h"

static struct tapgen_imix m; /* 4 KiB: not on the stack */

static void parse_ok(const char *spec)
{
	char why[200] = "";

	if (tapgen_imix_parse(&m, spec, why, sizeof(why)) != 0)
		fail_msg("'%s' refused: %s", spec, why);
}

/* The interleave as size indexes, a digit each: "0100102" etc. */
static void assert_order(const char *want)
{
	char got[TAPGEN_IMIX_CYCLE + 1];

	assert_int_equal(m.cycle, strlen(want));
	for (unsigned int i = 0; i < m.cycle; i++)
		got[i] = (char)('0' + m.order[i]);
	got[m.cycle] = '\0';
	assert_string_equal(got, want);
}

static void parse_csit(void **state)
{
	static const char *const same[] = { "csit", "CSIT", "64:7,570:4,1518:1" };

	(void)state;
	for (size_t k = 0; k < sizeof(same) / sizeof(same[0]); k++) {
		parse_ok(same[k]);
		assert_ptr_equal(m.spec, same[k]);
		assert_int_equal(m.n, 3);
		assert_int_equal(m.frame[0], 64);
		assert_int_equal(m.frame[1], 570);
		assert_int_equal(m.frame[2], 1518);
		assert_int_equal(m.weight[0], 7);
		assert_int_equal(m.weight[1], 4);
		assert_int_equal(m.weight[2], 1);
		assert_int_equal(m.cycle, 12);
		/* 64, 570, 64, 64, 570, 64, 1518, 64, 570, 64, 570, 64 */
		assert_order("010010201010");
	}
}

static void parse_lists(void **state)
{
	char sixteen[200];
	size_t len = 0;

	(void)state;
	parse_ok("128,256:3");
	assert_int_equal(m.n, 2);
	assert_int_equal(m.weight[0], 1); /* no weight: 1 */
	assert_int_equal(m.weight[1], 3);
	assert_int_equal(m.cycle, 4);
	parse_ok("1518");
	assert_int_equal(m.n, 1);
	assert_int_equal(m.cycle, 1);
	parse_ok("64:4096");
	assert_int_equal(m.cycle, TAPGEN_IMIX_CYCLE);
	parse_ok("9018:1,64:1");
	assert_int_equal(m.frame[0], 9018);
	assert_int_equal(m.frame[1], 64); /* the order given */
	for (unsigned int i = 0; i < TAPGEN_IMIX_SIZES; i++)
		len += (size_t)snprintf(sixteen + len, sizeof(sixteen) - len, "%s%u:%u",
					i ? "," : "", 64 + 100 * i, i + 1);
	parse_ok(sixteen);
	assert_int_equal(m.n, TAPGEN_IMIX_SIZES);
	assert_int_equal(m.frame[15], 1564);
	assert_int_equal(m.cycle, 16 * 17 / 2);
}

static void parse_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"csi",
		"63",
		"9019",
		"0",
		"64:0",
		"64:",
		":7",
		"64,",
		",64",
		"64,,128",
		"64:7x",
		"64 ,128",
		" 64",
		"-64",
		"+64",
		"64:-1",
		"64:1.5",
		"64.5",
		"64,64",
		"64:4000,128:97",
		"64:4097",
		"1e3",
		"0x40",
		"64;128",
		"99999999999",
		"64:99999999999",
		"64,128,192,256,320,384,448,512,576,640,704,768,832,896,960,1024,1088",
	};

	(void)state;
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		char why[200] = "";

		if (tapgen_imix_parse(&m, bad[k], why, sizeof(why)) != -EINVAL)
			fail_msg("'%s' accepted", bad[k]);
		assert_true(why[0] != '\0');
		printf("refused '%s': %s\n", bad[k], why);
	}
}

/* Each size its weight's times a cycle; on every prefix within one datagram of its share. */
static void assert_smooth(void)
{
	uint64_t count[TAPGEN_IMIX_SIZES] = { 0 };

	for (unsigned int k = 1; k <= m.cycle; k++) {
		count[m.order[k - 1]]++;
		for (unsigned int i = 0; i < m.n; i++) {
			/* |k w / cycle - count| < 1, in integers */
			int64_t dev =
			    (int64_t)k * m.weight[i] - (int64_t)m.cycle * (int64_t)count[i];

			if (llabs(dev) >= m.cycle)
				fail_msg("%s: size %u after %u: %" PRIu64 " of %u", m.spec, i, k,
					 count[i], m.cycle);
		}
	}
	for (unsigned int i = 0; i < m.n; i++)
		assert_int_equal(count[i], m.weight[i]);
}

static bool repeats(void)
{
	for (unsigned int k = 1; k < m.cycle; k++)
		if (m.order[k] == m.order[k - 1])
			return true;
	return false;
}

static void interleave(void **state)
{
	static const char *const mixes[] = {
		"csit",
		"64:3,570:2,1518:1",
		"64:2,570:2,1518:2",
		"64,570,1518:10",
		"64:4,570:4,1518:6",
		"64:58,570:33,1518:9",
		"64:1,128:2,192:3,256:4,320:5,384:6,448:7,512:8,576:9,640:10,704:11,768:12,"
		"832:13,896:14,960:15,1024:16",
		"64:4096",
	};

	(void)state;
	for (size_t k = 0; k < sizeof(mixes) / sizeof(mixes[0]); k++) {
		parse_ok(mixes[k]);
		assert_smooth();
	}
	/* Where the weights allow it, no size twice in a row. */
	parse_ok("64:3,570:2,1518:1");
	assert_order("010210");
	assert_false(repeats());
	parse_ok("64:2,570:2,1518:2");
	assert_order("012012");
	parse_ok("64:5,570:5");
	assert_order("0101010101");
	/* csit: 64 is 7 of 12, so twice in a row once, never three times; 570 and 1518 never. */
	parse_ok("csit");
	for (unsigned int k = 0; k < 2 * m.cycle; k++) {
		unsigned int a = m.order[k % m.cycle], b = m.order[(k + 1) % m.cycle];

		assert_false(a == b && a != 0);
		assert_false(a == 0 && b == 0 && m.order[(k + 2) % m.cycle] == 0);
	}
	/* A heavy size is spread, not sent in one run: 1518 x10 around the two others. */
	parse_ok("64,570,1518:10");
	assert_order("222022212222");
	/* Smooth, not free of repeats (imix.h): two 1518s meet where no order needs it. */
	parse_ok("64:4,570:4,1518:6");
	assert_order("20120122012012");
	assert_true(repeats());
}

static void payloads(void **state)
{
	char why[300] = "";

	(void)state;
	assert_int_equal(tapgen_frame_overhead(false), 46);
	assert_int_equal(tapgen_frame_overhead(true), 66);
	parse_ok("csit");
	assert_int_equal(tapgen_imix_payloads(&m, false, MIN_PAYLOAD, "UDP", why, sizeof(why)), 0);
	assert_int_equal(m.payload[0], 18); /* the 64 B frame --size 18 makes */
	assert_int_equal(m.payload[1], 524);
	assert_int_equal(m.payload[2], 1472);
	assert_int_equal(m.max_payload, 1472);
	/* IPv6's 40 B header: a 64 B frame has no room for our 16 B. */
	assert_int_equal(tapgen_imix_payloads(&m, true, MIN_PAYLOAD, "UDP", why, sizeof(why)),
			 -EINVAL);
	printf("csit over IPv6: %s\n", why);
	assert_non_null(strstr(why, "a 64 B frame cannot carry UDP over IPv6"));
	assert_non_null(strstr(why, "82 B or more"));
	assert_int_equal(tapgen_imix_payloads(&m, true, MIN_PAYLOAD, "ICMP echo", why, sizeof(why)),
			 -EINVAL);
	assert_non_null(strstr(why, "ICMP echo over IPv6"));
	parse_ok("82:7,570:4,1518:1");
	assert_int_equal(tapgen_imix_payloads(&m, true, MIN_PAYLOAD, "UDP", why, sizeof(why)), 0);
	assert_int_equal(m.payload[0], 16);
	assert_int_equal(m.payload[1], 504);
	assert_int_equal(m.payload[2], 1452);
	parse_ok("81,1518");
	assert_int_equal(tapgen_imix_payloads(&m, true, MIN_PAYLOAD, "UDP", why, sizeof(why)),
			 -EINVAL);
	assert_int_equal(tapgen_imix_payloads(&m, false, MIN_PAYLOAD, "UDP", why, sizeof(why)), 0);
	assert_int_equal(m.payload[0], 35);
	/* The payloads a reply may have, and no other. */
	assert_true(tapgen_imix_has_payload(&m, 35));
	assert_true(tapgen_imix_has_payload(&m, 1472));
	assert_false(tapgen_imix_has_payload(&m, 18));
	assert_false(tapgen_imix_has_payload(&m, 1518));
}

#define GBPS_EPS 1e-6

static void bit_rates(void **state)
{
	/* csit at 1 Mpps: 12 s of 7, 4 and 1 million frames a second... of each per 12. */
	static const unsigned int csit[] = { 64, 570, 1518 };
	static const uint64_t frames[] = { 7000000, 4000000, 1000000 };
	static const unsigned int one[] = { 64 };
	static const uint64_t none[] = { 0, 0, 0 };
	struct tapgen_bitrate r;

	(void)state;
	r = tapgen_bitrate(csit, frames, 3, 12);
	printf("csit at 1 Mpps: mean %.4f B, L2 %.6f Gbit/s, L1 %.6f Gbit/s\n", r.mean_frame_bytes,
	       r.l2_gbps, r.l1_gbps);
	assert_true(fabs(r.frames_per_s - 1e6) < 1e-6);
	/* (7 x 64 + 4 x 570 + 1518) / 12 = 4246 / 12 */
	assert_true(fabs(r.mean_frame_bytes - 353.833333) < 1e-6);
	assert_true(fabs(r.l2_gbps - 2.830667) < GBPS_EPS);
	assert_true(fabs(r.l1_gbps - 2.990667) < GBPS_EPS);
	parse_ok("csit");
	assert_true(fabs(tapgen_imix_mean_frame(&m) - 4246.0 / 12) < 1e-9);
	/* 64 B frames at 1 Mpps: 0.512 Gbit/s of frames, 0.672 on the wire (84 B a frame). */
	r = tapgen_bitrate(one, (const uint64_t[]){ 500000 }, 1, 0.5);
	assert_true(fabs(r.l2_gbps - 0.512) < GBPS_EPS);
	assert_true(fabs(r.l1_gbps - 0.672) < GBPS_EPS);
	assert_true(fabs(r.mean_frame_bytes - 64) < 1e-9);
	/* The mean is of the frames counted, not of the mix: only 1518s back. */
	r = tapgen_bitrate(csit, (const uint64_t[]){ 0, 0, 1000 }, 3, 1);
	assert_true(fabs(r.mean_frame_bytes - 1518) < 1e-9);
	assert_true(fabs(r.l1_gbps - 1000 * 1538 * 8 / 1e9) < 1e-12);
	r = tapgen_bitrate(csit, none, 3, 1);
	assert_true(r.frames_per_s == 0 && r.l2_gbps == 0 && r.l1_gbps == 0);
	r = tapgen_bitrate(csit, frames, 3, 0);
	assert_true(r.l2_gbps == 0 && r.l1_gbps == 0);
}

static void sequence_sizes(void **state)
{
	(void)state;
	parse_ok("csit");
	assert_int_equal(tapgen_imix_align(&m, 0), 0);
	assert_int_equal(tapgen_imix_align(&m, 1), 12);
	assert_int_equal(tapgen_imix_align(&m, 12), 12);
	assert_int_equal(tapgen_imix_align(&m, 13), 24);
	/* A trial begins at a cycle: its k-th datagram has the cycle's k-th size, whatever came before. */
	for (uint64_t before = 0; before < 40; before += 7) {
		uint64_t base = tapgen_imix_align(&m, before);

		for (unsigned int k = 0; k < 100; k++)
			assert_int_equal(tapgen_imix_index(&m, base + k), m.order[k % 12]);
	}
	assert_int_equal(tapgen_imix_index(&m, UINT64_MAX), m.order[UINT64_MAX % 12]);
	/* What the first n datagrams held of each size, against counting them one by one. */
	for (uint64_t n = 0; n <= 50; n++) {
		uint64_t total = 0;

		for (unsigned int i = 0; i < m.n; i++) {
			uint64_t by_hand = 0;

			for (uint64_t k = 0; k < n; k++)
				by_hand += tapgen_imix_index(&m, k) == i;
			assert_int_equal(tapgen_imix_count(&m, n, i), by_hand);
			total += by_hand;
		}
		assert_int_equal(total, n);
	}
	/* Whole cycles: exactly the weights' shares. */
	assert_int_equal(tapgen_imix_count(&m, 12000000, 0), 7000000);
	assert_int_equal(tapgen_imix_count(&m, 12000000, 1), 4000000);
	assert_int_equal(tapgen_imix_count(&m, 12000000, 2), 1000000);
}

/* The trial record and text of a csit trial: 25 sent (two cycles and a 64), some back. */
static void trial_record(void **state)
{
	static const uint64_t back[] = { 14, 8, 1 }; /* of 15, 8, 2 sent */
	struct gen_opts o = { .flows = 1, .payload = 0, .traffic = &tapgen_udp, .imix = &m };
	struct trial t = { .rate = 25, .elapsed = 1 };
	json_t *rec = json_object(), *imix, *sizes;
	char why[200], *text = NULL;
	size_t len = 0;
	uint64_t sent = 0, refl = 0;
	FILE *f;

	(void)state;
	parse_ok("csit");
	assert_int_equal(tapgen_imix_payloads(&m, false, MIN_PAYLOAD, "UDP", why, sizeof(why)), 0);
	t.st.rtt = tapgen_hist_create();
	t.st.imix = tapgen_imix_stats_create(m.n);
	assert_non_null(t.st.rtt);
	assert_non_null(t.st.imix);
	t.st.sent = 25;
	for (unsigned int i = 0; i < 3; i++) {
		t.st.imix->reflected[i] = back[i];
		for (uint64_t k = 0; k < back[i]; k++) {
			tapgen_hist_record(t.st.rtt, 10000 * (i + 1));
			tapgen_hist_record(t.st.imix->rtt[i], 10000 * (i + 1));
		}
		t.st.unique += back[i];
	}
	t.st.received = t.st.unique;

	tapgen_json_trial(rec, &o, &t);
	assert_int_equal(json_integer_value(json_object_get(rec, "payload")), 0);
	assert_null(json_object_get(rec, "frame_bytes"));
	imix = json_object_get(rec, "imix");
	assert_non_null(imix);
	assert_string_equal(json_string_value(json_object_get(imix, "spec")), "csit");
	assert_int_equal(json_integer_value(json_object_get(imix, "cycle")), 12);
	assert_true(json_real_value(json_object_get(imix, "mean_frame_bytes")) == 353.8333);
	sizes = json_object_get(imix, "sizes");
	assert_int_equal(json_array_size(sizes), 3);
	for (unsigned int i = 0; i < 3; i++) {
		json_t *z = json_array_get(sizes, i);

		sent += (uint64_t)json_integer_value(json_object_get(z, "sent"));
		refl += (uint64_t)json_integer_value(json_object_get(z, "reflected"));
		assert_int_equal(json_integer_value(json_object_get(z, "frame_bytes")), m.frame[i]);
		assert_int_equal(json_integer_value(json_object_get(z, "payload")), m.payload[i]);
		assert_true(json_real_value(json_object_get(json_object_get(z, "rtt_us"), "p50")) ==
			    10.0 * (i + 1));
	}
	assert_int_equal(json_integer_value(json_object_get(json_array_get(sizes, 0), "sent")), 15);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(sizes, 2), "lost")), 1);
	assert_true(json_real_value(json_object_get(json_array_get(sizes, 2), "loss_ratio")) ==
		    0.5);
	assert_int_equal(sent, t.st.sent);
	assert_int_equal(refl, t.st.unique);
	/* 14 x 64 + 8 x 570 + 1 x 1518 B back in 1 s; 15 x 64 + 8 x 570 + 2 x 1518 sent. */
	assert_true(fabs(json_real_value(json_object_get(rec, "l2_gbps")) -
			 (14 * 64 + 8 * 570 + 1518) * 8 / 1e9) < GBPS_EPS);
	assert_true(fabs(json_real_value(json_object_get(imix, "l1_gbps")) -
			 (14 * 84 + 8 * 590 + 1538) * 8 / 1e9) < GBPS_EPS);
	assert_true(fabs(json_real_value(json_object_get(imix, "offered_l2_gbps")) -
			 (15 * 64 + 8 * 570 + 2 * 1518) * 8 / 1e9) < GBPS_EPS);
	json_decref(rec);

	f = open_memstream(&text, &len);
	assert_non_null(f);
	tapgen_print_trial(f, &o, &t);
	fclose(f);
	printf("%s", text);
	assert_non_null(strstr(text, "IMIX csit (mean frame 353.8 B)"));
	assert_non_null(strstr(text, "\ntapgen: imix   64 B frame (  18 B payload) x7: sent 15, "
				     "reflected 14, lost 1 (6.6667%)"));
	assert_non_null(strstr(text, "\ntapgen: imix 1518 B frame (1472 B payload) x1: sent 2, "
				     "reflected 1, lost 1 (50.0000%)"));
	assert_non_null(strstr(text, "\ntapgen: reflected 23 frames/s"));
	free(text);

	/* Without --imix: the one frame --size makes, and no "imix". */
	o.imix = NULL;
	o.payload = 18;
	rec = json_object();
	tapgen_json_trial(rec, &o, &t);
	assert_null(json_object_get(rec, "imix"));
	assert_int_equal(json_integer_value(json_object_get(rec, "frame_bytes")), 64);
	assert_true(fabs(json_real_value(json_object_get(rec, "l1_gbps")) - 23 * 84 * 8 / 1e9) <
		    GBPS_EPS);
	((struct sockaddr_in6 *)&o.dst)->sin6_family = AF_INET6;
	json_decref(rec);
	rec = json_object();
	tapgen_json_trial(rec, &o, &t);
	assert_int_equal(json_integer_value(json_object_get(rec, "frame_bytes")), 84);
	json_decref(rec);
	tapgen_imix_stats_destroy(t.st.imix);
	tapgen_hist_destroy(t.st.rtt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_csit),	  cmocka_unit_test(parse_lists),
		cmocka_unit_test(parse_bad),	  cmocka_unit_test(interleave),
		cmocka_unit_test(payloads),	  cmocka_unit_test(bit_rates),
		cmocka_unit_test(sequence_sizes), cmocka_unit_test(trial_record),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
