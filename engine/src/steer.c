/* SPDX-License-Identifier: MIT */
/*
 * Which queue of a multi-queue device a frame from the kernel goes to.
 *
 * Left to itself, tun learns it: every frame a queue writes is hashed (a
 * flow dissection and a SipHash) and the hash recorded in a flow table, so
 * that the kernel's frames of that flow go back to the queue that wrote it.
 * That is work on tapreflect's CPU for every frame it writes, and a
 * reflector gains nothing from it: any queue answers any flow.  An eBPF
 * steering program (TUNSETSTEERINGEBPF) replaces the table: tun then skips
 * the hashing of written frames, and asks the program for each outgoing
 * frame's queue instead.
 *
 * The program folds the addresses and, for TCP and UDP (not fragments
 * after the first), the ports into 16 bits; tun takes that modulo the
 * queue count.  Folding by XOR keeps consecutive ports on consecutive
 * queues, so N flows that differ in their port alone spread evenly.
 * Frames it cannot read (short, or neither IPv4 nor IPv6) go to queue 0.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

#ifndef TUNSETSTEERINGEBPF
#define TUNSETSTEERINGEBPF _IOR('T', 224, int)
#endif

#define INSN(c, d, s, o, i) \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define MOV64_REG(d, s) INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOV64_IMM(d, i) INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define ALU32_IMM(op, d, i) INSN(BPF_ALU | (op) | BPF_K, d, 0, 0, i)
#define XOR32_REG(d, s) INSN(BPF_ALU | BPF_XOR | BPF_X, d, s, 0, 0)
#define LDX_W(d, s, o) INSN(BPF_LDX | BPF_MEM | BPF_W, d, s, o, 0)
/* Packet loads relative to the network header, into r0, in host order. */
#define LD_NET(sz, o) INSN(BPF_LD | (sz) | BPF_ABS, 0, 0, 0, SKF_NET_OFF + (o))
#define LD_NET_IND(sz, s, o) INSN(BPF_LD | (sz) | BPF_IND, 0, s, 0, SKF_NET_OFF + (o))
#define JEQ_IMM(d, i, o) INSN(BPF_JMP | BPF_JEQ | BPF_K, d, 0, o, i)
#define JSET_IMM(d, i, o) INSN(BPF_JMP | BPF_JSET | BPF_K, d, 0, o, i)
#define JA(o) INSN(BPF_JMP | BPF_JA, 0, 0, o, 0)
#define EXIT() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* skb->protocol as the program reads it: network order (htons is no constant). */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define PROTO(p) __builtin_bswap16(p)
#else
#define PROTO(p) (p)
#endif

/*
 * Registers: r6 the skb (packet loads want it there), r7 the hash, r8 the
 * L4 offset.  A jump's offset counts from the instruction after it.
 */
static const struct bpf_insn steer_prog[] = {
	/* 0 */ MOV64_REG(BPF_REG_6, BPF_REG_1),
	/* 1 */ MOV64_IMM(BPF_REG_7, 0),
	/* 2 */ LDX_W(BPF_REG_2, BPF_REG_6, offsetof(struct __sk_buff, protocol)),
	/* 3 */ JEQ_IMM(BPF_REG_2, PROTO(ETH_P_IP), 2), /* -> 6 */
	/* 4 */ JEQ_IMM(BPF_REG_2, PROTO(ETH_P_IPV6), 18), /* -> 23 */
	/* 5 */ JA(39), /* -> 45: fold (0) */
	/* IPv4: the addresses */
	/* 6 */ LD_NET(BPF_W, 12),
	/* 7 */ XOR32_REG(BPF_REG_7, BPF_REG_0),
	/* 8 */ LD_NET(BPF_W, 16),
	/* 9 */ XOR32_REG(BPF_REG_7, BPF_REG_0),
	/* 10 */ LD_NET(BPF_H, 6), /* a fragment after the first has no ports */
	/* 11 */ JSET_IMM(BPF_REG_0, 0x1fff, 33), /* -> 45 */
	/* 12 */ LD_NET(BPF_B, 9),
	/* 13 */ JEQ_IMM(BPF_REG_0, IPPROTO_TCP, 2), /* -> 16 */
	/* 14 */ JEQ_IMM(BPF_REG_0, IPPROTO_UDP, 1), /* -> 16 */
	/* 15 */ JA(29), /* -> 45 */
	/* the ports: the word after the header's IHL words */
	/* 16 */ LD_NET(BPF_B, 0),
	/* 17 */ ALU32_IMM(BPF_AND, BPF_REG_0, 0x0f),
	/* 18 */ ALU32_IMM(BPF_LSH, BPF_REG_0, 2),
	/* 19 */ MOV64_REG(BPF_REG_8, BPF_REG_0),
	/* 20 */ LD_NET_IND(BPF_W, BPF_REG_8, 0),
	/* 21 */ XOR32_REG(BPF_REG_7, BPF_REG_0),
	/* 22 */ JA(22), /* -> 45 */
	/* IPv6: the addresses, eight words from byte 8 */
	/* 23 */ LD_NET(BPF_W, 8),
	/* 24 */ XOR32_REG(BPF_REG_7, BPF_REG_0),
	/* 25 */ LD_NET(BPF_W, 12),
	/* 26 */ XOR32_REG(BPF_REG_7, BPF_REG_0),
	/* 27 */ LD_NET(BPF_W, 16),
	/* 28 */ XOR32_REG(BPF_REG_7, BPF_REG_0),
	/* 29 */ LD_NET(BPF_W, 20),
	/* 30 */ XOR32_REG(BPF_REG_7, BPF_REG_0),
	/* 31 */ LD_NET(BPF_W, 24),
	/* 32 */ XOR32_REG(BPF_REG_7, BPF_REG_0),
	/* 33 */ LD_NET(BPF_W, 28),
	/* 34 */ XOR32_REG(BPF_REG_7, BPF_REG_0),
	/* 35 */ LD_NET(BPF_W, 32),
	/* 36 */ XOR32_REG(BPF_REG_7, BPF_REG_0),
	/* 37 */ LD_NET(BPF_W, 36),
	/* 38 */ XOR32_REG(BPF_REG_7, BPF_REG_0),
	/* 39 */ LD_NET(BPF_B, 6), /* the next header; extension headers are not followed */
	/* 40 */ JEQ_IMM(BPF_REG_0, IPPROTO_TCP, 2), /* -> 43 */
	/* 41 */ JEQ_IMM(BPF_REG_0, IPPROTO_UDP, 1), /* -> 43 */
	/* 42 */ JA(2), /* -> 45 */
	/* 43 */ LD_NET(BPF_W, 40),
	/* 44 */ XOR32_REG(BPF_REG_7, BPF_REG_0),
	/* fold: the high half into the low, then the high byte of that into the low one */
	/* 45 */ MOV64_REG(BPF_REG_0, BPF_REG_7),
	/* 46 */ ALU32_IMM(BPF_RSH, BPF_REG_0, 16),
	/* 47 */ XOR32_REG(BPF_REG_7, BPF_REG_0),
	/* 48 */ MOV64_REG(BPF_REG_0, BPF_REG_7),
	/* 49 */ ALU32_IMM(BPF_RSH, BPF_REG_0, 8),
	/* 50 */ XOR32_REG(BPF_REG_7, BPF_REG_0),
	/* 51 */ MOV64_REG(BPF_REG_0, BPF_REG_7),
	/* 52 */ ALU32_IMM(BPF_AND, BPF_REG_0, 0xffff),
	/* 53 */ EXIT(),
};
/* The jumps count instructions: one added or taken away moves every target after it. */
_Static_assert(sizeof(steer_prog) / sizeof(steer_prog[0]) == 54, "renumber steer_prog's jumps");

static int bpf_prog_load(char *log, size_t log_size)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	attr.insns = (uint64_t)(uintptr_t)steer_prog;
	attr.insn_cnt = sizeof(steer_prog) / sizeof(steer_prog[0]);
	attr.license = (uint64_t)(uintptr_t) "Dual MIT/GPL";
	attr.log_buf = (uint64_t)(uintptr_t)log;
	attr.log_size = (uint32_t)log_size;
	attr.log_level = log_size ? 1 : 0;
	snprintf(attr.prog_name, sizeof(attr.prog_name), "trf_steer");
	return (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
}

int trf_steer_attach(int queue_fd, struct trf_err *err)
{
	char log[2048] = "";
	int prog, ret;

	prog = bpf_prog_load(NULL, 0);
	if (prog < 0 && errno == EINVAL) /* the verifier's reason: only then worth a log */
		prog = bpf_prog_load(log, sizeof(log));
	if (prog < 0) {
		ret = -errno;
		if (log[0])
			return trf_errf(err, ret,
					"the kernel refused the steering program: %s (%.200s)",
					strerror(-ret), log);
		return trf_errf(err, ret, "cannot load the steering program: %s%s", strerror(-ret),
				ret == -EPERM ? " (needs CAP_BPF, or root)" : "");
	}
	ret = ioctl(queue_fd, TUNSETSTEERINGEBPF, &prog) < 0 ? -errno : 0;
	close(prog); /* the device holds its own reference */
	if (ret < 0)
		return trf_errf(err, ret, "TUNSETSTEERINGEBPF: %s", strerror(-ret));
	return 0;
}

void trf_steer_detach(int queue_fd)
{
	int none = -1;

	ioctl(queue_fd, TUNSETSTEERINGEBPF, &none);
}
