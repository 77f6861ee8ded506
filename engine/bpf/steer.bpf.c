/* SPDX-License-Identifier: MIT */
/*
 * The steering program tun runs for every frame the kernel sends to a
 * multi-queue device (TUNSETSTEERINGEBPF): it returns a 16-bit hash, and tun
 * takes that modulo the queue count.  Loaded by engine/src/steer.c.
 *
 * The hash is the XOR of the IPv4 or IPv6 addresses and, for TCP and UDP,
 * of the word that holds both ports, folded to 16 bits.  XOR keeps
 * consecutive ports on consecutive queues: N flows that differ in their
 * port alone spread evenly.  Not folded in: the ports of an IPv4 fragment
 * after the first (it has none; its addresses still are), the ports behind
 * IPv6 extension headers (they are not followed), anything of a frame that
 * is neither IPv4 nor IPv6 (hash 0: queue 0).
 *
 * Every load is relative to the network header, so the program reads TAP
 * frames (behind an Ethernet header) and TUN frames (none) alike, and the
 * protocol comes from skb->protocol, not from the frame.
 *
 * The loads are the classic packet loads (BPF_LD_ABS, BPF_LD_IND), which
 * socket-filter programs may use: they read paged data too (where
 * bpf_skb_load_bytes_relative() reads only the linear part), return the
 * value in host order, and a load past the end of the frame ends the
 * program with 0.  So a frame too short for a field the program reads goes
 * to queue 0 (an IPv4 TCP segment cut inside its ports too), with no check
 * written here.  The IHL is taken as it is, unchecked: a bogus one gives
 * another hash, never a failure.
 */
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

/* LLVM's BPF intrinsics for BPF_LD_ABS/BPF_LD_IND (an offset in a register becomes LD_IND). */
unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");
unsigned long long load_word(void *skb, unsigned long long off) asm("llvm.bpf.load.word");

/* Offset OFF into the network header, as the loads take it (negative: SKF_NET_OFF). */
#define NET(off) ((long long)SKF_NET_OFF + (off))

static __always_inline __u32 ipv4_fields(struct __sk_buff *skb)
{
	__u32 hash, ihl_bytes;
	__u8 proto;

	hash = load_word(skb, NET(12)) ^ load_word(skb, NET(16));
	if (load_half(skb, NET(6)) & 0x1fff) /* fragment offset: a fragment after the first */
		return hash;
	proto = load_byte(skb, NET(9));
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return hash;
	ihl_bytes = (load_byte(skb, NET(0)) & 0x0f) * 4;
	return hash ^ (__u32)load_word(skb, NET(ihl_bytes));
}

static __always_inline __u32 ipv6_fields(struct __sk_buff *skb)
{
	__u32 hash = 0;
	__u8 next;

	/* the source and destination addresses: eight words from byte 8 */
	hash ^= load_word(skb, NET(8));
	hash ^= load_word(skb, NET(12));
	hash ^= load_word(skb, NET(16));
	hash ^= load_word(skb, NET(20));
	hash ^= load_word(skb, NET(24));
	hash ^= load_word(skb, NET(28));
	hash ^= load_word(skb, NET(32));
	hash ^= load_word(skb, NET(36));
	next = load_byte(skb, NET(6));
	if (next != IPPROTO_TCP && next != IPPROTO_UDP)
		return hash;
	return hash ^ (__u32)load_word(skb, NET(40));
}

SEC("socket")
int trf_steer(struct __sk_buff *skb)
{
	__u32 hash = 0;

	if (skb->protocol == bpf_htons(ETH_P_IP))
		hash = ipv4_fields(skb);
	else if (skb->protocol == bpf_htons(ETH_P_IPV6))
		hash = ipv6_fields(skb);
	/* the high half into the low, then the high byte of that into the low one */
	hash ^= hash >> 16;
	hash ^= hash >> 8;
	return hash & 0xffff;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
