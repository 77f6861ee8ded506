// SPDX-License-Identifier: MIT
/*
 * Instruction counts per frame for every reflect case, exact under
 * valgrind --tool=callgrind: each case runs in its own instrumented window
 * (callgrind client requests), so start-up and setup are not counted.
 *
 * usage: valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file=F icount [N]
 * Prints one line per case; tapreflect-bench micro turns the dumps into JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <valgrind/callgrind.h>

#include "cases.h"

int main(int argc, char **argv)
{
	static struct trf_bench_case cases[64];
	static uint8_t work[2048];
	unsigned long iterations = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
	unsigned int n = trf_bench_cases(cases, 64);
	uint64_t sink = 0;

	for (unsigned int i = 0; i < n; i++) {
		/* Warm the case up once outside the window (first-touch, lazy binding). */
		sink += trf_bench_run(&cases[i], work, 1);
		CALLGRIND_ZERO_STATS;
		CALLGRIND_TOGGLE_COLLECT;
		sink += trf_bench_run(&cases[i], work, iterations);
		CALLGRIND_TOGGLE_COLLECT;
		CALLGRIND_DUMP_STATS_AT(cases[i].name);
		CALLGRIND_ZERO_STATS;
		CALLGRIND_TOGGLE_COLLECT;
		sink += trf_bench_copy(&cases[i], work, iterations);
		CALLGRIND_TOGGLE_COLLECT;
		CALLGRIND_DUMP_STATS_AT("copy");
		printf("%s\n", cases[i].name);
	}
	return sink == 42; /* never true in practice; keeps the work alive */
}
