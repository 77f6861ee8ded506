// SPDX-License-Identifier: MIT
/*
 * The engine around its threads: open the device and its queues, steering,
 * addresses; close them again; say what is in force.  The worker threads
 * and their start/stop handshake are in threads.c.
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
	trf_engine_free_threads(eng);
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

const struct trf_config *trf_engine_config(const struct trf_engine *eng)
{
	return &eng->cfg;
}

int trf_queue_error(const struct trf_queue *q, int ret, const char *what, struct trf_err *err)
{
	/* The kernel's own answer to a deleted tun: EBADFD, or EFAULT for a blocked read. */
	if (q->eng->ifindex && !device_present(q->eng->ifindex))
		return trf_errf(err, ret,
				"queue %u: the device %s was deleted (%s: %s) — tapreflect stops "
				"with it",
				q->index, q->cfg->dev, what, strerror(-ret));
	return trf_errf(err, ret, "queue %u: %s failed: %s", q->index, what, strerror(-ret));
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
