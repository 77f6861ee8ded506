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
#include <unistd.h>

#include "internal.h"

#define TUN_PATH "/dev/net/tun"

/* Whether name is a device of the caller's network namespace (not sysfs's: see rtnl.c). */
static bool dev_exists(const char *name)
{
	return if_nametoindex(name) != 0;
}

static void describe_flags(long flags, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s", (flags & IFF_TAP) ? "tap" : "tun",
		 (flags & IFF_MULTI_QUEUE) ? " multi_queue" : " single-queue",
		 (flags & IFF_NO_PI) ? " no_pi" : "", (flags & IFF_VNET_HDR) ? " vnet_hdr" : "");
}

/* TUNSETIFF said EINVAL/EBUSY: say what the existing device is and what to do. */
static int explain_existing(const char *name, enum trf_link link, int ret, struct trf_err *err)
{
	const char *want = link == TRF_LINK_TAP ? "tap" : "tun";
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
			name, have, want, name, name, want, (flags & IFF_TAP) ? "tap" : "tun",
			(flags & IFF_MULTI_QUEUE) ? "" : " after recreating it as multi_queue");
}

static int open_queue(char *name, enum trf_link link, bool first, struct trf_err *err)
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

	ifr.ifr_flags =
	    (short)((link == TRF_LINK_TAP ? IFF_TAP : IFF_TUN) | IFF_NO_PI | IFF_MULTI_QUEUE);
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
			    link == TRF_LINK_TAP ? "tap" : "tun");
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

int trf_tap_open(char *name, enum trf_link link, unsigned int queues, int *fds, bool *persistent,
		 struct trf_err *err)
{
	int ret = 0;

	*persistent = !strchr(name, '%') && dev_exists(name);
	for (unsigned int q = 0; q < queues; q++)
		fds[q] = -1;
	for (unsigned int q = 0; q < queues; q++) {
		ret = open_queue(name, link, q == 0, err);
		if (ret < 0)
			goto close_fds;
		fds[q] = ret;
	}
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
