// SPDX-License-Identifier: MIT
/* Checksum: RFC 1071 sum against a byte-wise reference, RFC 1624 update against recomputation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tapreflect/csum.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	/* xorshift64*: deterministic, so a failure always reproduces. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

/* The textbook definition, big-endian words, one at a time. */
static uint16_t reference_csum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint16_t to_wire(uint16_t host_be_value)
{
	uint8_t b[2] = { (uint8_t)(host_be_value >> 8), (uint8_t)host_be_value };
	uint16_t w;

	memcpy(&w, b, 2);
	return w;
}

static void test_partial_matches_reference(void **state)
{
	uint8_t buf[1600];

	(void)state;
	for (int iter = 0; iter < 2000; iter++) {
		size_t len = rnd() % sizeof(buf);

		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)rnd();
		assert_int_equal(trf_csum_fold(trf_csum_partial(buf, len, 0)),
				 to_wire(reference_csum(buf, len)));
	}
}

static void test_partial_known_vector(void **state)
{
	/* RFC 1071 §3 example bytes: 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2. */
	static const uint8_t v[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };

	(void)state;
	assert_int_equal(trf_csum_fold(trf_csum_partial(v, sizeof(v), 0)),
			 to_wire((uint16_t)~0xddf2));
}

/* Change one 16-bit word of random data; incremental and full results must agree. */
static int all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

static void test_update16_random(void **state)
{
	uint8_t buf[64];
	int zero_cases = 0;

	(void)state;
	for (int iter = 0; iter < 2000000; iter++) {
		size_t len = 2 + 2 * (rnd() % 31), pos;
		uint16_t check, old_word, new_word, expect;

		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)rnd();
		pos = 2 * (rnd() % (len / 2));
		check = trf_csum_fold(trf_csum_partial(buf, len, 0));
		memcpy(&old_word, buf + pos, 2);
		new_word = (uint16_t)rnd();
		memcpy(buf + pos, &new_word, 2);
		expect = trf_csum_fold(trf_csum_partial(buf, len, 0));
		if (all_zero(buf, len)) {
			/*
			 * Only all-zero data sums to +0, where recomputation says
			 * 0xFFFF and eqn. 3 says 0x0000: both are one's complement
			 * zero and both verify.  No real header is all zero.
			 */
			assert_int_equal(trf_csum_update16(check, old_word, new_word), 0x0000);
			zero_cases++;
			continue;
		}
		assert_int_equal(trf_csum_update16(check, old_word, new_word), expect);
	}
	(void)zero_cases;
}

/*
 * The case RFC 1141's form gets wrong: data whose new sum is 0xFFFF, so the
 * recomputed checksum is 0x0000.
 */
static void test_update16_zero_result(void **state)
{
	int seen = 0;

	(void)state;
	for (int iter = 0; iter < 100000; iter++) {
		uint8_t buf[8];
		uint16_t check, old_word, new_word, fixup;
		uint32_t rest;

		for (size_t i = 0; i < 6; i++)
			buf[i] = (uint8_t)rnd();
		/* Choose the last word so that the data sums to 0xFFFF. */
		rest = trf_csum_partial(buf, 6, 0);
		fixup = trf_csum_fold(rest); /* ~S: what S needs to reach 0xFFFF */
		memcpy(buf + 6, &fixup, 2);
		if (trf_csum_fold(trf_csum_partial(buf, 8, 0)) != 0)
			continue; /* the word happened to give the other zero */
		/* The word at 0 changes from something else into what it is now. */
		memcpy(&new_word, buf, 2);
		old_word = (uint16_t)rnd();
		memcpy(buf, &old_word, 2);
		check = trf_csum_fold(trf_csum_partial(buf, 8, 0));
		assert_int_equal(trf_csum_update16(check, old_word, new_word), 0x0000);
		seen++;
	}
	assert_true(seen > 1000);
}

static void test_update16_echo_type(void **state)
{
	/* ICMP echo 8 -> 0: the type/code word drops by 0x0800 in wire order. */
	uint8_t icmp[12] = { 8, 0, 0, 0, 0x12, 0x34, 0, 1, 'a', 'b', 'c', 'd' };
	uint16_t check = trf_csum_fold(trf_csum_partial(icmp, sizeof(icmp), 0)), old_word, new_word;

	(void)state;
	memcpy(icmp + 2, &check, 2);
	memcpy(&old_word, icmp, 2);
	icmp[0] = 0;
	memcpy(&new_word, icmp, 2);
	check = trf_csum_update16(check, old_word, new_word);
	memcpy(icmp + 2, &check, 2);
	assert_int_equal(trf_csum_fold(trf_csum_partial(icmp, sizeof(icmp), 0)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_partial_matches_reference),
		cmocka_unit_test(test_partial_known_vector),
		cmocka_unit_test(test_update16_random),
		cmocka_unit_test(test_update16_zero_result),
		cmocka_unit_test(test_update16_echo_type),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
