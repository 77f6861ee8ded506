// SPDX-License-Identifier: MIT
/*
 * UDP traffic: one flow per destination port (--port + i), so that the
 * kernel's flow hash spreads the flows over the device's queues.  A reply is
 * any datagram of exactly --size bytes (--imix: of one of the mix's sizes)
 * on our socket; anything else is counted as foreign.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

#include "tapgen.h"

static int udp_open(struct gen_opts *o)
{
	int fd = socket(o->dst.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		fprintf(stderr, "tapgen: cannot open a UDP socket: %s\n", strerror(errno));
		return -errno;
	}
	if (o->gso > 1) {
		int seg = (int)o->payload;

		/* Every send of gso x payload bytes leaves as one superpacket of gso datagrams. */
		if (setsockopt(fd, SOL_UDP, UDP_SEGMENT, &seg, sizeof(seg)) < 0) {
			int err = errno;

			fprintf(stderr,
				"tapgen: --gso: UDP_SEGMENT refused: %s (needs Linux 4.18)\n",
				strerror(err));
			close(fd);
			return -err;
		}
	}
	return fd;
}

static void udp_fill(const struct gen_opts *o, uint8_t *dgram, size_t len,
		     struct sockaddr_storage *name, unsigned int flow, uint64_t seq)
{
	uint16_t port = htons((uint16_t)(o->port + flow));

	(void)dgram;
	(void)len;
	(void)seq;
	if (name->ss_family == AF_INET)
		((struct sockaddr_in *)name)->sin_port = port;
	else
		((struct sockaddr_in6 *)name)->sin6_port = port;
}

static int udp_match(const struct gen_opts *o, const uint8_t *p, size_t len)
{
	(void)p;
	return tapgen_payload_ours(o, len) ? 0 : -1;
}

/* Flow i is destination port --port + i: the reply comes from it. */
static int udp_flow_of(const struct gen_opts *o, const uint8_t *p, int off,
		       const struct sockaddr_storage *from)
{
	uint16_t port = from->ss_family == AF_INET
			    ? ntohs(((const struct sockaddr_in *)from)->sin_port)
			    : ntohs(((const struct sockaddr_in6 *)from)->sin6_port);

	(void)p;
	(void)off;
	return (uint16_t)(port - o->port) < o->flows ? (uint16_t)(port - o->port) : -1;
}

const struct tapgen_traffic tapgen_udp = {
	.name = "udp",
	.label = "UDP",
	.hlen = 0,
	.counts_foreign = true,
	.open = udp_open,
	.fill = udp_fill,
	.match = udp_match,
	.flow_of = udp_flow_of,
};
