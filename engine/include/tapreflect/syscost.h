/* SPDX-License-Identifier: MIT */
/*
 * What a bare system call costs on this machine: the figure that decides
 * whether the blocking loop (--io sync, two syscalls a frame) or io_uring
 * (one io_uring_enter a batch) wins here.  Some 100-250 ns on a VM without
 * page-table isolation, about 1 us with it.
 */
#ifndef TAPREFLECT_SYSCOST_H
#define TAPREFLECT_SYSCOST_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The cost of one bare syscall in ns, rounded, measured now in about a
 * millisecond (less where syscalls are cheap, never much more than 2 ms).
 * At least 1; 0 only when the clock cannot be read: unknown.  Call it while
 * nothing else of the process runs (before the workers start): it takes the
 * least disturbed of several rounds, but a CPU shared all along shows.
 */
uint32_t trf_syscall_cost_ns(void);

#ifdef __cplusplus
}
#endif

#endif /* TAPREFLECT_SYSCOST_H */
