/* SPDX-License-Identifier: MIT */
/*
 * Per-queue counters.
 *
 * Each worker owns one struct trf_queue_stats on its own cache line and is
 * its only writer; it publishes with relaxed atomic stores (a plain mov on
 * x86, no lock prefix).  Other threads read with relaxed atomic loads: each
 * field is consistent on its own, and once the worker has been joined the
 * whole struct is exact, which is what the exit accounting relies on.
 */
#ifndef TAPREFLECT_STATS_H
#define TAPREFLECT_STATS_H

#include <stdint.h>

#include "tapreflect/reflect.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TRF_CACHELINE 64

/*
 * Drops the I/O path decides, after a mode said "reflect".  They are counted
 * in the same drops[] array as the modes' verdicts (enum trf_drop), after
 * them, so that every report lists one set of drop counters.
 */
/* clang-format off */
#define TRF_IO_DROP_REASONS(X)                                                                     \
	X(WRITE_ERROR, "write_error", "the write back to the queue failed")                        \
	X(LINK_DOWN, "link_down", "written while the device's link was down (the kernel refuses: EIO)") \
	X(ABORTED, "aborted", "being written when its queue stopped on an error")

enum trf_io_drop {
	TRF_IO_DROP__BEFORE_FIRST = TRF_DROP__COUNT - 1,
#define TRF_IO_DROP_ENUM_(id, name, help) TRF_IO_DROP_##id,
	TRF_IO_DROP_REASONS(TRF_IO_DROP_ENUM_)
#undef TRF_IO_DROP_ENUM_
	TRF_STAT_DROPS /* size of drops[]: every mode verdict, then every I/O drop */
};
/* clang-format on */

/* Counter name and explanation of drops[i], a mode verdict or an I/O drop; "?" out of range. */
const char *trf_stat_drop_name(unsigned int i);
const char *trf_stat_drop_help(unsigned int i);

/*
 * Frames per wakeup: how many frames a queue read in one pass of its thread
 * (io_uring: one reap of the completion queue; --io sync: always 1).  Bucket
 * i holds passes that read at most 2^i frames and more than 2^(i-1); the last
 * holds the rest (more than 256).  Counted once per pass, never per frame.
 */
#define TRF_WAKEUP_BUCKETS 10

/* The bucket of a pass that read n >= 1 frames. */
static inline unsigned int trf_wakeup_bucket(uint64_t n)
{
	unsigned int b = n <= 1 ? 0 : 64 - (unsigned int)__builtin_clzll(n - 1);

	return b < TRF_WAKEUP_BUCKETS - 1 ? b : TRF_WAKEUP_BUCKETS - 1;
}

struct trf_queue_stats {
	uint64_t frames_read;
	uint64_t bytes_read;
	uint64_t frames_written;
	uint64_t bytes_written;
	/* Taken in by the mode as the server it plays (iperf2 data): neither written nor dropped. */
	uint64_t frames_consumed;
	uint64_t
	    drops[TRF_STAT_DROPS]; /* by enum trf_drop / trf_io_drop; [TRF_DROP_NONE] stays 0 */
	uint64_t read_rearms; /* multishot reads re-armed (ran out of buffers) */
	uint64_t wakeup_frames[TRF_WAKEUP_BUCKETS]; /* passes by frames read: trf_wakeup_bucket() */
	/*
	 * --capture-drops: dropped frames not handed to the capture writer,
	 * because of --capture-limit or because its queue was full.
	 */
	uint64_t capture_limited;
	uint64_t capture_full;
	/* --poll hybrid: frames read by a blocking read(), and switches between it and the ring. */
	uint64_t frames_blocking;
	uint64_t hybrid_switches;
	uint64_t waits; /* io_uring_enter/read calls that waited for work; read last */
} __attribute__((aligned(TRF_CACHELINE)));

/* Owner-side increment: a relaxed store, readers never see a torn value. */
#define TRF_STAT_ADD(stats, field, n) \
	__atomic_store_n(&(stats)->field, (stats)->field + (n), __ATOMIC_RELAXED)

/* Reader side: copy every field with relaxed loads. */
void trf_stats_read(const struct trf_queue_stats *live, struct trf_queue_stats *out);

/* acc += s, field by field. */
void trf_stats_accumulate(struct trf_queue_stats *acc, const struct trf_queue_stats *s);

/* Sum of all drop reasons. */
uint64_t trf_stats_dropped(const struct trf_queue_stats *s);

#ifdef __cplusplus
}
#endif

#endif /* TAPREFLECT_STATS_H */
