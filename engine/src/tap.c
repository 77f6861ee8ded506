// SPDX-License-Identifier: MIT
/*
 * Opening the queues of a multi-queue TAP/TUN device.  What exists already is
 * asked of the kernel in the caller's own network namespace (if_nametoindex,
 * rtnetlink), never of sysfs.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define TUN_PATH "/dev/net/tun"

/* Whether name is a device of the caller's network namespace (not sysfs's: see rtnl.c). */
static bool dev_exists(const char *name)
{
	return if_nametoindex(name) != 0;
}

/* What a device's IFF_TUN/IFF_TAP flag says it is. */
static enum trf_link link_of(long flags)
{
	return (flags & IFF_TAP) ? TRF_LINK_TAP : TRF_LINK_TUN;
}

static void describe_flags(long flags, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s", trf_link_name(link_of(flags)),
		 (flags & IFF_MULTI_QUEUE) ? " multi_queue" : " single-queue",
		 (flags & IFF_NO_PI) ? " no_pi" : "", (flags & IFF_VNET_HDR) ? " vnet_hdr" : "");
}

/* TUNSETIFF said EINVAL/EBUSY: say what the existing device is and what to do. */
static int explain_existing(const char *name, enum trf_link link, int ret, struct trf_err *err)
{
	const char *want = trf_link_name(link);
	struct trf_link_state st;
	char have[64];
	long flags;

	if (trf_rtnl_link(name, 0, &st) < 0)
		return trf_errf(err, ret, "cannot create %s: %s", name, strerror(-ret));
	if (!st.is_tun)
		return trf_errf(err, ret,
				"cannot attach to %s: it exists and is not a TUN/TAP device — "
				"choose another name with --dev",
				name);
	if (!st.have_tun_flags)
		return trf_errf(err, ret,
				"cannot attach to %s: %s — it must be a %s multi_queue device",
				name, strerror(-ret), want);
	flags = (long)st.tun_flags;
	describe_flags(flags, have, sizeof(have));
	return trf_errf(err, ret,
			"cannot attach to %s: it exists as a %s device but tapreflect needs %s "
			"multi_queue — delete it (ip link del %s), recreate it with "
			"`ip tuntap add dev %s mode %s multi_queue`, or pass --mode %s%s",
			name, have, want, name, name, want, trf_link_name(link_of(flags)),
			(flags & IFF_MULTI_QUEUE) ? "" : " after recreating it as multi_queue");
}

static int open_queue(char *name, enum trf_link link, bool vnet_hdr, bool first,
		      struct trf_err *err)
{
	struct ifreq ifr = { 0 };
	int fd, ret;

	fd = open(TUN_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		if (ret == -ENOENT || ret == -ENODEV || ret == -ENXIO)
			return trf_errf(err, ret,
					"cannot open " TUN_PATH ": %s — load the tun module "
					"(modprobe tun) or create the node (mkdir -p /dev/net && "
					"mknod /dev/net/tun c 10 200)",
					strerror(-ret));
		if (ret == -EACCES || ret == -EPERM)
			return trf_errf(err, ret,
					"cannot open " TUN_PATH ": %s — run as root, or give your "
					"user access to it (chmod 0666 " TUN_PATH
					" is the usual mode)",
					strerror(-ret));
		return trf_errf(err, ret, "cannot open " TUN_PATH ": %s", strerror(-ret));
	}

	ifr.ifr_flags = (short)((link == TRF_LINK_TAP ? IFF_TAP : IFF_TUN) | IFF_NO_PI |
				IFF_MULTI_QUEUE | (vnet_hdr ? IFF_VNET_HDR : 0));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		close(fd);
		if (ret == -EPERM)
			return trf_errf(
			    err, ret,
			    "cannot %s %s: Operation not permitted — run as root "
			    "(CAP_NET_ADMIN), or create a persistent device you own first: "
			    "ip tuntap add dev %s mode %s multi_queue user $USER",
			    dev_exists(name) ? "attach to" : "create", name, name,
			    trf_link_name(link));
		if (ret == -EINVAL || ret == -EBUSY)
			return explain_existing(name, link, ret, err);
		return trf_errf(err, ret, "cannot %s queue of %s: %s",
				first ? "create the first" : "attach another", name,
				strerror(-ret));
	}
	if (first)
		snprintf(name, IFNAMSIZ, "%s", ifr.ifr_name);
	return fd;
}

/*
 * --offload against a device that exists: its own vnet_hdr flag decides under
 * auto; on or off must agree with it, since attaching with the other flag
 * would change the device under whoever else uses it.
 */
static int vnet_for_existing(const char *name, enum trf_link link, enum trf_offload offload,
			     bool *vnet_hdr, struct trf_err *err)
{
	const char *mode = trf_link_name(link);
	struct trf_link_state st;
	bool has;

	if (trf_rtnl_link(name, 0, &st) < 0 || !st.is_tun || !st.have_tun_flags) {
		/* Not a TUN/TAP device, or flags unknown: TUNSETIFF says what is wrong. */
		*vnet_hdr = offload == TRF_OFFLOAD_ON;
		return 0;
	}
	has = st.tun_flags & IFF_VNET_HDR;
	if (offload == TRF_OFFLOAD_ON && !has)
		return trf_errf(err, -EINVAL,
				"cannot attach to %s with --offload on: it was created without "
				"vnet_hdr — recreate it (ip link del %s; ip tuntap add dev %s mode "
				"%s multi_queue vnet_hdr) or run with --offload off",
				name, name, name, mode);
	if (offload == TRF_OFFLOAD_OFF && has)
		return trf_errf(
		    err, -EINVAL,
		    "cannot attach to %s with --offload off: it was created with "
		    "vnet_hdr — run with --offload auto, or recreate it without "
		    "vnet_hdr (ip link del %s; ip tuntap add dev %s mode %s multi_queue)",
		    name, name, name, mode);
	*vnet_hdr = has;
	return 0;
}

/*
 * Ask for every offload, then for less until the kernel agrees: USO needs
 * Linux 6.2 (USO4 and USO6 only together), TSO needs CSUM.  The bits are
 * per device; any queue fd sets them.
 */
static int negotiate_offloads(int fd, const char *name, unsigned int *granted, struct trf_err *err)
{
	static const unsigned int tries[] = {
		TRF_TUN_F_CSUM | TRF_TUN_F_TSO4 | TRF_TUN_F_TSO6 | TRF_TUN_F_TSO_ECN |
		    TRF_TUN_F_USO4 | TRF_TUN_F_USO6,
		TRF_TUN_F_CSUM | TRF_TUN_F_TSO4 | TRF_TUN_F_TSO6 | TRF_TUN_F_TSO_ECN,
		TRF_TUN_F_CSUM | TRF_TUN_F_TSO4 | TRF_TUN_F_TSO6,
		TRF_TUN_F_CSUM,
	};
	int hdr_size = TRF_VNET_HDR_LEN;

	/* The header tun writes and expects: the 10-byte struct virtio_net_hdr. */
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr_size) < 0)
		return trf_errf(err, -errno, "cannot set the virtio-net header size of %s: %s",
				name, strerror(errno));
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)tries[i]) == 0) {
			*granted = tries[i];
			return 0;
		}
		if (errno != EINVAL)
			break;
	}
	*granted = 0;
	if (ioctl(fd, TUNSETOFFLOAD, 0UL) < 0)
		return trf_errf(err, -errno, "cannot set the offloads of %s: %s", name,
				strerror(errno));
	return 0;
}

/*
 * A persistent device may still hold the queue of a process that just died:
 * its fd is released only when the kernel has torn down what that process
 * had in flight (an io_uring ring goes away asynchronously, some 10 to 20 ms
 * after a SIGKILL), and until then tun steers frames to that queue, where
 * nobody reads them.  So wait, bounded, until the device counts no queue but
 * ours.  Another live process that holds queues on purpose costs this start
 * TRF_STALE_QUEUE_WAIT_MS, no more.
 */
#define TRF_STALE_QUEUE_WAIT_MS 2000

static void wait_for_stale_queues(const char *name, unsigned int queues)
{
	const struct timespec step = { .tv_nsec = 5 * 1000 * 1000 };

	for (int waited = 0; waited < TRF_STALE_QUEUE_WAIT_MS; waited += 5) {
		struct trf_link_state st = { 0 };

		if (trf_rtnl_link(name, 0, &st) < 0 || !st.have_tun_queues ||
		    st.tun_queues <= queues)
			return;
		nanosleep(&step, NULL);
	}
}

int trf_tap_open(char *name, enum trf_link link, unsigned int queues, int *fds, bool *persistent,
		 enum trf_offload offload, bool *vnet_hdr, unsigned int *offloads,
		 struct trf_err *err)
{
	int ret = 0;

	*persistent = !strchr(name, '%') && dev_exists(name);
	*vnet_hdr = offload != TRF_OFFLOAD_OFF;
	*offloads = 0;
	for (unsigned int q = 0; q < queues; q++)
		fds[q] = -1;
	if (*persistent) {
		ret = vnet_for_existing(name, link, offload, vnet_hdr, err);
		if (ret < 0)
			return ret;
	}
	for (unsigned int q = 0; q < queues; q++) {
		ret = open_queue(name, link, *vnet_hdr, q == 0, err);
		if (ret < 0)
			goto close_fds;
		fds[q] = ret;
	}
	if (*vnet_hdr) {
		ret = negotiate_offloads(fds[0], name, offloads, err);
		if (ret < 0)
			goto close_fds;
	}
	if (*persistent)
		wait_for_stale_queues(name, queues);
	return 0;

close_fds:
	trf_tap_close(fds, queues);
	return ret;
}

void trf_tap_close(int *fds, unsigned int queues)
{
	for (unsigned int q = 0; q < queues; q++) {
		if (fds[q] >= 0)
			close(fds[q]);
		fds[q] = -1;
	}
}
