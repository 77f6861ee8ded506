// SPDX-License-Identifier: MIT
#include "cases.h"

#include <string.h>

#include "frames.h"

static const struct trf_reflect_ctx tap = { .link = TRF_LINK_TAP,
					    .mac = { 0x02, 0x74, 0x72, 0x66, 0x00, 0x01 } };
static const struct trf_reflect_ctx tun = { .link = TRF_LINK_TUN };
static const struct trf_reflect_ctx tap_vnet = { .link = TRF_LINK_TAP,
						 .mac = { 0x02, 0x74, 0x72, 0x66, 0x00, 0x01 },
						 .vnet_hdr = true };

static struct trf_bench_case *
add(struct trf_bench_case *cases, unsigned int *n, unsigned int max, const char *name,
    enum trf_drop (*fn)(const struct trf_reflect_ctx *, uint8_t *, uint32_t, uint32_t *),
    const struct trf_reflect_ctx *ctx)
{
	struct trf_bench_case *c;

	if (*n == max)
		return NULL;
	c = &cases[(*n)++];
	memset(c, 0, sizeof(*c));
	c->name = name;
	c->fn = fn;
	c->ctx = ctx;
	return c;
}

unsigned int trf_bench_cases(struct trf_bench_case *cases, unsigned int max)
{
	struct tf_ipv4 icmp = { .proto = 1 }, opts = { .proto = 1, .ihl = 15 },
		       udp = { .proto = 17 }, tcp = { .proto = 6 },
		       frag = { .proto = 17, .frag = 185 };
	struct trf_bench_case *c;
	unsigned int n = 0;
	size_t off;

	if ((c = add(cases, &n, max, "respond/tap/arp_request", trf_respond_frame, &tap)))
		c->len = (uint32_t)tf_arp_frame(c->frame, 1, tf_host_ip, tf_peer_ip);
	if ((c = add(cases, &n, max, "respond/tap/icmp_echo_64", trf_respond_frame, &tap)))
		c->len = (uint32_t)tf_icmp_frame(c->frame, 1, &icmp, 8, 56);
	if ((c = add(cases, &n, max, "respond/tap/icmp_echo_ihl15", trf_respond_frame, &tap)))
		c->len = (uint32_t)tf_icmp_frame(c->frame, 1, &opts, 8, 56);
	if ((c = add(cases, &n, max, "respond/tap/udp_64", trf_respond_frame, &tap)))
		c->len = (uint32_t)tf_udp_frame(c->frame, 1, &udp, 40000, 9000, 18);
	if ((c = add(cases, &n, max, "respond/tap/udp_1400", trf_respond_frame, &tap)))
		c->len = (uint32_t)tf_udp_frame(c->frame, 1, &udp, 40000, 9000, 1358);
	if ((c = add(cases, &n, max, "respond/tap/tcp", trf_respond_frame, &tap)))
		c->len = (uint32_t)tf_udp_frame(c->frame, 1, &tcp, 40000, 80, 20);
	if ((c = add(cases, &n, max, "respond/tap/ipv4_later_fragment", trf_respond_frame, &tap)))
		c->len = (uint32_t)tf_udp_frame(c->frame, 1, &frag, 1, 2, 100);
	if ((c = add(cases, &n, max, "respond/tun/icmp_echo_64", trf_respond_frame, &tun)))
		c->len = (uint32_t)tf_icmp_frame(c->frame, 0, &icmp, 8, 56);
	if ((c = add(cases, &n, max, "respond/tun/udp_64", trf_respond_frame, &tun)))
		c->len = (uint32_t)tf_udp_frame(c->frame, 0, &udp, 40000, 9000, 18);
	if ((c = add(cases, &n, max, "respond/tap/icmpv6_echo", trf_respond_frame, &tap))) {
		off = tf_eth(c->frame, tf_refl_mac, tf_host_mac, 0x86dd);
		tf_ipv6(c->frame + off, 58, tf_host_ip6, tf_peer_ip6, 64);
		tf_icmp_echo(c->frame + off + 40, 128, 1, 1, 56);
		tf_l4_csum6(c->frame + off, c->frame + off + 40, 58);
		c->len = (uint32_t)(off + 40 + 64);
	}
	if ((c = add(cases, &n, max, "respond/tap/ndp_solicitation", trf_respond_frame, &tap))) {
		uint8_t *icmp6;

		off = tf_eth(c->frame, tf_refl_mac, tf_host_mac, 0x86dd);
		tf_ipv6(c->frame + off, 58, tf_host_ip6, tf_peer_ip6, 32);
		c->frame[off + 7] = 255;
		icmp6 = c->frame + off + 40;
		icmp6[0] = 135;
		memcpy(icmp6 + 8, tf_peer_ip6, 16);
		icmp6[24] = 1;
		icmp6[25] = 1;
		memcpy(icmp6 + 26, tf_host_mac, 6);
		tf_l4_csum6(c->frame + off, icmp6, 58);
		c->len = (uint32_t)(off + 72);
	}
	if ((c = add(cases, &n, max, "respond/tap/qinq_icmp_echo", trf_respond_frame, &tap))) {
		uint8_t tmp[256];
		size_t len = tf_icmp_frame(tmp, 1, &icmp, 8, 56);
		static const uint8_t tags[8] = { 0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x00, 0x0a };

		memcpy(c->frame, tmp, 12);
		memcpy(c->frame + 12, tags, 8);
		memcpy(c->frame + 20, tmp + 12, len - 12);
		c->len = (uint32_t)(len + 8);
	}
	if ((c = add(cases, &n, max, "macswap/tap/udp_64", trf_macswap_frame, &tap)))
		c->len = (uint32_t)tf_udp_frame(c->frame, 1, &udp, 40000, 9000, 18);
	if ((c = add(cases, &n, max, "sockperf/tun/request_64", trf_sockperf_frame, &tun))) {
		c->len = (uint32_t)tf_udp_frame(c->frame, 0, &udp, 40000, 11111, 14 + 22);
		tf_sockperf_hdr(c->frame + 28, 1, 3, 36);
		tf_l4_csum(c->frame);
	}
	/* Behind a virtio-net header (--offload): a plain UDP frame, and a TCP superpacket. */
	if ((c = add(cases, &n, max, "respond_vnet/tap/udp_64", trf_respond_vnet_frame,
		     &tap_vnet))) {
		tf_vnet_hdr(c->frame, 0, 0, 0, 0, 0, 0);
		c->len = TRF_VNET_HDR_LEN + (uint32_t)tf_udp_frame(c->frame + TRF_VNET_HDR_LEN, 1,
								   &udp, 40000, 9000, 18);
	}
	if ((c = add(cases, &n, max, "respond_vnet/tap/tcp_tso", trf_respond_vnet_frame,
		     &tap_vnet))) {
		tf_vnet_hdr(c->frame, TRF_VNET_F_NEEDS_CSUM, TRF_VNET_GSO_TCPV4, 0, 1448, 34, 16);
		c->len = TRF_VNET_HDR_LEN + (uint32_t)tf_udp_frame(c->frame + TRF_VNET_HDR_LEN, 1,
								   &tcp, 40000, 80, 1400);
	}
	if ((c = add(cases, &n, max, "drop/tap/runt", trf_respond_frame, &tap))) {
		tf_eth(c->frame, tf_refl_mac, tf_host_mac, 0x0800);
		c->len = 20;
	}
	return n;
}

uint64_t trf_bench_run(const struct trf_bench_case *c, uint8_t *work, uint64_t iterations)
{
	uint64_t acc = 0;

	for (uint64_t i = 0; i < iterations; i++) {
		uint32_t out = 0;

		/* Every frame is rewritten in place: start from a pristine copy. */
		memcpy(work, c->frame, c->len);
		acc += (uint64_t)c->fn(c->ctx, work, c->len, &out) + out + work[out ? out - 1 : 0];
	}
	return acc;
}

uint64_t trf_bench_copy(const struct trf_bench_case *c, uint8_t *work, uint64_t iterations)
{
	uint64_t acc = 0;

	for (uint64_t i = 0; i < iterations; i++) {
		memcpy(work, c->frame, c->len);
		__asm__ volatile("" : : "r"(work) : "memory");
		acc += work[c->len - 1];
	}
	return acc;
}
