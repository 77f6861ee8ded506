// SPDX-License-Identifier: MIT
/*
 * Writes the seed corpus: one well-formed frame per protocol case, in TAP
 * framing to DIR/tap and TUN framing to DIR/tun.
 * usage: fuzz_gen_corpus DIR
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "frames.h"

static uint8_t buf[TF_MAX];

static void put(const char *dir, const char *sub, const char *name, const uint8_t *p, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, len, f) != len) {
		perror(path);
		return;
	}
	fclose(f);
}

/*
 * A frame behind a virtio-net header (offloads), in TAP framing to DIR/tap_vnet
 * and in TUN framing to DIR/tun_vnet; csum_start counts from the frame.
 */
static void vnet(const char *dir, const char *name, uint8_t flags, uint8_t gso_type,
		 uint16_t gso_size, uint16_t l4_from_ip, uint16_t csum_offset, size_t len)
{
	static uint8_t out[TF_MAX + 10];

	for (int tap = 1; tap >= 0; tap--) {
		uint16_t start = (uint16_t)(l4_from_ip + (tap ? 14 : 0));
		size_t skip = tap ? 0 : 14;

		tf_vnet_hdr(out, flags, gso_type, 0, gso_size, start, csum_offset);
		memcpy(out + 10, buf + skip, len - skip);
		put(dir, tap ? "tap_vnet" : "tun_vnet", name, out, 10 + len - skip);
	}
}

/* Write the frame in TAP framing and, without its 14-byte Ethernet header, in TUN framing. */
static void both(const char *dir, const char *name, size_t len)
{
	put(dir, "tap", name, buf, len);
	if (len > 14)
		put(dir, "tun", name, buf + 14, len - 14);
}

static size_t ipv6_l4(uint8_t next, size_t l4len)
{
	size_t len = tf_eth(buf, tf_refl_mac, tf_host_mac, 0x86dd);

	len += tf_ipv6(buf + len, next, tf_host_ip6, tf_peer_ip6, l4len);
	return len;
}

/*
 * iperf2 seeds (fuzz_iperf2): records of a clock step, a 16-bit length and a
 * frame; a client's datagrams seq[0..n) to port 5001, each one ms after the
 * last, in TAP framing to DIR/iperf2_tap and TUN framing to DIR/iperf2_tun.
 */
static void iperf2_seed(const char *dir, const char *name, const int64_t *seq, size_t n,
			size_t payload)
{
	static uint8_t out[8 * (TF_MAX + 3)];
	struct tf_ipv4 udp = { .proto = 17 };

	for (int tap = 1; tap >= 0; tap--) {
		size_t at = 0;

		for (size_t i = 0; i < n && at + TF_MAX + 3 <= sizeof(out); i++) {
			size_t len = tf_udp_frame(buf, 1, &udp, 40000, 5001, payload),
			       skip = tap ? 0 : 14;
			uint8_t *pl = buf + 14 + 28;
			uint64_t s = (uint64_t)seq[i];

			for (int b = 0; b < 4; b++) {
				pl[b] = (uint8_t)(s >> (24 - 8 * b));
				pl[12 + b] = (uint8_t)(s >> (56 - 8 * b));
			}
			memset(pl + 4, 0,
			       8); /* send time 0: the transit is whatever the clock says */
			tf_l4_csum(buf + 14);
			out[at] = 1;
			out[at + 1] = (uint8_t)((len - skip) >> 8);
			out[at + 2] = (uint8_t)(len - skip);
			memcpy(out + at + 3, buf + skip, len - skip);
			at += 3 + len - skip;
		}
		put(dir, tap ? "iperf2_tap" : "iperf2_tun", name, out, at);
	}
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "corpus";
	struct tf_ipv4 icmp = { .proto = 1 }, opts = { .proto = 1, .ihl = 15 },
		       udp = { .proto = 17 }, tcp = { .proto = 6 }, gre = { .proto = 47 },
		       frag = { .proto = 1, .frag = 185 }, first = { .proto = 1, .frag = 0x2000 };
	size_t len;

	mkdir(dir, 0755);
	both(dir, "icmp_echo", tf_icmp_frame(buf, 1, &icmp, 8, 56));
	both(dir, "icmp_echo_options", tf_icmp_frame(buf, 1, &opts, 8, 16));
	both(dir, "icmp_echo_reply", tf_icmp_frame(buf, 1, &icmp, 0, 56));
	both(dir, "icmp_first_fragment", tf_icmp_frame(buf, 1, &first, 8, 200));
	both(dir, "ipv4_later_fragment", tf_icmp_frame(buf, 1, &frag, 8, 100));
	both(dir, "udp", tf_udp_frame(buf, 1, &udp, 40000, 9000, 18));
	both(dir, "tcp", tf_udp_frame(buf, 1, &tcp, 40000, 80, 10));
	len = 14 + tf_ipv4(buf + 14, &gre, 24);
	both(dir, "gre", len);
	put(dir, "tap", "arp_request", buf, tf_arp_frame(buf, 1, tf_host_ip, tf_peer_ip));

	/* sockperf request: client + pong request. */
	len = tf_udp_frame(buf, 1, &udp, 40000, 11111, 14 + 20);
	tf_sockperf_hdr(buf + 14 + 28, 1, 3, 34);
	tf_l4_csum(buf + 14);
	both(dir, "sockperf_request", len);

	/* ICMPv6 echo request. */
	len = ipv6_l4(58, 64);
	tf_icmp_echo(buf + len, 128, 1, 1, 56);
	tf_l4_csum6(buf + 14, buf + len, 58);
	both(dir, "icmpv6_echo", len + 64);

	/* Neighbor solicitation with a source link-layer option. */
	len = ipv6_l4(58, 32);
	buf[14 + 7] = 255;
	memset(buf + len, 0, 32);
	buf[len] = 135;
	memcpy(buf + len + 8, tf_peer_ip6, 16);
	buf[len + 24] = 1;
	buf[len + 25] = 1;
	memcpy(buf + len + 26, tf_host_mac, 6);
	tf_l4_csum6(buf + 14, buf + len, 58);
	put(dir, "tap", "ndp_solicitation", buf, len + 32);

	/* IPv6 UDP behind a hop-by-hop header. */
	len = ipv6_l4(0, 8 + 8 + 10);
	buf[len] = 17;
	buf[len + 1] = 0;
	memset(buf + len + 2, 0, 6);
	tf_udp(buf + len + 8, 5000, 6000, 10);
	tf_l4_csum6(buf + 14, buf + len + 8, 17);
	both(dir, "ipv6_hbh_udp", len + 26);

	/* 802.1Q and QinQ tagged echo. */
	len = tf_icmp_frame(buf + 8, 1, &icmp, 8, 40) + 8;
	memmove(buf, buf + 8, 12);
	buf[12] = 0x88;
	buf[13] = 0xa8;
	buf[14] = 0x00;
	buf[15] = 0x64;
	buf[16] = 0x81;
	buf[17] = 0x00;
	buf[18] = 0x00;
	buf[19] = 0x0a;
	buf[20] = 0x08;
	buf[21] = 0x00;
	put(dir, "tap", "qinq_echo", buf, len);

	/* Offloads: a TCP superpacket (TSO), a UDP one (USO), a checksum left to complete. */
	vnet(dir, "tso4", 1, 1, 1448, 20, 16, tf_udp_frame(buf, 1, &tcp, 40000, 80, 6000));
	vnet(dir, "uso", 1, 5, 1000, 20, 6, tf_udp_frame(buf, 1, &udp, 40000, 9000, 4000));
	vnet(dir, "udp_csum", 1, 0, 0, 20, 6, tf_udp_frame(buf, 1, &udp, 40000, 9000, 100));

	/* iperf2: a short test, one with loss and reordering, 64-bit numbers, a small datagram. */
	iperf2_seed(dir, "test", (const int64_t[]){ 1, 2, 3, -4, -4 }, 5, 200);
	iperf2_seed(dir, "loss_reorder", (const int64_t[]){ 1, 3, 2, 6, -7 }, 5, 1400);
	iperf2_seed(dir, "wide", (const int64_t[]){ 0x1ffffffffll, 0x200000000ll, -0x200000001ll },
		    3, 200);
	iperf2_seed(dir, "small_final", (const int64_t[]){ 1, -2 }, 2, 40);
	return 0;
}
