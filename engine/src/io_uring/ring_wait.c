// SPDX-License-Identifier: MIT
/*
 * How a worker thread waits for work: one io_uring_enter submits the
 * batch's writes and re-armed reads and waits, for every queue of the ring.
 *
 * tun writes complete inline, during the submit, and so do the non-blocking
 * reads of a fixed round.  Waiting for just one CQE would return at once
 * with nothing but write completions and cost a second io_uring_enter per
 * frame at low load; the plain wait asks for one event beyond them instead:
 * a read, the readiness poll, or the stop poll, which is always armed.
 * (Never for the whole round: where the reads cannot be made non-blocking
 * they park, and the stop must still get in.)  When every queue's strategy
 * is starved the thread waits for the writes alone: they bring back the
 * buffers the next reads need.
 *
 * Coalescing (--coalesce, Linux 6.12's min_wait): while frames arrive
 * closer together than --coalesce (over all the thread's queues), ask for
 * up to half the buffers' worth of events with min_wait = --coalesce: the
 * kernel sleeps until they are there, or until min_wait has passed and
 * anything is.  Slower than that, coalescing would only add a wakeup for the
 * writes' completions, so the plain wait is used: below that rate a frame's
 * latency is untouched.  So it is after a wakeup in which a queue read a
 * full multishot burst or its strategy said frames were left behind
 * (ut->burst): the read that takes them runs with the next wait, which must
 * not sleep first.
 *
 * Busy polling (--poll busy): submit and collect without ever sleeping.
 */
#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ring.h"

#ifndef IORING_FEAT_MIN_TIMEOUT
#define IORING_FEAT_MIN_TIMEOUT (1U << 15) /* Linux 6.12: min_wait_usec in the wait argument */
#endif

#define COALESCE_IDLE_S 1 /* a coalescing wait gives up after this long without a frame */

void trf_wait_setup(struct trf_uring_thread *ut, const struct trf_config *cfg)
{
	char name[sizeof(((struct trf_queue_info *)0)->wait)] = "sleep";

	ut->busy = cfg->busy_poll;
	ut->gap_ns = UINT64_MAX;
	if (ut->busy)
		snprintf(name, sizeof(name), "busy");
	else if (cfg->coalesce_usec && (ut->ring.features & IORING_FEAT_MIN_TIMEOUT))
		ut->coalesce_usec = cfg->coalesce_usec;
	if (ut->coalesce_usec)
		snprintf(name, sizeof(name), "coalesce %uus", ut->coalesce_usec);
	for (unsigned int i = 0; i < ut->nq; i++) {
		struct trf_queue_info *info = &ut->q[i]->queue->info;

		snprintf(info->wait, sizeof(info->wait), "%s", name);
		if (cfg->coalesce_usec && !ut->coalesce_usec && !ut->busy)
			trf_info_fallback(info, "--coalesce: needs Linux 6.12 (min_wait)");
	}
}

struct trf_wait_plan trf_wait_plan(const struct trf_uring_thread *ut)
{
	unsigned int writes = 0, bufs = 0;
	bool starved = true;

	if (ut->busy)
		return (struct trf_wait_plan){ .how = TRF_WAIT_BUSY };
	for (unsigned int i = 0; i < ut->nq; i++) {
		const struct trf_uring_queue *q = ut->q[i];

		if (q->ended)
			continue;
		writes += q->writes_inflight;
		bufs += q->nbufs;
		starved = starved && q->starved;
	}
	if (ut->coalesce_usec && !starved && !ut->burst &&
	    ut->gap_ns < (uint64_t)ut->coalesce_usec * 1000u)
		return (struct trf_wait_plan){ .how = TRF_WAIT_MIN, .nr = writes + bufs / 2 };
	return (struct trf_wait_plan){ .how = TRF_WAIT_PLAIN, .nr = writes + !starved };
}

/* The wait argument of io_uring_enter, with Linux 6.12's min_wait (liburing 2.3 calls it pad). */
struct trf_getevents_arg {
	uint64_t sigmask;
	uint32_t sigmask_sz;
	uint32_t min_wait_usec;
	uint64_t ts;
};

/*
 * Submit what is queued and wait for wait_nr events, but once min_wait has
 * passed return as soon as any event is there.  liburing 2.3 has no helper
 * for min_wait: the SQ tail is published here as liburing does it (no
 * SQPOLL), and io_uring_enter is called directly.  The overall timeout must
 * be set: without one the kernel ends the wait at min_wait even when nothing
 * came.
 */
static int enter_min_wait(struct trf_uring_thread *ut, unsigned int wait_nr)
{
	struct io_uring_sq *sq = &ut->ring.sq;
	struct __kernel_timespec ts = { .tv_sec = COALESCE_IDLE_S };
	struct trf_getevents_arg arg = {
		.min_wait_usec = ut->coalesce_usec,
		.ts = (uint64_t)(uintptr_t)&ts,
	};
	unsigned int tail = sq->sqe_tail, submit;
	long ret;

	if (sq->sqe_head != tail) {
		sq->sqe_head = tail;
		__atomic_store_n(sq->ktail, tail, __ATOMIC_RELEASE);
	}
	submit = tail - __atomic_load_n(sq->khead, __ATOMIC_ACQUIRE);
	ret = syscall(__NR_io_uring_enter, ut->ring.ring_fd, submit, wait_nr,
		      IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg, sizeof(arg));
	return ret < 0 ? -errno : (int)ret;
}

int trf_wait_for_work(struct trf_uring_thread *ut)
{
	struct trf_wait_plan plan = trf_wait_plan(ut);

	switch (plan.how) {
	case TRF_WAIT_BUSY:
		return io_uring_submit_and_get_events(&ut->ring);
	case TRF_WAIT_MIN:
		return enter_min_wait(ut, plan.nr);
	case TRF_WAIT_PLAIN:
		break;
	}
	return io_uring_submit_and_wait(&ut->ring, plan.nr);
}

void trf_wait_note(struct trf_uring_thread *ut, uint64_t reads, uint64_t now_ns)
{
	if (!reads)
		return;
	if (ut->last_wake_ns)
		ut->gap_ns = (now_ns - ut->last_wake_ns) / reads;
	ut->last_wake_ns = now_ns;
}

void trf_wait_idle(struct trf_uring_thread *ut)
{
	ut->gap_ns = UINT64_MAX;
}
