// SPDX-License-Identifier: MIT
/* Per-queue counters: reading them off the data path, and the drop names. */
#include <stddef.h>

#include "tapreflect/stats.h"

_Static_assert(sizeof(struct trf_queue_stats) % TRF_CACHELINE == 0,
	       "queue stats must fill whole cache lines so that workers never share one");
_Static_assert(sizeof(struct trf_queue_stats) % sizeof(uint64_t) == 0,
	       "queue stats are read and summed as an array of uint64_t");

#define STATS_WORDS (offsetof(struct trf_queue_stats, waits) / sizeof(uint64_t) + 1)

void trf_stats_read(const struct trf_queue_stats *live, struct trf_queue_stats *out)
{
	const uint64_t *src = (const uint64_t *)live;
	uint64_t *dst = (uint64_t *)out;

	*out = (struct trf_queue_stats){ 0 };
	for (size_t i = 0; i < STATS_WORDS; i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

void trf_stats_accumulate(struct trf_queue_stats *acc, const struct trf_queue_stats *s)
{
	uint64_t *a = (uint64_t *)acc;
	const uint64_t *b = (const uint64_t *)s;

	for (size_t i = 0; i < STATS_WORDS; i++)
		a[i] += b[i];
}

uint64_t trf_stats_dropped(const struct trf_queue_stats *s)
{
	uint64_t sum = 0;

	for (int i = 0; i < TRF_STAT_DROPS; i++)
		sum += s->drops[i];
	return sum;
}

/* clang-format off */
static const char *const io_drop_names[] = {
#define TRF_IO_DROP_NAME_(id, name, help) name,
	TRF_IO_DROP_REASONS(TRF_IO_DROP_NAME_)
#undef TRF_IO_DROP_NAME_
};

static const char *const io_drop_helps[] = {
#define TRF_IO_DROP_HELP_(id, name, help) help,
	TRF_IO_DROP_REASONS(TRF_IO_DROP_HELP_)
#undef TRF_IO_DROP_HELP_
};
/* clang-format on */

_Static_assert(sizeof(io_drop_names) / sizeof(io_drop_names[0]) == TRF_STAT_DROPS - TRF_DROP__COUNT,
	       "one name per I/O drop reason");

const char *trf_stat_drop_name(unsigned int i)
{
	if (i < TRF_DROP__COUNT)
		return trf_drop_name((enum trf_drop)i);
	return i < TRF_STAT_DROPS ? io_drop_names[i - TRF_DROP__COUNT] : "?";
}

const char *trf_stat_drop_help(unsigned int i)
{
	if (i < TRF_DROP__COUNT)
		return trf_drop_help((enum trf_drop)i);
	return i < TRF_STAT_DROPS ? io_drop_helps[i - TRF_DROP__COUNT] : "?";
}
