// SPDX-License-Identifier: MIT
// Micro benchmarks of the reflect path (google-benchmark), one per case of
// cases.c, plus the checksum primitives.  Each reflect iteration includes the
// copy of a pristine frame (the rewrite is in place); memcpy/* shows its cost.
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

extern "C" {
#include "tapreflect/csum.h"
}
#include "cases.h"

namespace {

std::vector<trf_bench_case> &cases()
{
	static std::vector<trf_bench_case> all = [] {
		std::vector<trf_bench_case> v(64);
		v.resize(trf_bench_cases(v.data(), static_cast<unsigned int>(v.size())));
		return v;
	}();
	return all;
}

void reflect(benchmark::State &state, const trf_bench_case *c)
{
	alignas(64) uint8_t work[2048];

	for (auto _ : state)
		benchmark::DoNotOptimize(trf_bench_run(c, work, 1));
	state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
	state.counters["frame_bytes"] = c->len;
}

void copy_only(benchmark::State &state)
{
	alignas(64) uint8_t work[2048];
	const trf_bench_case &c = cases()[1];

	for (auto _ : state) {
		std::memcpy(work, c.frame, c.len);
		benchmark::DoNotOptimize(work);
		benchmark::ClobberMemory();
	}
	state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void csum_update16(benchmark::State &state)
{
	uint16_t check = 0x1234, word = 0x0800;

	for (auto _ : state) {
		check = trf_csum_update16(check, word, 0);
		benchmark::DoNotOptimize(check);
		word = static_cast<uint16_t>(word + 1);
	}
	state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void csum_partial(benchmark::State &state)
{
	std::vector<uint8_t> buf(static_cast<size_t>(state.range(0)), 0x5a);

	for (auto _ : state)
		benchmark::DoNotOptimize(trf_csum_partial(buf.data(), buf.size(), 0));
	state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

const bool registered = [] {
	for (const auto &c : cases())
		benchmark::RegisterBenchmark((std::string("reflect/") + c.name).c_str(), reflect, &c);
	benchmark::RegisterBenchmark("memcpy/icmp_echo_64", copy_only);
	benchmark::RegisterBenchmark("csum/update16", csum_update16);
	benchmark::RegisterBenchmark("csum/partial", csum_partial)->Arg(20)->Arg(64)->Arg(1500);
	return true;
}();

} // namespace

BENCHMARK_MAIN();
