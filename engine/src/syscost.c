// SPDX-License-Identifier: MIT
/*
 * What a bare system call costs: rounds of back-to-back getppid() calls
 * timed with CLOCK_MONOTONIC, the fastest round's time per call.
 *
 * Why getppid: it is the null syscall (lmbench's lat_syscall null): the
 * kernel reads one field and returns, changing nothing, so what is timed is
 * the entry and exit that every read(), write() and io_uring_enter() pays
 * (with page-table isolation, the page-table switch and TLB cost that make
 * it several times dearer).  It goes through syscall(2), since no libc or
 * vDSO answers it on the kernel's behalf (glibc cached getpid() until
 * 2.25).  And the seccomp filters services run under allow it: it is in
 * systemd's @default set, which every SystemCallFilter= allow-list takes in
 * (the unit's @system-service ~@privileged too), so that measuring never
 * gets the process killed with SIGSYS.
 *
 * Why the minimum: a round can be made slower (an interrupt, a preemption,
 * another thread on the CPU, a cold cache at the first calls) but never
 * faster than the calls themselves, so the fastest round is the least
 * disturbed one: the cost without the noise, where a mean or a median would
 * add whatever the machine did meanwhile.  A round of 128 calls is long
 * enough that the two clock reads around it (in the vDSO, some 20-50 ns;
 * two more syscalls where the clock source has no vDSO) are 1 or 2 % of
 * it, and short enough (13-130 us) that most rounds escape a timer tick: of
 * 8, some will.  At 1 us a call the whole takes 1 ms; where syscalls cost
 * more still (a sandbox that traps them), no round starts after 2 ms, and
 * the figure is that of the rounds made.
 */
#include "tapreflect/syscost.h"

#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 8
#define CALLS_PER_ROUND 128
#define BUDGET_NS 2000000 /* no round starts after this much */

/* CLOCK_MONOTONIC in ns, or -1 if it cannot be read. */
static int64_t monotonic_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return -1;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

uint32_t trf_syscall_cost_ns(void)
{
	int64_t start = monotonic_ns(), best = INT64_MAX, ns;

	if (start < 0)
		return 0;
	for (unsigned int r = 0; r < ROUNDS; r++) {
		int64_t t0 = monotonic_ns(), t1;

		if (t0 < 0)
			return 0;
		/* The first round always runs: there is a figure however slow the calls. */
		if (r && t0 - start >= BUDGET_NS)
			break;
		for (unsigned int i = 0; i < CALLS_PER_ROUND; i++)
			(void)syscall(SYS_getppid);
		t1 = monotonic_ns();
		if (t1 < 0)
			return 0;
		if (t1 - t0 < best)
			best = t1 - t0;
	}
	ns = (best + CALLS_PER_ROUND / 2) / CALLS_PER_ROUND;
	/* 0 says unknown: a clock too coarse to see a round still says "under 1 ns". */
	if (ns < 1)
		return 1;
	return ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}
