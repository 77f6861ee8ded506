/* SPDX-License-Identifier: MIT */
/*
 * The reflect cases measured by the micro benchmarks and the instruction
 * counter: one well-formed frame per protocol case and mode.
 */
#ifndef TRF_BENCH_CASES_H
#define TRF_BENCH_CASES_H

#include <stddef.h>
#include <stdint.h>

#include "tapreflect/reflect.h"

#ifdef __cplusplus
extern "C" {
#endif

struct trf_bench_case {
	const char *name;
	enum trf_drop (*fn)(const struct trf_reflect_ctx *, uint8_t *, uint32_t, uint32_t *);
	const struct trf_reflect_ctx *ctx;
	uint8_t frame[2048];
	uint32_t len;
};

/* Fill cases[] (at most max); returns how many. */
unsigned int trf_bench_cases(struct trf_bench_case *cases, unsigned int max);

/*
 * Reflect a pristine copy of the case's frame `iterations` times; returns a
 * value derived from the results so that nothing is optimized away.
 */
uint64_t trf_bench_run(const struct trf_bench_case *c, uint8_t *work, uint64_t iterations);

/* The same loop without the reflect call: what the copy alone costs. */
uint64_t trf_bench_copy(const struct trf_bench_case *c, uint8_t *work, uint64_t iterations);

#ifdef __cplusplus
}
#endif

#endif
