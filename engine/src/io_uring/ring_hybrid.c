// SPDX-License-Identifier: MIT
/*
 * --poll hybrid: while a worker's one queue keeps emptying, the worker reads
 * and writes as the blocking loop does (io_sync.c), and it goes back to
 * io_uring's batches once frames queue up.
 *
 * Why.  At light and medium load a frame finds the reflector asleep, and
 * what it costs is the wakeup.  The blocking read() of tun wakes its reader
 * directly; io_uring's poll-driven path runs a poll callback, queues task
 * work, wakes the waiter, runs the task work, posts a CQE and returns to
 * user space before the frame is reflected, and a multishot read takes the
 * whole burst before the first write is submitted.  Where a syscall is
 * cheap that costs more than the syscalls batching saves (docs/
 * benchmarking.md, the cost model).  Once frames queue up there is no
 * wakeup to pay and batching wins, so the worker switches on what it sees:
 * frames per sleep.
 *
 * The measure.  A sleep is a voluntary context switch of the thread
 * (getrusage(RUSAGE_THREAD)'s ru_nvcsw), the same in both modes: a
 * blocking read() that sleeps, or an io_uring_enter() that does.  Every
 * HYBRID_WINDOW frames the worker compares frames with sleeps: in blocking
 * mode, TRF_HYBRID_UP frames or more per sleep (the queue hardly empties:
 * a backlog) switch to io_uring; there, TRF_HYBRID_DOWN or fewer switch
 * back.  Between them is hysteresis, and a mode is kept at least a window.
 * With a burst of frames per wakeup (tapgen sends bursts about 50 us apart,
 * as most generators do) the blocking loop stays up to the load where the
 * bursts run into each other; the ring's batches take over from there.
 *
 * Why no request needs cancelling.  The ring is made with DEFER_TASKRUN
 * (hybrid needs it): its task work runs only inside io_uring_enter().  A
 * frame that arrives in blocking mode wakes the strategy's armed read or
 * poll, which queues its task work once and waits; nothing reads from the
 * queue but the blocking read() until the worker enters the ring again,
 * and then the read or poll finds what the queue holds.  The buffers are
 * the strategy's throughout; the blocking mode has one of its own.
 *
 * Where a syscall is cheap (under TRF_HYBRID_MIN_SYSCALL_NS: about 60 and
 * 130 ns measured) the ring's batches cost no less per frame than the
 * blocking loop even past saturation, and answer later: with tapgen flat
 * out the blocking loop kept up and sleeps every 150 to 200 frames, which
 * the rule above takes for a backlog.  There the worker keeps the blocking
 * loop at every load, says so (the queue's fallback), and arms no read in
 * the ring: its poll callback would cost the sender a little on every frame.
 *
 * The stop.  A worker blocked in read() is woken by cfg->wake_signal, as in
 * the sync engine (trf_ut_wake sends it only while the worker is in blocking
 * mode, so that a drain in the ring is not cut short by EINTRs).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ring.h"

bool trf_hybrid_blocking_next(bool blocking, uint64_t frames, uint64_t sleeps)
{
	uint64_t per = sleeps ? frames / sleeps : UINT64_MAX; /* no sleep at all: a backlog */

	if (blocking)
		return per < TRF_HYBRID_UP;
	return per <= TRF_HYBRID_DOWN;
}

static long thread_sleeps(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_THREAD, &ru) < 0)
		return -1;
	return ru.ru_nvcsw;
}

/*
 * Hybrid applies to a worker of one queue that sleeps (no busy polling, no
 * coalescing: both ask for the ring's waiting), where syscalls are cheap
 * enough that the blocking loop can win, on a ring whose task work runs only
 * when asked for, with a blocking queue fd and a wake signal.
 * Returns why not, or NULL when it applies.
 */
static const char *hybrid_refused(const struct trf_uring_thread *ut, const struct trf_config *cfg,
				  char *why, size_t size)
{
	int fl;

	if (ut->nq != 1)
		return "more than one queue on the worker";
	if (ut->busy || ut->coalesce_usec)
		return "--poll busy or --coalesce in force";
	if (cfg->syscall_ns >= TRF_HYBRID_MAX_SYSCALL_NS) {
		snprintf(why, size,
			 "--poll hybrid: a syscall costs %u ns here (%u or more): the ring at "
			 "every load",
			 cfg->syscall_ns, TRF_HYBRID_MAX_SYSCALL_NS);
		return why;
	}
	if (!ut->defer_taskrun)
		return "the kernel has no DEFER_TASKRUN (Linux 6.1)";
	fl = fcntl(ut->q[0]->fd, F_GETFL);
	if (fl < 0)
		return "the queue fd's flags cannot be read";
	if (fl & O_NONBLOCK)
		return "the queue fd is non-blocking";
	if (trf_wake_signal_state(cfg->wake_signal) < 0)
		return "no handler for the wake signal (trf_engine_sync_wake_handler)";
	return NULL;
}

int trf_hybrid_setup(struct trf_uring_thread *ut, const struct trf_config *cfg, struct trf_err *err)
{
	char text[128];
	const char *why;
	struct trf_queue_info *info;

	if (!cfg->hybrid)
		return 0;
	why = hybrid_refused(ut, cfg, text, sizeof(text));
	info = &ut->q[0]->queue->info;
	if (why) {
		/* Said only where hybrid could have applied: one queue on the worker. */
		if (ut->nq == 1 && !ut->busy && !ut->coalesce_usec)
			trf_info_fallback(info, "%s", why);
		return 0;
	}
	ut->hybrid_size = cfg->frame_size;
	ut->hybrid_buf = trf_mem_alloc(ut->hybrid_size, ut->thread->node);
	if (!ut->hybrid_buf)
		return trf_errf(err, -ENOMEM, "cannot allocate a %zu B frame buffer",
				ut->hybrid_size);
	ut->hybrid = true;
	ut->blocking = true; /* an idle queue starts in blocking mode */
	ut->win_sleeps = thread_sleeps();
	snprintf(info->wait, sizeof(info->wait), "hybrid");
	if (cfg->syscall_ns && cfg->syscall_ns < TRF_HYBRID_MIN_SYSCALL_NS) {
		ut->blocking_only = true;
		trf_info_fallback(info,
				  "--poll hybrid: a syscall costs %u ns here (under %u): the "
				  "blocking loop at every load",
				  cfg->syscall_ns, TRF_HYBRID_MIN_SYSCALL_NS);
	}
	return 0;
}

void trf_hybrid_teardown(struct trf_uring_thread *ut)
{
	if (ut->hybrid_buf)
		trf_mem_free(ut->hybrid_buf, ut->hybrid_size, ut->thread->node);
	ut->hybrid_buf = NULL;
}

void trf_ut_wake(struct trf_thread *t)
{
	if (__atomic_load_n(&t->in_read, __ATOMIC_ACQUIRE))
		pthread_kill(t->pthread, t->cfg->wake_signal);
}

/* A window is complete: its frames per sleep decide the mode of the next one. */
static void end_window(struct trf_uring_thread *ut)
{
	long sleeps = thread_sleeps();
	bool next;

	if (sleeps < 0 || ut->win_sleeps < 0 || sleeps < ut->win_sleeps) {
		ut->win_sleeps = sleeps; /* no count to go by: the mode stays */
		ut->win_frames = 0;
		return;
	}
	next = trf_hybrid_blocking_next(ut->blocking, ut->win_frames,
					(uint64_t)(sleeps - ut->win_sleeps));
	ut->win_sleeps = sleeps;
	ut->win_frames = 0;
	if (next != ut->blocking) {
		ut->blocking = next;
		ut->switches++;
	}
}

void trf_hybrid_note(struct trf_uring_thread *ut, uint64_t frames)
{
	if (ut->blocking_only)
		return;
	ut->win_frames += frames;
	if (ut->win_frames >= TRF_HYBRID_WINDOW)
		end_window(ut);
}

/*
 * Blocking mode: read(), reflect, write(), until the window says the ring
 * or the engine stops.  Returns 0, or a read's -errno (the queue failed:
 * the ring loop ends it).
 */
int trf_hybrid_run(struct trf_uring_thread *ut)
{
	struct trf_uring_queue *uq = ut->q[0];
	struct trf_queue *q = uq->queue;

	TRF_STAT_ADD(&q->stats, hybrid_switches, ut->switches);
	ut->switches = 0;
	while (ut->blocking) {
		ssize_t n;

		/* Said before the stop is looked at: a stop after this look signals the read. */
		__atomic_store_n(&ut->thread->in_read, true, __ATOMIC_RELEASE);
		if (trf_engine_stopping(q->eng)) {
			__atomic_store_n(&ut->thread->in_read, false, __ATOMIC_RELEASE);
			break;
		}
		n = read(uq->fd, ut->hybrid_buf, ut->hybrid_size);
		__atomic_store_n(&ut->thread->in_read, false, __ATOMIC_RELEASE);
		if (TRF_UNLIKELY(n <= 0)) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN) {
				/* The fd became non-blocking (--read fixed's fallback): the ring for good. */
				trf_info_fallback(&q->info, "the queue fd is non-blocking");
				ut->hybrid = ut->blocking = false;
				break;
			}
			return n < 0 ? -errno : -EIO;
		}
		/* Also a wakeup of one frame: trf_engine_sample() counts it so. */
		trf_sync_frame(q, ut->hybrid_buf, (size_t)n, ut->hybrid_size, uq->vnet_len);
		TRF_STAT_ADD(&q->stats, frames_blocking, 1);
		trf_hybrid_note(ut, 1);
	}
	TRF_STAT_ADD(&q->stats, hybrid_switches, ut->switches);
	ut->switches = 0;
	return 0;
}
