// SPDX-License-Identifier: MIT
/*
 * Host-side setup of the device: MTU and link state by ioctl, addresses by
 * rtnetlink (ioctls cannot add a second IPv4 address or skip IPv6 DAD), and
 * the device's drop counter, also by rtnetlink (rtnl.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

static int link_set(const char *dev, unsigned int mtu, struct trf_err *err)
{
	struct ifreq ifr = { 0 };
	int fd, ret = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return trf_errf(err, -errno, "cannot open a socket to configure %s: %s", dev,
				strerror(errno));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	if (mtu) {
		ifr.ifr_mtu = (int)mtu;
		if (ioctl(fd, SIOCSIFMTU, &ifr) < 0) {
			ret = trf_errf(err, -errno, "cannot set the MTU of %s to %u: %s", dev, mtu,
				       strerror(errno));
			goto close_fd;
		}
	}
	/*
	 * A link that is up already is left alone: reading its flags needs no
	 * privilege, so an unprivileged user can run on a device root prepared.
	 */
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		ret =
		    trf_errf(err, -errno, "cannot read the flags of %s: %s", dev, strerror(errno));
	} else if (!(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
			ret = trf_errf(
			    err, -errno, "cannot bring %s up: %s%s%s%s", dev, strerror(errno),
			    errno == EPERM ? " — it needs CAP_NET_ADMIN: run `ip link set " : "",
			    errno == EPERM ? dev : "",
			    errno == EPERM ? " up` as root before starting (and --addr/--mtu "
					     "need it too; configure the device as root and "
					     "start without them)"
					   : "");
	}
close_fd:
	close(fd);
	return ret;
}

int trf_netcfg_apply(const char *dev, unsigned int mtu, const struct trf_addr *addrs,
		     unsigned int naddrs, struct trf_err *err)
{
	unsigned int ifindex;
	int ret;

	ret = link_set(dev, mtu, err);
	if (ret < 0 || naddrs == 0)
		return ret;
	ifindex = if_nametoindex(dev);
	if (!ifindex)
		return trf_errf(err, -errno, "cannot find %s: %s", dev, strerror(errno));
	for (unsigned int i = 0; i < naddrs; i++) {
		ret = trf_rtnl_addr_add(ifindex, &addrs[i]);
		if (ret < 0) {
			char text[INET6_ADDRSTRLEN];

			inet_ntop(addrs[i].family, &addrs[i].u, text, sizeof(text));
			trf_errf(err, ret, "cannot add address %s/%u to %s: %s", text,
				 addrs[i].prefix, dev, strerror(-ret));
			break;
		}
	}
	return ret;
}

int trf_netcfg_link_info(const char *dev, struct trf_link_info *out)
{
	struct trf_link_state st;
	int ret = trf_rtnl_link(dev, 0, &st);

	if (ret < 0)
		return ret;
	*out = (struct trf_link_info){ .up = st.up, .mtu = st.mtu };
	return 0;
}

int trf_netcfg_tx_dropped(const char *dev, uint64_t *out)
{
	struct trf_link_state st;
	int ret = trf_rtnl_link(dev, 0, &st);

	if (ret < 0)
		return ret;
	if (!st.have_stats)
		return -ENODATA;
	*out = st.tx_dropped;
	return 0;
}
