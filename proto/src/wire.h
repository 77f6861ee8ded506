/* SPDX-License-Identifier: MIT */
/* Wire constants and byte-level field helpers shared by the reflect modes. */
#ifndef TRF_PROTO_WIRE_H
#define TRF_PROTO_WIRE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define TRF_ETH_HLEN 14
#define TRF_ETH_ALEN 6
#define TRF_ETHERTYPE_IPV4 0x0800
#define TRF_ETHERTYPE_ARP 0x0806
#define TRF_ETHERTYPE_IPV6 0x86dd
#define TRF_ETHERTYPE_VLAN 0x8100 /* 802.1Q */
#define TRF_ETHERTYPE_QINQ 0x88a8 /* 802.1ad service tag */
#define TRF_VLAN_HLEN 4
#define TRF_MAX_VLAN_TAGS 2
#define TRF_ARP_LEN 28 /* Ethernet/IPv4 ARP payload */
#define TRF_IPV4_MIN_HLEN 20
#define TRF_IPPROTO_ICMP 1
#define TRF_IPPROTO_TCP 6
#define TRF_IPPROTO_UDP 17
#define TRF_IPPROTO_HOPOPTS 0
#define TRF_IPPROTO_ROUTING 43
#define TRF_IPPROTO_FRAGMENT 44
#define TRF_IPPROTO_ICMPV6 58
#define TRF_IPPROTO_DSTOPTS 60
#define TRF_IPV6_HLEN 40
#define TRF_IPV6_MAX_EXT_HEADERS 8 /* walked at most; more is dropped as malformed */
#define TRF_ICMPV6_ECHO_REQUEST 128
#define TRF_ICMPV6_ECHO_REPLY 129
#define TRF_ND_ROUTER_SOLICIT 133
#define TRF_ND_REDIRECT 137
#define TRF_ND_NEIGHBOR_SOLICIT 135
#define TRF_ND_NEIGHBOR_ADVERT 136
#define TRF_ND_NS_LEN 24 /* type, code, checksum, reserved, target */
#define TRF_ND_OPT_TLLA 2
#define TRF_ND_OPT_LLA_LEN 8
#define TRF_ND_NA_SOLICITED 0x40
#define TRF_ND_NA_OVERRIDE 0x20
#define TRF_SOCKPERF_HLEN 14 /* sequence u64, flags u16, length u32, big-endian */
#define TRF_SOCKPERF_CLIENT 1
#define TRF_SOCKPERF_PONG_REQUEST 2
#define TRF_SOCKPERF_WARMUP 4
#define TRF_ICMP_ECHO_REPLY 0
#define TRF_ICMP_ECHO_REQUEST 8
#define TRF_ICMP_HLEN 8
#define TRF_UDP_HLEN 8
#define TRF_TCP_MIN_HLEN 20

/* Callers check the length before every load or store. */
static inline uint16_t trf_load_be16(const uint8_t *p)
{
	return (uint16_t)((unsigned int)p[0] << 8 | p[1]);
}

static inline void trf_store_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint32_t trf_load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void trf_store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void trf_swap_bytes(uint8_t *a, uint8_t *b, size_t n)
{
	uint8_t tmp[16];

	memcpy(tmp, a, n);
	memcpy(a, b, n);
	memcpy(b, tmp, n);
}

/* Group bit: multicast, and broadcast which is a multicast address too. */
static inline bool trf_mac_is_group(const uint8_t *mac)
{
	return mac[0] & 1;
}

static inline bool trf_mac_is_zero(const uint8_t *mac)
{
	static const uint8_t zero[TRF_ETH_ALEN];

	return memcmp(mac, zero, TRF_ETH_ALEN) == 0;
}

#endif /* TRF_PROTO_WIRE_H */
