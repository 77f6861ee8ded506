/* SPDX-License-Identifier: MIT */
/*
 * The steering program's hash, frame by frame (BPF_PROG_TEST_RUN), against
 * what steer.bpf.c says it folds in.  The network tests see only how flows
 * spread over the queues, which a wrong byte order, offset or fragment test
 * can leave even; here each field is checked on its own.  Needs CAP_BPF
 * (exit 77 without it, but under CI=true a machine without it fails).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "frames.h"
#include "steer.skel.h"

static int failures;

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

static uint32_t word(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t fold(uint32_t hash)
{
	hash ^= hash >> 16;
	hash ^= hash >> 8;
	return hash & 0xffff;
}

static uint32_t ports(uint16_t sport, uint16_t dport)
{
	return (uint32_t)sport << 16 | dport;
}

static uint32_t addrs6(void)
{
	uint32_t hash = 0;

	for (int i = 0; i < 16; i += 4)
		hash ^= word(tf_host_ip6 + i) ^ word(tf_peer_ip6 + i);
	return hash;
}

static void expect(int prog, const char *what, const uint8_t *frame, size_t len, uint32_t want)
{
	LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = frame, .data_size_in = (uint32_t)len);
	int ret = bpf_prog_test_run_opts(prog, &run);

	if (ret < 0) {
		printf("FAIL %s: BPF_PROG_TEST_RUN: %s\n", what, strerror(-ret));
		failures++;
	} else if (run.retval != want) {
		printf("FAIL %s: hash %#x, not %#x\n", what, run.retval, want);
		failures++;
	} else {
		printf("ok   %s: %#x\n", what, want);
	}
}

static size_t udp6_frame(uint8_t *f, uint8_t next, uint16_t sport, uint16_t dport)
{
	size_t off = tf_eth(f, tf_refl_mac, tf_host_mac, 0x86dd);
	size_t l4 = tf_udp(f + off + 40, sport, dport, 8);

	return off + tf_ipv6(f + off, next, tf_host_ip6, tf_peer_ip6, l4) + l4;
}

int main(void)
{
	const uint32_t addrs4 = word(tf_host_ip) ^ word(tf_peer_ip);
	uint8_t f[256];
	struct steer_bpf *skel;
	size_t len;
	int prog;

	libbpf_set_print(quiet);
	skel = steer_bpf__open_and_load();
	if (!skel) {
		int e = errno;
		const char *ci = getenv("CI");

		printf("cannot load the steering program: %s\n", strerror(e));
		if (e == EPERM && ci && strcmp(ci, "true") == 0) {
			printf("CI=true: this test must run (it needs CAP_BPF)\n");
			return 1;
		}
		return e == EPERM ? 77 : 1;
	}
	prog = bpf_program__fd(skel->progs.trf_steer);

	len = tf_udp_frame(f, 1, &(struct tf_ipv4){ .proto = IPPROTO_UDP }, 9000, 9001, 18);
	expect(prog, "IPv4 UDP: addresses and ports", f, len, fold(addrs4 ^ ports(9000, 9001)));
	len =
	    tf_udp_frame(f, 1, &(struct tf_ipv4){ .proto = IPPROTO_TCP, .ihl = 6 }, 443, 50000, 0);
	expect(prog, "IPv4 TCP with options: the ports after the IHL", f, len,
	       fold(addrs4 ^ ports(443, 50000)));
	len = tf_udp_frame(f, 1, &(struct tf_ipv4){ .proto = IPPROTO_UDP, .frag = 0x2000 }, 9000,
			   9001, 18);
	expect(prog, "IPv4 first fragment: ports", f, len, fold(addrs4 ^ ports(9000, 9001)));
	len = tf_udp_frame(f, 1, &(struct tf_ipv4){ .proto = IPPROTO_UDP, .frag = 0x0003 }, 9000,
			   9001, 18);
	expect(prog, "IPv4 later fragment: addresses only", f, len, fold(addrs4));
	len = tf_icmp_frame(f, 1, &(struct tf_ipv4){ .proto = IPPROTO_ICMP }, 8, 16);
	expect(prog, "IPv4 ICMP: addresses only", f, len, fold(addrs4));
	len = tf_udp_frame(f, 1, &(struct tf_ipv4){ .proto = IPPROTO_UDP }, 9000, 9001, 18);
	expect(prog, "IPv4 UDP cut inside its ports: queue 0", f, 14 + 20 + 3, 0);

	len = udp6_frame(f, IPPROTO_UDP, 9000, 9001);
	expect(prog, "IPv6 UDP: addresses and ports", f, len, fold(addrs6() ^ ports(9000, 9001)));
	expect(prog, "IPv6 UDP cut inside its ports: queue 0", f, 14 + 40 + 2, 0);
	len = udp6_frame(f, 0 /* hop-by-hop options */, 9000, 9001);
	expect(prog, "IPv6 behind an extension header: addresses only", f, len, fold(addrs6()));

	len = tf_arp_frame(f, 1, tf_host_ip, tf_peer_ip);
	expect(prog, "ARP: queue 0", f, len, 0);

	steer_bpf__destroy(skel);
	return failures ? 1 : 0;
}
