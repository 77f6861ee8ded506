/* SPDX-License-Identifier: MIT */
/* Builders of well-formed test frames, with correct checksums. */
#ifndef TRF_TEST_FRAMES_H
#define TRF_TEST_FRAMES_H

#include <stddef.h>
#include <stdint.h>

#define TF_MAX 20000

extern const uint8_t tf_host_mac[6]; /* the kernel side of the TAP device */
extern const uint8_t tf_refl_mac[6]; /* the reflector */
extern const uint8_t tf_host_ip[4]; /* 198.18.0.1 */
extern const uint8_t tf_peer_ip[4]; /* 198.18.0.2 */

struct tf_ipv4 {
	uint8_t proto;
	uint8_t ihl; /* 5..15 words; options are filled with NOPs */
	uint16_t frag; /* flags + offset field as on the wire */
	const uint8_t *src; /* default tf_host_ip */
	const uint8_t *dst; /* default tf_peer_ip */
};

/* Ethernet header at p; returns 14. */
size_t tf_eth(uint8_t *p, const uint8_t *dst, const uint8_t *src, uint16_t type);

/* IPv4 header + l4 (already built, l4len bytes at p + hlen); fixes lengths and checksum. */
size_t tf_ipv4(uint8_t *p, const struct tf_ipv4 *h, size_t l4len);

/* ICMP echo request/reply body of `payload` bytes at p; returns its length. */
size_t tf_icmp_echo(uint8_t *p, uint8_t type, uint16_t id, uint16_t seq, size_t payload);

/* UDP or TCP header with ports, payload of `payload` bytes; checksum left for tf_l4_csum. */
size_t tf_udp(uint8_t *p, uint16_t sport, uint16_t dport, size_t payload);
size_t tf_tcp(uint8_t *p, uint16_t sport, uint16_t dport, size_t payload);

/* Compute the UDP/TCP checksum over the pseudo header of the IPv4 packet at ip. */
void tf_l4_csum(uint8_t *ip);

/* Full-recomputation checks of a finished IPv4 packet. */
int tf_ipv4_csum_ok(const uint8_t *ip);
int tf_l4_csum_ok(const uint8_t *ip);

/* A whole frame: TAP (with Ethernet) or TUN. Returns its length. */
size_t tf_icmp_frame(uint8_t *p, int tap, const struct tf_ipv4 *h, uint8_t type, size_t payload);
size_t tf_udp_frame(uint8_t *p, int tap, const struct tf_ipv4 *h, uint16_t sport, uint16_t dport,
		    size_t payload);
size_t tf_arp_frame(uint8_t *p, uint16_t oper, const uint8_t *spa, const uint8_t *tpa);

extern const uint8_t tf_host_ip6[16]; /* 2001:db8::1 */
extern const uint8_t tf_peer_ip6[16]; /* 2001:db8::2 */

/* IPv6 header at p for a payload of plen bytes; returns 40. */
size_t tf_ipv6(uint8_t *p, uint8_t next, const uint8_t *src, const uint8_t *dst, size_t plen);

/* L4 checksum (ICMPv6, UDP, TCP) of the IPv6 packet at ip whose L4 header is at l4. */
void tf_l4_csum6(uint8_t *ip, uint8_t *l4, uint8_t proto);
int tf_l4_csum6_ok(const uint8_t *ip, const uint8_t *l4, uint8_t proto);

/* A virtio-net header (10 bytes, host byte order as tun uses) at p; returns 10. */
size_t tf_vnet_hdr(uint8_t *p, uint8_t flags, uint8_t gso_type, uint16_t hdr_len, uint16_t gso_size,
		   uint16_t csum_start, uint16_t csum_offset);

/* A sockperf message header at p: seq, flags, length (payload bytes follow). */
void tf_sockperf_hdr(uint8_t *p, uint64_t seq, uint16_t flags, uint32_t length);

#endif
