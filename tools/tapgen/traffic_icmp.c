// SPDX-License-Identifier: MIT
/*
 * ICMP/ICMPv6 echo traffic on a raw socket (CAP_NET_RAW): flow i uses echo id
 * icmp_id + i, the low 16 bits of our sequence number are the echo sequence.
 * A raw socket also sees others' ICMP: what is not an echo reply to one of
 * our ids is skipped, not counted as foreign.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tapgen.h"
#include "tapreflect/csum.h"

#define ICMP_HLEN 8
#define ICMP_ECHO_REQUEST 8
#define ICMP_ECHO_REPLY 0
#define ICMPV6_ECHO_REQUEST 128
#define ICMPV6_ECHO_REPLY 129

static int icmp_open(struct gen_opts *o)
{
	bool v4 = o->dst.ss_family == AF_INET;
	int fd =
	    socket(o->dst.ss_family, SOCK_RAW | SOCK_CLOEXEC, v4 ? IPPROTO_ICMP : IPPROTO_ICMPV6);

	if (fd < 0) {
		fprintf(stderr, "tapgen: cannot open a raw ICMP socket: %s%s\n", strerror(errno),
			errno == EPERM ? " — --icmp needs root (CAP_NET_RAW)" : "");
		return -errno;
	}
	o->icmp_id = (uint16_t)(getpid() << 4);
	return fd;
}

static void icmp_fill(const struct gen_opts *o, uint8_t *h, size_t len,
		      struct sockaddr_storage *name, unsigned int flow, uint64_t seq)
{
	uint16_t id = (uint16_t)(o->icmp_id + flow), check;
	bool v4 = o->dst.ss_family == AF_INET;

	(void)name;
	h[0] = v4 ? ICMP_ECHO_REQUEST : ICMPV6_ECHO_REQUEST;
	h[1] = 0;
	h[2] = h[3] = 0;
	h[4] = (uint8_t)(id >> 8);
	h[5] = (uint8_t)id;
	h[6] = (uint8_t)(seq >> 8);
	h[7] = (uint8_t)seq;
	/* IPv4 only: the kernel fills in ICMPv6 checksums. */
	if (v4) {
		check = trf_csum_fold(trf_csum_partial(h, len, 0));
		memcpy(h + 2, &check, 2);
	}
}

static int icmp_match(const struct gen_opts *o, const uint8_t *p, size_t len)
{
	bool v4 = o->dst.ss_family == AF_INET;
	size_t off = 0;
	uint16_t id;

	if (v4) {
		/* IPv4 raw sockets hand over the IP header too. */
		if (len < 20 || (p[0] >> 4) != 4)
			return -1;
		off = (size_t)(p[0] & 15) * 4;
	}
	if (len < off + ICMP_HLEN || !tapgen_payload_ours(o, len - off - ICMP_HLEN))
		return -1;
	if (p[off] != (v4 ? ICMP_ECHO_REPLY : ICMPV6_ECHO_REPLY))
		return -1;
	id = (uint16_t)(p[off + 4] << 8 | p[off + 5]);
	if ((uint16_t)(id - o->icmp_id) >= o->flows)
		return -1;
	return (int)(off + ICMP_HLEN);
}

/* Flow i is echo id --icmp id + i, four bytes into the ICMP header before our data. */
static int icmp_flow_of(const struct gen_opts *o, const uint8_t *p, int off,
			const struct sockaddr_storage *from)
{
	const uint8_t *icmp = p + off - ICMP_HLEN;

	(void)from;
	return (uint16_t)((uint16_t)(icmp[4] << 8 | icmp[5]) - o->icmp_id);
}

const struct tapgen_traffic tapgen_icmp = {
	.name = "icmp",
	.label = "ICMP echo",
	.hlen = ICMP_HLEN,
	.counts_foreign = false,
	.open = icmp_open,
	.fill = icmp_fill,
	.match = icmp_match,
	.flow_of = icmp_flow_of,
};
