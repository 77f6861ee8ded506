// SPDX-License-Identifier: MIT
/*
 * Engine lifecycle: open the device, start one pinned worker per queue, stop
 * them, and hand out their counters.
 *
 * Start-up is a two-phase handshake so that a setup failure on any queue
 * (io_uring disabled, memlock too low) stops every queue before a single
 * frame is reflected: each worker sets up, reports, and waits for `go`.
 */
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if_tun.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static int pin_to_cpu(int cpu, struct trf_err *err)
{
	cpu_set_t set;
	int ret;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	ret = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (ret)
		return trf_errf(err, -ret, "cannot pin a worker to CPU %d: %s", cpu, strerror(ret));
	return 0;
}

void trf_worker_failed(struct trf_worker *w)
{
	struct trf_engine *eng = w->eng;

	pthread_mutex_lock(&eng->lock);
	if (!w->failed) {
		w->failed = true;
		eng->nfailed++;
	}
	pthread_mutex_unlock(&eng->lock);
	eventfd_write(eng->fail_efd, 1);
}

/* A mode that keeps per-queue state (iperf2's flows) gets it here, on the queue's node. */
static int reflect_state_setup(struct trf_worker *w, struct trf_err *err)
{
	const struct trf_reflect_mode *mode = w->cfg->reflect_mode;

	w->reflect = w->cfg->reflect;
	w->reflect.state = NULL;
	if (!mode->state_size)
		return 0;
	w->reflect.state = trf_mem_alloc(mode->state_size, w->node);
	if (!w->reflect.state)
		return trf_errf(err, -ENOMEM, "cannot allocate %zu B of %s state", mode->state_size,
				mode->name);
	if (mode->state_init)
		mode->state_init(w->reflect.state);
	return 0;
}

static void reflect_state_teardown(struct trf_worker *w)
{
	if (w->reflect.state)
		trf_mem_free(w->reflect.state, w->cfg->reflect_mode->state_size, w->node);
	w->reflect.state = NULL;
}

static void *worker_main(void *arg)
{
	struct trf_worker *w = arg;
	struct trf_engine *eng = w->eng;
	int ret, go;

	/* How the sync engine's blocking read is interrupted: see tapreflect.h, Signals. */
	if (eng->io->wake) {
		sigset_t wake;

		sigemptyset(&wake);
		sigaddset(&wake, eng->cfg.wake_signal);
		pthread_sigmask(SIG_UNBLOCK, &wake, NULL);
	}

	ret = pin_to_cpu(w->cpu, &w->err);
	for (struct trf_worker *m = w; ret == 0 && m; m = m->next_shared)
		ret = reflect_state_setup(m, &w->err);
	if (ret == 0)
		ret = eng->io->setup(w, &w->err);
	/* Before the main thread changes ids: see priv.c. */
	if (ret == 0 && w->cfg->run_as)
		ret = trf_priv_harden_thread(&w->err);

	pthread_mutex_lock(&eng->lock);
	w->status = ret;
	eng->nsettled++;
	pthread_cond_broadcast(&eng->cond);
	while (eng->go == 0)
		pthread_cond_wait(&eng->cond, &eng->lock);
	go = eng->go;
	pthread_mutex_unlock(&eng->lock);

	if (ret == 0 && go > 0) {
		ret = eng->io->run(w, &w->err);
		if (ret < 0)
			trf_worker_failed(w);
	}
	eng->io->teardown(w);
	for (struct trf_worker *m = w; m; m = m->next_shared)
		reflect_state_teardown(m);
	return NULL;
}

static void ignore_signal(int sig)
{
	(void)sig;
}

void trf_engine_sync_wake_handler(int sig)
{
	struct sigaction sa = { .sa_handler = ignore_signal }; /* no SA_RESTART */

	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

/* The sync engine needs its wake signal to interrupt read(): a handler without SA_RESTART. */
static int check_wake_signal(const struct trf_engine *eng, struct trf_err *err)
{
	struct sigaction sa;
	int sig = eng->cfg.wake_signal;

	if (sig <= 0 || sig >= NSIG || sigaction(sig, NULL, &sa) < 0)
		return trf_errf(err, -EINVAL, "--io sync: bad wake signal %d", sig);
	if (sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN || (sa.sa_flags & SA_RESTART))
		return trf_errf(
		    err, -EINVAL,
		    "--io sync: signal %d (%s) needs a handler installed without "
		    "SA_RESTART before the engine starts (trf_engine_sync_wake_handler)",
		    sig, strsignal(sig));
	return 0;
}

/*
 * --steering, on a device of more than one queue (with one there is nothing
 * to choose, and tun hashes nothing).  auto takes what the kernel grants and
 * says what it refused; hash insists.
 */
static int setup_steering(struct trf_engine *eng, struct trf_err *err)
{
	struct trf_err why = { 0 };
	int ret;

	if (eng->cfg.queues < 2) {
		snprintf(eng->steering, sizeof(eng->steering), "none");
		if (eng->cfg.steering != TRF_STEERING_AUTO)
			snprintf(eng->steering_why, sizeof(eng->steering_why), "one queue");
		return 0;
	}
	if (eng->cfg.steering == TRF_STEERING_KERNEL) {
		snprintf(eng->steering, sizeof(eng->steering), "kernel");
		return 0;
	}
	ret = trf_steer_attach(eng->fds[0], &why);
	if (ret == 0) {
		eng->steered = true;
		snprintf(eng->steering, sizeof(eng->steering), "hash");
		return 0;
	}
	if (eng->cfg.steering == TRF_STEERING_HASH)
		return trf_errf(err, ret, "--steering hash: %s", why.msg);
	snprintf(eng->steering, sizeof(eng->steering), "kernel");
	snprintf(eng->steering_why, sizeof(eng->steering_why), "steering program refused: %s",
		 strerror(-ret));
	return 0;
}

int trf_engine_create(const struct trf_config *cfg, struct trf_engine **out, struct trf_err *err)
{
	enum trf_offload offload;
	struct trf_engine *eng;
	int ret;

	ret = trf_config_validate(cfg, err);
	if (ret < 0)
		return ret;
	if (cfg->run_as && geteuid() != 0)
		return trf_errf(err, -EPERM,
				"--user %s needs tapreflect started as root (it changes user after "
				"the set-up); as this user, leave --user out",
				cfg->run_user);
	eng = calloc(1, sizeof(*eng));
	if (!eng)
		return trf_errf(err, -ENOMEM, "out of memory");
	eng->cfg = *cfg;
	eng->cfg.reflect.link = cfg->link;
	eng->cfg.reflect.vnet_hdr = false;
	eng->io = cfg->io == TRF_IO_SYNC ? &trf_io_sync_ops : &trf_io_uring_ops;
	eng->stop_efd = -1;
	eng->fail_efd = -1;
	for (unsigned int q = 0; q < TRF_MAX_QUEUES; q++)
		eng->fds[q] = -1;
	pthread_mutex_init(&eng->lock, NULL);
	pthread_cond_init(&eng->cond, NULL);

	eng->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	eng->fail_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (eng->stop_efd < 0 || eng->fail_efd < 0) {
		ret = trf_errf(err, -errno, "cannot create an eventfd: %s", strerror(errno));
		goto destroy;
	}
	/* Buffers the user made too small for a superpacket: auto means off. */
	offload = cfg->offload;
	if (offload == TRF_OFFLOAD_AUTO && cfg->frame_size_set &&
	    cfg->frame_size < TRF_VNET_FRAME_SIZE)
		offload = TRF_OFFLOAD_OFF;
	ret = trf_tap_open(eng->cfg.dev, cfg->link, cfg->queues, eng->fds, &eng->persistent,
			   offload, &eng->vnet_hdr, &eng->offloads, err);
	if (ret < 0)
		goto destroy;
	if (eng->vnet_hdr) {
		if (!cfg->frame_size_set)
			eng->cfg.frame_size = TRF_VNET_FRAME_SIZE;
		if (!cfg->buffers_set)
			eng->cfg.buffers = TRF_VNET_BUFFERS;
		eng->cfg.reflect.vnet_hdr = true;
		ret = trf_config_validate(&eng->cfg, err);
		if (ret < 0)
			goto destroy;
	}
	ret = setup_steering(eng, err);
	if (ret < 0)
		goto destroy;
	/* Watched at exit: a device we created is gone when this index is. */
	eng->ifindex = if_nametoindex(eng->cfg.dev);
	ret = trf_netcfg_apply(eng->cfg.dev, cfg->mtu, cfg->addrs, cfg->naddrs, err);
	if (ret < 0)
		goto destroy;
	*out = eng;
	return 0;

destroy:
	trf_engine_destroy(eng);
	return ret;
}

static void join_workers(struct trf_engine *eng)
{
	for (unsigned int q = 0; q < eng->nworkers; q++) {
		struct trf_worker *w = &eng->workers[q];

		if (!w->thread_started)
			continue;
		if (eng->io->wake) {
			/*
			 * A signal can land just before the worker enters read();
			 * keep nudging until it is gone.
			 */
			for (;;) {
				struct timespec ts;

				eng->io->wake(w);
				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_nsec += 10 * 1000 * 1000;
				if (ts.tv_nsec >= 1000000000L) {
					ts.tv_sec++;
					ts.tv_nsec -= 1000000000L;
				}
				if (pthread_timedjoin_np(w->thread, NULL, &ts) == 0)
					break;
			}
		} else {
			pthread_join(w->thread, NULL);
		}
		w->thread_started = false;
	}
}

static void release_workers(struct trf_engine *eng, int go)
{
	pthread_mutex_lock(&eng->lock);
	eng->go = go;
	pthread_cond_broadcast(&eng->cond);
	pthread_mutex_unlock(&eng->lock);
}

/*
 * --workers per-cpu: w joins the thread of the first queue before it on the
 * same CPU, while that thread has room (the engine's queues_per_thread).
 */
static void join_thread_of_cpu(struct trf_engine *eng, struct trf_worker *w)
{
	unsigned int room = eng->io->queues_per_thread ? eng->io->queues_per_thread(&eng->cfg) : 1;

	for (unsigned int p = 0; room > 1 && p < w->queue; p++) {
		struct trf_worker *lead = &eng->workers[p], *last = lead;
		unsigned int n = 1;

		if (lead->shared || lead->cpu != w->cpu)
			continue;
		while (last->next_shared) {
			last = last->next_shared;
			n++;
		}
		if (n == room)
			continue;
		last->next_shared = w;
		w->shared = true;
		return;
	}
}

int trf_engine_start(struct trf_engine *eng, struct trf_err *err)
{
	const struct trf_config *cfg = &eng->cfg;
	size_t size = sizeof(struct trf_worker) * cfg->queues;
	int ret = 0;

	if (eng->io->wake) {
		ret = check_wake_signal(eng, err);
		if (ret < 0)
			return ret;
	}
	eng->workers = aligned_alloc(TRF_CACHELINE, size);
	if (!eng->workers)
		return trf_errf(err, -ENOMEM, "out of memory");
	memset(eng->workers, 0, size);

	for (unsigned int q = 0; q < cfg->queues; q++) {
		struct trf_worker *w = &eng->workers[q];

		w->eng = eng;
		w->cfg = cfg;
		w->queue = q;
		w->cpu = cfg->cpus[q];
		/*
		 * Resolved here, not in the worker: libnuma fills its CPU-to-node
		 * cache lazily and not thread-safely.
		 */
		w->node = trf_mem_node_of_cpu(w->cpu);
		w->fd = eng->fds[q];
		w->info.queue = q;
		w->info.cpu = w->cpu;
		w->info.node = w->node;
		join_thread_of_cpu(eng, w);
	}
	eng->nworkers = cfg->queues;

	for (unsigned int q = 0; q < cfg->queues; q++) {
		struct trf_worker *w = &eng->workers[q];

		if (w->shared)
			continue;
		ret = pthread_create(&w->thread, NULL, worker_main, w);
		if (ret) {
			ret = trf_errf(err, -ret, "cannot start the worker of queue %u: %s", q,
				       strerror(ret));
			break;
		}
		w->thread_started = true;
		for (struct trf_worker *m = w; m; m = m->next_shared)
			m->info.thread = eng->nthreads;
		eng->nthreads++;
	}

	pthread_mutex_lock(&eng->lock);
	while (eng->nsettled < eng->nthreads)
		pthread_cond_wait(&eng->cond, &eng->lock);
	pthread_mutex_unlock(&eng->lock);

	for (unsigned int q = 0; ret == 0 && q < eng->nworkers; q++) {
		if (!eng->workers[q].shared && eng->workers[q].status < 0) {
			ret = eng->workers[q].status;
			snprintf(err->msg, sizeof(err->msg), "queue %u: %.480s", q,
				 eng->workers[q].err.msg);
		}
	}
	/* Every queue is ready and no frame has been read yet: give up privileges now. */
	if (ret == 0 && cfg->run_as)
		ret = trf_priv_drop(cfg, err);
	if (ret < 0) {
		release_workers(eng, -1);
		join_workers(eng);
		return ret;
	}
	release_workers(eng, 1);
	eng->running = true;
	return 0;
}

int trf_engine_failure_fd(const struct trf_engine *eng)
{
	return eng->fail_efd;
}

/* Whether the device with this index is still there, in our own network namespace. */
static bool device_present(unsigned int ifindex)
{
	char name[IF_NAMESIZE];

	return if_indextoname(ifindex, name) != NULL;
}

bool trf_engine_device_present(const struct trf_engine *eng)
{
	return !eng->ifindex || device_present(eng->ifindex);
}

/*
 * A detached queue: TUNGETIFF on its fd reports IFF_DETACH_QUEUE.  Its parked
 * read is never woken (the kernel only steers frames to the other queues), so
 * the worker idles until the stop; the queue is marked as ended here.
 */
unsigned int trf_engine_check_queues(struct trf_engine *eng)
{
	/* A deleted device detaches every queue: that is the workers' own error to tell. */
	bool present = trf_engine_device_present(eng);
	unsigned int n;
	eventfd_t v;

	eventfd_read(eng->fail_efd, &v); /* non-blocking: a reset; what failed is counted below */
	for (unsigned int q = 0; present && eng->running && q < eng->nworkers; q++) {
		struct trf_worker *w = &eng->workers[q];
		struct ifreq ifr = { 0 };
		bool failed;

		pthread_mutex_lock(&eng->lock);
		failed = w->failed;
		pthread_mutex_unlock(&eng->lock);
		if (failed || ioctl(w->fd, TUNGETIFF, &ifr) < 0 ||
		    !(ifr.ifr_flags & IFF_DETACH_QUEUE))
			continue;
		pthread_mutex_lock(&eng->lock);
		if (!w->failed) {
			trf_errf(&w->err, -EBADFD,
				 "queue %u: detached from %s by another holder of its fd "
				 "(TUNSETQUEUE): it gets no more frames",
				 q, eng->cfg.dev);
			w->failed = true;
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
	if (q < eng->nworkers && eng->workers[q].failed) {
		failed = true;
		if (err)
			*err = eng->workers[q].err;
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
	join_workers(eng);
	eng->running = false;
}

/*
 * A device we created goes away when its last queue closes; the kernel does
 * that a little later.  Wait (bounded) so that when tapreflect has exited,
 * its device is gone and the name can be reused at once, in either mode.
 * The device is watched by its index, in our own network namespace.
 */
static void wait_device_gone(unsigned int ifindex)
{
	for (int i = 0; i < 200 && device_present(ifindex); i++)
		usleep(10 * 1000);
}

void trf_engine_destroy(struct trf_engine *eng)
{
	bool created;

	if (!eng)
		return;
	trf_engine_stop(eng);
	free(eng->workers);
	created = !eng->persistent && eng->fds[0] >= 0 && eng->ifindex;
	/* A persistent device would keep it: the next user gets tun's own steering back. */
	if (eng->steered)
		trf_steer_detach(eng->fds[0]);
	trf_tap_close(eng->fds, eng->cfg.queues);
	if (created)
		wait_device_gone(eng->ifindex);
	if (eng->stop_efd >= 0)
		close(eng->stop_efd);
	if (eng->fail_efd >= 0)
		close(eng->fail_efd);
	pthread_cond_destroy(&eng->cond);
	pthread_mutex_destroy(&eng->lock);
	free(eng);
}

void trf_engine_sample(const struct trf_engine *eng, unsigned int q, struct trf_queue_stats *out)
{
	trf_stats_read(&eng->workers[q].stats, out);
}

const struct trf_config *trf_engine_config(const struct trf_engine *eng)
{
	return &eng->cfg;
}

int trf_queue_error(const struct trf_worker *w, int ret, const char *what, struct trf_err *err)
{
	/* The kernel's own answer to a deleted tun: EBADFD, or EFAULT for a blocked read. */
	if (w->eng->ifindex && !device_present(w->eng->ifindex))
		return trf_errf(err, ret,
				"queue %u: the device %s was deleted (%s: %s) — tapreflect stops "
				"with it",
				w->queue, w->cfg->dev, what, strerror(-ret));
	return trf_errf(err, ret, "queue %u: %s failed: %s", w->queue, what, strerror(-ret));
}

void trf_engine_info(const struct trf_engine *eng, struct trf_engine_info *out)
{
	*out = (struct trf_engine_info){
		.dev_persistent = eng->persistent,
		.vnet_hdr = eng->vnet_hdr,
		.offloads = eng->offloads,
		.queues = eng->cfg.queues,
		.threads = eng->nthreads,
	};
	snprintf(out->dev, sizeof(out->dev), "%s", eng->cfg.dev);
	snprintf(out->steering, sizeof(out->steering), "%s", eng->steering);
	snprintf(out->steering_why, sizeof(out->steering_why), "%s", eng->steering_why);
}

int trf_engine_queue_info(const struct trf_engine *eng, unsigned int q, struct trf_queue_info *out)
{
	if (!eng->workers || q >= eng->nworkers)
		return -EINVAL;
	*out = eng->workers[q].info;
	return 0;
}

void trf_info_fallback(struct trf_queue_info *info, const char *fmt, ...)
{
	size_t used = strlen(info->fallback);
	va_list ap;

	if (used && used + 2 < sizeof(info->fallback)) {
		memcpy(info->fallback + used, "; ", 3);
		used += 2;
	}
	va_start(ap, fmt);
	vsnprintf(info->fallback + used, sizeof(info->fallback) - used, fmt, ap);
	va_end(ap);
}
