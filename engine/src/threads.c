// SPDX-License-Identifier: MIT
/*
 * The engine's queues and worker threads: which thread serves which queue,
 * starting the threads, stopping them, and queues that end on their own.
 *
 * Start-up is a two-phase handshake so that a setup failure on any thread
 * (io_uring disabled, memlock too low) stops every thread before a single
 * frame is reflected: each thread sets up, reports, and waits for `go`.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>

#include "internal.h"

unsigned int trf_group_queues(const int *cpus, unsigned int nq, unsigned int room,
			      unsigned int *thread_of)
{
	unsigned int nthreads = 0;
	/* Per thread: its CPU and how many queues it has, for the threads made so far. */
	int thread_cpu[TRF_MAX_QUEUES];
	unsigned int thread_n[TRF_MAX_QUEUES];

	if (room == 0)
		room = 1;
	for (unsigned int q = 0; q < nq && q < TRF_MAX_QUEUES; q++) {
		unsigned int t;

		for (t = 0; t < nthreads; t++)
			if (thread_cpu[t] == cpus[q] && thread_n[t] < room)
				break;
		if (t == nthreads) {
			thread_cpu[t] = cpus[q];
			thread_n[t] = 0;
			nthreads++;
		}
		thread_n[t]++;
		thread_of[q] = t;
	}
	return nthreads;
}

static int pin_to_cpu(int cpu, struct trf_err *err)
{
	cpu_set_t set;
	int ret;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	ret = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (ret)
		return trf_errf(err, -ret, "cannot pin a worker thread to CPU %d: %s", cpu,
				strerror(ret));
	return 0;
}

void trf_queue_failed(struct trf_queue *q)
{
	struct trf_engine *eng = q->eng;

	pthread_mutex_lock(&eng->lock);
	if (!q->failed) {
		q->failed = true;
		eng->nfailed++;
	}
	pthread_mutex_unlock(&eng->lock);
	eventfd_write(eng->fail_efd, 1);
}

/* A mode that keeps per-queue state (iperf2's flows) gets it here, on the queue's node. */
static int reflect_state_setup(struct trf_queue *q, int node, struct trf_err *err)
{
	const struct trf_reflect_mode *mode = q->cfg->reflect_mode;

	q->reflect = q->cfg->reflect;
	q->reflect.state = NULL;
	if (!mode->state_size)
		return 0;
	q->reflect.state = trf_mem_alloc(mode->state_size, node);
	if (!q->reflect.state)
		return trf_errf(err, -ENOMEM, "cannot allocate %zu B of %s state", mode->state_size,
				mode->name);
	if (mode->state_init)
		mode->state_init(q->reflect.state);
	return 0;
}

static void reflect_state_teardown(struct trf_queue *q, int node)
{
	if (q->reflect.state)
		trf_mem_free(q->reflect.state, q->cfg->reflect_mode->state_size, node);
	q->reflect.state = NULL;
}

static void *thread_main(void *arg)
{
	struct trf_thread *t = arg;
	struct trf_engine *eng = t->eng;
	int ret, go;

	/* How the sync engine's blocking read is interrupted: see tapreflect.h, Signals. */
	if (eng->io->wake) {
		sigset_t wake;

		sigemptyset(&wake);
		sigaddset(&wake, eng->cfg.wake_signal);
		pthread_sigmask(SIG_UNBLOCK, &wake, NULL);
	}

	ret = pin_to_cpu(t->cpu, &t->err);
	for (unsigned int i = 0; ret == 0 && i < t->nq; i++)
		ret = reflect_state_setup(t->q[i], t->node, &t->err);
	/* Kept after the thread ends: the last drain follows trf_engine_stop(). */
	for (unsigned int i = 0; ret == 0 && i < t->nq; i++)
		ret = trf_capture_queue_setup(t->q[i], t->node, &t->err);
	if (ret == 0)
		ret = eng->io->setup(t, &t->err);
	/* Before the main thread changes ids: see priv.c. */
	if (ret == 0 && t->cfg->run_as)
		ret = trf_priv_harden_thread(&t->err);

	pthread_mutex_lock(&eng->lock);
	t->status = ret;
	eng->nsettled++;
	pthread_cond_broadcast(&eng->cond);
	while (eng->go == 0)
		pthread_cond_wait(&eng->cond, &eng->lock);
	go = eng->go;
	pthread_mutex_unlock(&eng->lock);

	if (ret == 0 && go > 0)
		eng->io->run(t);
	eng->io->teardown(t);
	for (unsigned int i = 0; i < t->nq; i++)
		reflect_state_teardown(t->q[i], t->node);
	return NULL;
}

static void join_threads(struct trf_engine *eng)
{
	for (unsigned int i = 0; i < eng->nthreads; i++) {
		struct trf_thread *t = &eng->threads[i];

		if (!t->started)
			continue;
		if (eng->io->wake) {
			/*
			 * A signal can land just before the thread enters read();
			 * keep nudging until it is gone.
			 */
			for (;;) {
				struct timespec ts;

				eng->io->wake(t);
				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_nsec += 10 * 1000 * 1000;
				if (ts.tv_nsec >= 1000000000L) {
					ts.tv_sec++;
					ts.tv_nsec -= 1000000000L;
				}
				if (pthread_timedjoin_np(t->pthread, NULL, &ts) == 0)
					break;
			}
		} else {
			pthread_join(t->pthread, NULL);
		}
		t->started = false;
	}
}

static void release_threads(struct trf_engine *eng, int go)
{
	pthread_mutex_lock(&eng->lock);
	eng->go = go;
	pthread_cond_broadcast(&eng->cond);
	pthread_mutex_unlock(&eng->lock);
}

int trf_wake_signal_state(int sig)
{
	struct sigaction sa;

	if (sig <= 0 || sig >= NSIG || sigaction(sig, NULL, &sa) < 0)
		return -EINVAL;
	if (sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN || (sa.sa_flags & SA_RESTART))
		return -ENOENT;
	return 0;
}

/* The sync engine needs its wake signal to interrupt read(): a handler without SA_RESTART. */
static int check_wake_signal(const struct trf_engine *eng, struct trf_err *err)
{
	int sig = eng->cfg.wake_signal, state = trf_wake_signal_state(sig);

	if (state == -EINVAL)
		return trf_errf(err, -EINVAL, "--io sync: bad wake signal %d", sig);
	if (state < 0)
		return trf_errf(
		    err, -EINVAL,
		    "--io sync: signal %d (%s) needs a handler installed without "
		    "SA_RESTART before the engine starts (trf_engine_sync_wake_handler)",
		    sig, strsignal(sig));
	return 0;
}

/* The queues, and the threads that serve them (--workers), before any thread starts. */
static int make_threads(struct trf_engine *eng, struct trf_err *err)
{
	const struct trf_config *cfg = &eng->cfg;
	unsigned int room = eng->io->queues_per_thread ? eng->io->queues_per_thread(cfg) : 1;
	size_t size = sizeof(struct trf_queue) * cfg->queues;
	unsigned int thread_of[TRF_MAX_QUEUES];

	eng->queues = aligned_alloc(TRF_CACHELINE, size);
	eng->threads = calloc(cfg->queues, sizeof(*eng->threads));
	if (!eng->queues || !eng->threads)
		return trf_errf(err, -ENOMEM, "out of memory");
	memset(eng->queues, 0, size);
	eng->nthreads = trf_group_queues(cfg->cpus, cfg->queues, room, thread_of);
	for (unsigned int i = 0; i < eng->nthreads; i++) {
		struct trf_thread *t = &eng->threads[i];

		t->eng = eng;
		t->cfg = cfg;
		t->index = i;
		t->q = calloc(cfg->queues, sizeof(*t->q));
		if (!t->q)
			return trf_errf(err, -ENOMEM, "out of memory");
	}
	for (unsigned int n = 0; n < cfg->queues; n++) {
		struct trf_queue *q = &eng->queues[n];
		struct trf_thread *t = &eng->threads[thread_of[n]];

		if (t->nq == 0) {
			t->cpu = cfg->cpus[n];
			/*
			 * Resolved here, not in the thread: libnuma fills its
			 * CPU-to-node cache lazily and not thread-safely.
			 */
			t->node = trf_mem_node_of_cpu(t->cpu);
		}
		t->q[t->nq++] = q;
		q->eng = eng;
		q->cfg = cfg;
		q->thread = t;
		q->index = n;
		q->fd = eng->fds[n];
		q->info.queue = n;
		q->info.cpu = t->cpu;
		q->info.node = t->node;
		q->info.thread = t->index;
	}
	eng->nqueues = cfg->queues;
	return 0;
}

void trf_engine_free_threads(struct trf_engine *eng)
{
	if (eng->threads)
		for (unsigned int i = 0; i < eng->nthreads; i++)
			free(eng->threads[i].q);
	for (unsigned int i = 0; i < eng->nqueues; i++)
		trf_capture_queue_free(&eng->queues[i]);
	free(eng->threads);
	free(eng->queues);
	eng->threads = NULL;
	eng->queues = NULL;
	eng->nthreads = eng->nqueues = 0;
}

int trf_engine_start(struct trf_engine *eng, struct trf_err *err)
{
	int ret = 0;

	/* io_uring's --poll hybrid checks it itself, and does without where it is missing. */
	if (eng->io->wake && eng->cfg.io == TRF_IO_SYNC) {
		ret = check_wake_signal(eng, err);
		if (ret < 0)
			return ret;
	}
	ret = make_threads(eng, err);
	if (ret < 0)
		return ret;

	for (unsigned int i = 0; i < eng->nthreads; i++) {
		struct trf_thread *t = &eng->threads[i];

		ret = pthread_create(&t->pthread, NULL, thread_main, t);
		if (ret) {
			ret = trf_errf(err, -ret, "cannot start the worker thread of queue %u: %s",
				       t->q[0]->index, strerror(ret));
			break;
		}
		t->started = true;
		eng->nstarted++;
	}

	pthread_mutex_lock(&eng->lock);
	while (eng->nsettled < eng->nstarted)
		pthread_cond_wait(&eng->cond, &eng->lock);
	pthread_mutex_unlock(&eng->lock);

	for (unsigned int i = 0; ret == 0 && i < eng->nstarted; i++) {
		const struct trf_thread *t = &eng->threads[i];

		if (t->status < 0) {
			ret = t->status;
			snprintf(err->msg, sizeof(err->msg), "queue %u: %.480s", t->q[0]->index,
				 t->err.msg);
		}
	}
	/* Every queue is ready and no frame has been read yet: give up privileges now. */
	if (ret == 0 && eng->cfg.run_as)
		ret = trf_priv_drop(&eng->cfg, err);
	if (ret < 0) {
		release_threads(eng, -1);
		join_threads(eng);
		return ret;
	}
	release_threads(eng, 1);
	eng->running = true;
	return 0;
}

int trf_engine_failure_fd(const struct trf_engine *eng)
{
	return eng->fail_efd;
}

/*
 * A detached queue: TUNGETIFF on its fd reports IFF_DETACH_QUEUE.  Its parked
 * read is never woken (the kernel only steers frames to the other queues), so
 * its thread idles until the stop; the queue is marked as ended here.
 */
unsigned int trf_engine_check_queues(struct trf_engine *eng)
{
	/* A deleted device detaches every queue: that is the threads' own error to tell. */
	bool present = trf_engine_device_present(eng);
	unsigned int n;
	eventfd_t v;

	eventfd_read(eng->fail_efd, &v); /* non-blocking: a reset; what failed is counted below */
	for (unsigned int i = 0; present && eng->running && i < eng->nqueues; i++) {
		struct trf_queue *q = &eng->queues[i];
		struct ifreq ifr = { 0 };
		bool failed;

		pthread_mutex_lock(&eng->lock);
		failed = q->failed;
		pthread_mutex_unlock(&eng->lock);
		if (failed || ioctl(q->fd, TUNGETIFF, &ifr) < 0 ||
		    !(ifr.ifr_flags & IFF_DETACH_QUEUE))
			continue;
		pthread_mutex_lock(&eng->lock);
		if (!q->failed) {
			trf_errf(&q->err, -EBADFD,
				 "queue %u: detached from %s by another holder of its fd "
				 "(TUNSETQUEUE): it gets no more frames",
				 i, eng->cfg.dev);
			q->failed = true;
			eng->nfailed++;
		}
		pthread_mutex_unlock(&eng->lock);
	}
	pthread_mutex_lock(&eng->lock);
	n = eng->nfailed;
	pthread_mutex_unlock(&eng->lock);
	return n;
}

bool trf_engine_queue_failed(struct trf_engine *eng, unsigned int q, struct trf_err *err)
{
	bool failed = false;

	pthread_mutex_lock(&eng->lock);
	if (q < eng->nqueues && eng->queues[q].failed) {
		failed = true;
		if (err)
			*err = eng->queues[q].err;
	}
	pthread_mutex_unlock(&eng->lock);
	return failed;
}

void trf_engine_stop(struct trf_engine *eng)
{
	if (!eng->running)
		return;
	__atomic_store_n(&eng->stop, 1, __ATOMIC_RELEASE);
	eventfd_write(eng->stop_efd, 1);
	join_threads(eng);
	eng->running = false;
}

void trf_engine_sample(const struct trf_engine *eng, unsigned int q, struct trf_queue_stats *out)
{
	trf_stats_read(&eng->queues[q].stats, out);
	/* A blocking read takes one frame a wakeup: counted here, not in the loop. */
	if (eng->io == &trf_io_sync_ops) {
		out->wakeup_frames[0] = out->frames_read;
	} else {
		/* --poll hybrid's blocking reads, the same way. */
		out->wakeup_frames[0] += out->frames_blocking;
		out->waits += out->frames_blocking;
	}
}

int trf_engine_queue_info(const struct trf_engine *eng, unsigned int q, struct trf_queue_info *out)
{
	if (!eng->queues || q >= eng->nqueues)
		return -EINVAL;
	*out = eng->queues[q].info;
	return 0;
}
