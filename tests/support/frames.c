// SPDX-License-Identifier: MIT
#include "frames.h"

#include <string.h>

#include "tapreflect/csum.h"

const uint8_t tf_host_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x11 };
const uint8_t tf_refl_mac[6] = { 0x02, 0x74, 0x72, 0x66, 0x00, 0x01 };
const uint8_t tf_host_ip[4] = { 198, 18, 0, 1 };
const uint8_t tf_peer_ip[4] = { 198, 18, 0, 2 };

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

size_t tf_eth(uint8_t *p, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
	memcpy(p, dst, 6);
	memcpy(p + 6, src, 6);
	put16(p + 12, type);
	return 14;
}

size_t tf_ipv4(uint8_t *p, const struct tf_ipv4 *h, size_t l4len)
{
	unsigned int ihl = h->ihl ? h->ihl : 5;
	size_t hlen = ihl * 4u;
	uint16_t check;

	p[0] = (uint8_t)(0x40 | ihl);
	p[1] = 0;
	put16(p + 2, (uint16_t)(hlen + l4len));
	put16(p + 4, 0x1234);
	put16(p + 6, h->frag);
	p[8] = 64;
	p[9] = h->proto;
	p[10] = p[11] = 0;
	memcpy(p + 12, h->src ? h->src : tf_host_ip, 4);
	memcpy(p + 16, h->dst ? h->dst : tf_peer_ip, 4);
	memset(p + 20, 1 /* NOP */, hlen - 20);
	check = trf_csum_fold(trf_csum_partial(p, hlen, 0));
	memcpy(p + 10, &check, 2);
	return hlen + l4len;
}

size_t tf_icmp_echo(uint8_t *p, uint8_t type, uint16_t id, uint16_t seq, size_t payload)
{
	uint16_t check;

	p[0] = type;
	p[1] = 0;
	p[2] = p[3] = 0;
	put16(p + 4, id);
	put16(p + 6, seq);
	for (size_t i = 0; i < payload; i++)
		p[8 + i] = (uint8_t)(i * 31 + 7);
	check = trf_csum_fold(trf_csum_partial(p, 8 + payload, 0));
	memcpy(p + 2, &check, 2);
	return 8 + payload;
}

size_t tf_udp(uint8_t *p, uint16_t sport, uint16_t dport, size_t payload)
{
	put16(p, sport);
	put16(p + 2, dport);
	put16(p + 4, (uint16_t)(8 + payload));
	p[6] = p[7] = 0;
	for (size_t i = 0; i < payload; i++)
		p[8 + i] = (uint8_t)(i * 13 + 3);
	return 8 + payload;
}

size_t tf_tcp(uint8_t *p, uint16_t sport, uint16_t dport, size_t payload)
{
	memset(p, 0, 20);
	put16(p, sport);
	put16(p + 2, dport);
	p[12] = 5 << 4;
	p[13] = 0x18; /* PSH ACK */
	for (size_t i = 0; i < payload; i++)
		p[20 + i] = (uint8_t)(i * 5 + 1);
	return 20 + payload;
}

static uint32_t pseudo_sum(const uint8_t *ip, size_t l4len)
{
	uint8_t ph[12];

	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = ip[9];
	put16(ph + 10, (uint16_t)l4len);
	return trf_csum_partial(ph, sizeof(ph), 0);
}

static size_t l4_check_offset(uint8_t proto)
{
	return proto == 17 ? 6 : 16;
}

void tf_l4_csum(uint8_t *ip)
{
	size_t hlen = (ip[0] & 0xf) * 4u, l4len = get16(ip + 2) - hlen;
	uint8_t *l4 = ip + hlen;
	size_t off = l4_check_offset(ip[9]);
	uint16_t check;

	l4[off] = l4[off + 1] = 0;
	check = trf_csum_fold(trf_csum_partial(l4, l4len, pseudo_sum(ip, l4len)));
	if (check == 0 && ip[9] == 17)
		check = 0xffff;
	memcpy(l4 + off, &check, 2);
}

int tf_ipv4_csum_ok(const uint8_t *ip)
{
	return trf_csum_fold(trf_csum_partial(ip, (ip[0] & 0xf) * 4u, 0)) == 0;
}

int tf_l4_csum_ok(const uint8_t *ip)
{
	size_t hlen = (ip[0] & 0xf) * 4u, l4len = get16(ip + 2) - hlen;
	const uint8_t *l4 = ip + hlen;

	if (ip[9] == 1)
		return trf_csum_fold(trf_csum_partial(l4, l4len, 0)) == 0;
	return trf_csum_fold(trf_csum_partial(l4, l4len, pseudo_sum(ip, l4len))) == 0;
}

size_t tf_icmp_frame(uint8_t *p, int tap, const struct tf_ipv4 *h, uint8_t type, size_t payload)
{
	size_t off = tap ? tf_eth(p, tf_refl_mac, tf_host_mac, 0x0800) : 0;
	size_t hlen = (h->ihl ? h->ihl : 5) * 4u;
	size_t l4 = tf_icmp_echo(p + off + hlen, type, 0x4242, 7, payload);

	return off + tf_ipv4(p + off, h, l4);
}

size_t tf_udp_frame(uint8_t *p, int tap, const struct tf_ipv4 *h, uint16_t sport, uint16_t dport,
		    size_t payload)
{
	size_t off = tap ? tf_eth(p, tf_refl_mac, tf_host_mac, 0x0800) : 0;
	size_t hlen = (h->ihl ? h->ihl : 5) * 4u;
	size_t l4 = (h->proto == 6 ? tf_tcp : tf_udp)(p + off + hlen, sport, dport, payload);
	size_t len = off + tf_ipv4(p + off, h, l4);

	tf_l4_csum(p + off);
	return len;
}

size_t tf_arp_frame(uint8_t *p, uint16_t oper, const uint8_t *spa, const uint8_t *tpa)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t *a = p + 14;

	tf_eth(p, bcast, tf_host_mac, 0x0806);
	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, oper);
	memcpy(a + 8, tf_host_mac, 6);
	memcpy(a + 14, spa, 4);
	memset(a + 18, 0, 6);
	memcpy(a + 24, tpa, 4);
	return 42;
}

const uint8_t tf_host_ip6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
const uint8_t tf_peer_ip6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };

size_t tf_ipv6(uint8_t *p, uint8_t next, const uint8_t *src, const uint8_t *dst, size_t plen)
{
	p[0] = 0x60;
	p[1] = p[2] = p[3] = 0;
	put16(p + 4, (uint16_t)plen);
	p[6] = next;
	p[7] = 64;
	memcpy(p + 8, src, 16);
	memcpy(p + 24, dst, 16);
	return 40;
}

static uint32_t pseudo6(const uint8_t *ip, size_t l4len, uint8_t proto)
{
	uint8_t tail[8] = { 0 };

	tail[2] = (uint8_t)(l4len >> 8);
	tail[3] = (uint8_t)l4len;
	tail[7] = proto;
	return trf_csum_partial(tail, 8, trf_csum_partial(ip + 8, 32, 0));
}

static size_t check_off6(uint8_t proto)
{
	return proto == 17 ? 6 : proto == 6 ? 16 : 2;
}

void tf_l4_csum6(uint8_t *ip, uint8_t *l4, uint8_t proto)
{
	size_t l4len = 40 + get16(ip + 4) - (size_t)(l4 - ip), off = check_off6(proto);
	uint16_t check;

	l4[off] = l4[off + 1] = 0;
	check = trf_csum_fold(trf_csum_partial(l4, l4len, pseudo6(ip, l4len, proto)));
	if (check == 0 && proto == 17)
		check = 0xffff;
	memcpy(l4 + off, &check, 2);
}

int tf_l4_csum6_ok(const uint8_t *ip, const uint8_t *l4, uint8_t proto)
{
	size_t l4len = 40 + get16(ip + 4) - (size_t)(l4 - ip);

	return trf_csum_fold(trf_csum_partial(l4, l4len, pseudo6(ip, l4len, proto))) == 0;
}

void tf_sockperf_hdr(uint8_t *p, uint64_t seq, uint16_t flags, uint32_t length)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(seq >> (56 - 8 * i));
	put16(p + 8, flags);
	p[10] = (uint8_t)(length >> 24);
	p[11] = (uint8_t)(length >> 16);
	p[12] = (uint8_t)(length >> 8);
	p[13] = (uint8_t)length;
}

size_t tf_vnet_hdr(uint8_t *p, uint8_t flags, uint8_t gso_type, uint16_t hdr_len, uint16_t gso_size,
		   uint16_t csum_start, uint16_t csum_offset)
{
	p[0] = flags;
	p[1] = gso_type;
	memcpy(p + 2, &hdr_len, 2);
	memcpy(p + 4, &gso_size, 2);
	memcpy(p + 6, &csum_start, 2);
	memcpy(p + 8, &csum_offset, 2);
	return 10;
}
