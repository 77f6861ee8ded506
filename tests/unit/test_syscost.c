// SPDX-License-Identifier: MIT
/*
 * trf_syscall_cost_ns(): a figure per call, not per round or per
 * measurement, that a second measurement and one made here independently
 * agree with.  The bounds are factors of 20 and a millisecond per call,
 * far from any machine's figure (100 ns to a few us), so that a loaded
 * machine cannot make the test fail, while a figure 128 times off (the
 * round's time, or divided twice) or a 0 does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tapreflect/syscost.h"

#define FACTOR 20

static int64_t monotonic_ns(void)
{
	struct timespec ts;

	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void assert_agree(uint32_t a, uint32_t b)
{
	uint64_t lo = a < b ? a : b, hi = a < b ? b : a;

	assert_true(lo > 0);
	if (hi > lo * FACTOR)
		fail_msg("%u ns and %u ns disagree by more than %dx", a, b, FACTOR);
}

/* Known (the clock works here), more than nothing, less than 1 ms a call. */
static void test_in_range(void **state)
{
	uint32_t ns = trf_syscall_cost_ns();

	(void)state;
	print_message("a syscall: %u ns\n", ns);
	assert_true(ns > 0);
	assert_true(ns < 1000000);
}

/* A second measurement gives about the same figure. */
static void test_repeatable(void **state)
{
	(void)state;
	assert_agree(trf_syscall_cost_ns(), trf_syscall_cost_ns());
}

/*
 * Per call: the fastest of the test's own rounds of getppid(), timed
 * around a different number of calls (64), is about the same figure.
 */
static void test_per_call(void **state)
{
	int64_t best = INT64_MAX;
	uint32_t ns = trf_syscall_cost_ns();

	(void)state;
	for (int r = 0; r < 16; r++) {
		int64_t t0 = monotonic_ns(), t;

		for (int i = 0; i < 64; i++)
			(void)syscall(SYS_getppid);
		t = monotonic_ns() - t0;
		if (t < best)
			best = t;
	}
	best = (best + 32) / 64;
	print_message("trf_syscall_cost_ns() %u ns, the test's own rounds %lld ns\n", ns,
		      (long long)best);
	assert_agree(ns, best > 0 ? (uint32_t)best : 1);
}

/* About a millisecond, never long: it runs before every start. */
static void test_quick(void **state)
{
	int64_t t0 = monotonic_ns(), t;

	(void)state;
	trf_syscall_cost_ns();
	t = monotonic_ns() - t0;
	print_message("measured in %lld us\n", (long long)(t / 1000));
	/* Some 0.2-1 ms; a bound far above it, that a preempted run stays under too. */
	assert_true(t < 1000000000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_range),
		cmocka_unit_test(test_repeatable),
		cmocka_unit_test(test_per_call),
		cmocka_unit_test(test_quick),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
