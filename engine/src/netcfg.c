// SPDX-License-Identifier: MIT
/*
 * Host-side setup of the device: MTU and link state by ioctl, addresses by
 * rtnetlink (ioctls cannot add a second IPv4 address or skip IPv6 DAD).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tapreflect/tapreflect.h"

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
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0 ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr) < 0))
		ret = trf_errf(err, -errno, "cannot bring %s up: %s%s", dev, strerror(errno),
			       errno == EPERM ? " — --addr and --mtu need CAP_NET_ADMIN; configure "
						"the device as root and start without them"
					      : "");
close_fd:
	close(fd);
	return ret;
}

static void nl_put_attr(struct nlmsghdr *nh, size_t cap, unsigned short type, const void *data,
			size_t len)
{
	struct rtattr *rta = (struct rtattr *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));

	if (NLMSG_ALIGN(nh->nlmsg_len) + RTA_SPACE(len) > cap)
		return; /* cannot happen with the fixed-size request below */
	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + (unsigned int)RTA_SPACE(len);
}

static int addr_add(int nl, unsigned int ifindex, const struct trf_addr *a, unsigned int seq)
{
	struct {
		struct nlmsghdr nh;
		struct ifaddrmsg ifa;
		char attrs[128];
	} req = { 0 };
	union {
		struct nlmsghdr nh;
		char buf[512];
	} ack;
	size_t alen = a->family == AF_INET ? 4 : 16;
	ssize_t n;

	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.ifa));
	req.nh.nlmsg_type = RTM_NEWADDR;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
	req.nh.nlmsg_seq = seq;
	req.ifa.ifa_family = (unsigned char)a->family;
	req.ifa.ifa_prefixlen = (unsigned char)a->prefix;
	req.ifa.ifa_index = ifindex;
	/* The far end of a reflector answers everything: DAD can only fail. */
	req.ifa.ifa_flags = a->family == AF_INET6 ? IFA_F_NODAD : 0;
	nl_put_attr(&req.nh, sizeof(req), IFA_LOCAL, &a->u, alen);
	nl_put_attr(&req.nh, sizeof(req), IFA_ADDRESS, &a->u, alen);

	if (send(nl, &req, req.nh.nlmsg_len, 0) < 0)
		return -errno;
	n = recv(nl, &ack, sizeof(ack), 0);
	if (n < 0)
		return -errno;
	if ((size_t)n >= NLMSG_LENGTH(sizeof(struct nlmsgerr)) &&
	    ack.nh.nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(&ack.nh);

		return e->error == -EEXIST ? 0 : e->error;
	}
	return -EPROTO;
}

int trf_netcfg_apply(const char *dev, unsigned int mtu, const struct trf_addr *addrs,
		     unsigned int naddrs, struct trf_err *err)
{
	unsigned int ifindex;
	int nl, ret;

	ret = link_set(dev, mtu, err);
	if (ret < 0 || naddrs == 0)
		return ret;
	ifindex = if_nametoindex(dev);
	if (!ifindex)
		return trf_errf(err, -errno, "cannot find %s: %s", dev, strerror(errno));
	nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (nl < 0)
		return trf_errf(err, -errno, "cannot open rtnetlink: %s", strerror(errno));
	for (unsigned int i = 0; i < naddrs; i++) {
		ret = addr_add(nl, ifindex, &addrs[i], i + 1);
		if (ret < 0) {
			char text[INET6_ADDRSTRLEN];

			inet_ntop(addrs[i].family, &addrs[i].u, text, sizeof(text));
			trf_errf(err, ret, "cannot add address %s/%u to %s: %s", text,
				 addrs[i].prefix, dev, strerror(-ret));
			break;
		}
	}
	close(nl);
	return ret;
}

int trf_netcfg_tx_dropped(const char *dev, uint64_t *out)
{
	char path[96];
	unsigned long long v;
	FILE *f;
	int ret = 0;

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/tx_dropped", dev);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (fscanf(f, "%llu", &v) == 1)
		*out = v;
	else
		ret = -EIO;
	fclose(f);
	return ret;
}
