// SPDX-License-Identifier: MIT
/*
 * Device state from rtnetlink (libmnl), in the network namespace of the
 * calling thread.  sysfs is no substitute: /sys/class/net shows the
 * namespace that /sys was mounted in, which after `unshare -n` without a
 * remount is another namespace's.
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

struct parse_ctx {
	struct trf_link_state *st;
	const struct nlattr *tb[IFLA_MAX + 1];
};

static int collect_attr(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, IFLA_MAX) < 0)
		return MNL_CB_OK; /* newer than our headers: not ours to read */
	tb[type] = attr;
	return MNL_CB_OK;
}

static int collect_tun_attr(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, IFLA_TUN_MAX) < 0)
		return MNL_CB_OK;
	tb[type] = attr;
	return MNL_CB_OK;
}

static uint8_t tun_u8(const struct nlattr *const *tb, int type)
{
	return tb[type] && mnl_attr_validate(tb[type], MNL_TYPE_U8) == 0 ? mnl_attr_get_u8(tb[type])
									 : 0;
}

/* IFLA_LINKINFO of a TUN/TAP device: kind "tun", its flags in IFLA_INFO_DATA. */
static void parse_linkinfo(const struct nlattr *linkinfo, struct trf_link_state *st)
{
	const struct nlattr *info[IFLA_INFO_MAX + 1] = { 0 };
	const struct nlattr *tun[IFLA_TUN_MAX + 1] = { 0 };
	const struct nlattr *attr;

	mnl_attr_for_each_nested(attr, linkinfo)
	{
		int type = mnl_attr_get_type(attr);

		if (type > 0 && type <= IFLA_INFO_MAX)
			info[type] = attr;
	}
	if (!info[IFLA_INFO_KIND] || mnl_attr_validate(info[IFLA_INFO_KIND], MNL_TYPE_STRING) < 0 ||
	    strcmp(mnl_attr_get_str(info[IFLA_INFO_KIND]), "tun") != 0)
		return;
	st->is_tun = true;
	if (!info[IFLA_INFO_DATA] ||
	    mnl_attr_parse_nested(info[IFLA_INFO_DATA], collect_tun_attr, tun) < 0)
		return;
	st->tun_flags = tun_u8(tun, IFLA_TUN_TYPE) == IFF_TAP ? IFF_TAP : IFF_TUN;
	if (!tun_u8(tun, IFLA_TUN_PI))
		st->tun_flags |= IFF_NO_PI;
	if (tun_u8(tun, IFLA_TUN_VNET_HDR))
		st->tun_flags |= IFF_VNET_HDR;
	if (tun_u8(tun, IFLA_TUN_MULTI_QUEUE))
		st->tun_flags |= IFF_MULTI_QUEUE;
	if (tun_u8(tun, IFLA_TUN_PERSIST))
		st->tun_flags |= IFF_PERSIST;
	st->have_tun_flags = true;
	if (tun[IFLA_TUN_NUM_QUEUES] &&
	    mnl_attr_validate(tun[IFLA_TUN_NUM_QUEUES], MNL_TYPE_U32) == 0) {
		st->tun_queues = mnl_attr_get_u32(tun[IFLA_TUN_NUM_QUEUES]);
		st->have_tun_queues = true;
	}
}

static int parse_link(const struct nlmsghdr *nlh, void *data)
{
	struct parse_ctx *ctx = data;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct trf_link_state *st = ctx->st;

	if (nlh->nlmsg_type != RTM_NEWLINK ||
	    mnl_attr_parse(nlh, sizeof(*ifi), collect_attr, ctx->tb) < 0)
		return MNL_CB_ERROR;
	st->ifindex = (unsigned int)ifi->ifi_index;
	st->up = ifi->ifi_flags & IFF_UP;
	if (ctx->tb[IFLA_MTU] && mnl_attr_validate(ctx->tb[IFLA_MTU], MNL_TYPE_U32) == 0)
		st->mtu = mnl_attr_get_u32(ctx->tb[IFLA_MTU]);
	if (ctx->tb[IFLA_STATS64] &&
	    mnl_attr_get_payload_len(ctx->tb[IFLA_STATS64]) >= sizeof(struct rtnl_link_stats64)) {
		struct rtnl_link_stats64 stats;

		memcpy(&stats, mnl_attr_get_payload(ctx->tb[IFLA_STATS64]), sizeof(stats));
		st->tx_dropped = stats.tx_dropped;
		st->have_stats = true;
	}
	if (ctx->tb[IFLA_LINKINFO])
		parse_linkinfo(ctx->tb[IFLA_LINKINFO], st);
	return MNL_CB_OK;
}

/* Room for one link's attributes with its statistics; mnl suggests at least a page. */
#define RTNL_BUF 16384

/*
 * Send the request in buf and run cb over the answer (NULL: an ACK is
 * expected).  Returns 0 or -errno (from the kernel's NLMSG_ERROR, too).
 */
static int rtnl_talk(char *buf, mnl_cb_t cb, void *data)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	struct mnl_socket *nl;
	unsigned int portid, seq = (unsigned int)time(NULL);
	ssize_t n;
	int ret;

	nlh->nlmsg_seq = seq;
	nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto close_socket;
	}
	portid = mnl_socket_get_portid(nl);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		ret = -errno;
		goto close_socket;
	}
	n = mnl_socket_recvfrom(nl, buf, RTNL_BUF);
	if (n < 0) {
		ret = -errno;
		goto close_socket;
	}
	errno = 0;
	ret = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data) < 0 ? (errno ? -errno : -EIO) : 0;
close_socket:
	mnl_socket_close(nl);
	return ret;
}

int trf_rtnl_link(const char *name, unsigned int ifindex, struct trf_link_state *st)
{
	char buf[RTNL_BUF];
	struct parse_ctx ctx = { .st = st };
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;

	memset(st, 0, sizeof(*st));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)ifindex;
	if (!ifindex) {
		if (!name || !*name || strlen(name) >= IFNAMSIZ)
			return -ENODEV;
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	}
	/* An unknown device comes back as an error message: -ENODEV. */
	return rtnl_talk(buf, parse_link, &ctx);
}

int trf_rtnl_addr_add(unsigned int ifindex, const struct trf_addr *a)
{
	char buf[RTNL_BUF];
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	size_t alen = a->family == AF_INET ? 4 : 16;
	int ret;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (unsigned char)a->family;
	ifa->ifa_prefixlen = (unsigned char)a->prefix;
	ifa->ifa_index = ifindex;
	/* The far end of a reflector answers everything: DAD can only fail. */
	ifa->ifa_flags = a->family == AF_INET6 ? IFA_F_NODAD : 0;
	mnl_attr_put(nlh, IFA_LOCAL, alen, &a->u);
	mnl_attr_put(nlh, IFA_ADDRESS, alen, &a->u);
	ret = rtnl_talk(buf, NULL, NULL);
	return ret == -EEXIST ? 0 : ret; /* already there: what was asked for holds */
}
