// SPDX-License-Identifier: MIT
/*
 * The configuration's enums by name: what --mode, --io, --read, --workers,
 * --poll, --offload and --steering accept, and what the reports print.  The
 * help lines are --help's and the man page's; keep each line within the
 * width --help leaves beside the value (about 42 columns).
 */
#include <stddef.h>
#include <string.h>

#include "tapreflect/names.h"
#include "tapreflect/tapreflect.h"

/* clang-format off */
const struct trf_name trf_link_names[] = {
	{ "tap", TRF_LINK_TAP, "Ethernet frames (default)" },
	{ "tun", TRF_LINK_TUN, "bare IP packets (IFF_NO_PI)" },
	{ NULL, 0, NULL },
};

const struct trf_name trf_io_names[] = {
	{ "uring", TRF_IO_URING, "io_uring on registered buffers; one worker\n"
	  "thread and ring per CPU serves its queues\n"
	  "(see --workers) (default)" },
	{ "sync", TRF_IO_SYNC, "blocking read/write per frame, a thread per\n"
	  "queue: the reference design" },
	{ NULL, 0, NULL },
};

const struct trf_name trf_read_names[] = {
	{ "auto", TRF_READ_AUTO, "multishot where the kernel has it, else\n"
	  "fixed (default)" },
	{ "multishot", TRF_READ_MULTISHOT, "one IORING_OP_READ_MULTISHOT on a provided\n"
	  "buffer ring (Linux 6.7+)" },
	{ "fixed", TRF_READ_FIXED, "one readiness poll and rounds of\n"
	  "non-blocking READ_FIXEDs while frames wait\n"
	  "(older kernels too)" },
	{ NULL, 0, NULL },
};

const struct trf_name trf_workers_names[] = {
	{ "per-cpu", TRF_WORKERS_PER_CPU, "queues pinned to the same CPU share one\n"
	  "thread and ring: one wakeup serves them\n"
	  "all (default)" },
	{ "per-queue", TRF_WORKERS_PER_QUEUE, "a thread and a ring for each queue" },
	{ NULL, 0, NULL },
};

const struct trf_name trf_poll_names[] = {
	{ "hybrid", 2, "a worker of one queue waits as the blocking loop\n"
	  "does, in read(), while its queue keeps emptying,\n"
	  "and in io_uring once frames queue up (default;\n"
	  "io_uring alone where a syscall costs 500 ns or\n"
	  "more, or a worker serves several queues)" },
	{ "wait", 0, "sleep in io_uring_enter until frames arrive" },
	{ "busy", 1, "never sleep: reap and submit in a loop, for\n"
	  "latency benchmarks that give the reflector its\n"
	  "cores (each worker then uses a whole CPU)" },
	{ NULL, 0, NULL },
};

const struct trf_name trf_offload_names[] = {
	{ "auto", TRF_OFFLOAD_AUTO, "on for a device tapreflect creates; a\n"
	  "persistent device's own vnet_hdr flag decides\n"
	  "(default)" },
	{ "on", TRF_OFFLOAD_ON, "a virtio-net header on every frame\n"
	  "(IFF_VNET_HDR): TCP and UDP superpackets (TSO,\n"
	  "USO) and checksums pass whole" },
	{ "off", TRF_OFFLOAD_OFF, "plain frames: the kernel segments and\n"
	  "checksums every frame first" },
	{ NULL, 0, NULL },
};

const struct trf_name trf_steering_names[] = {
	{ "auto", TRF_STEERING_AUTO, "hash where the kernel loads the program\n"
	  "(CAP_BPF), else kernel (default)" },
	{ "hash", TRF_STEERING_HASH, "an eBPF program hashes addresses and ports,\n"
	  "and tun no longer hashes every frame\n"
	  "tapreflect writes" },
	{ "kernel", TRF_STEERING_KERNEL, "tun's own flow table" },
	{ NULL, 0, NULL },
};
/* clang-format on */

const char *trf_name_of(const struct trf_name *table, int value)
{
	for (const struct trf_name *n = table; n->name; n++)
		if (n->value == value)
			return n->name;
	return NULL;
}

const struct trf_name *trf_name_find(const struct trf_name *table, const char *name)
{
	for (const struct trf_name *n = table; n->name; n++)
		if (strcmp(n->name, name) == 0)
			return n;
	return NULL;
}

/* The reports' names; a value outside its table (never set by the parsers) reads "?". */
static const char *name_or_unknown(const struct trf_name *table, int value)
{
	const char *name = trf_name_of(table, value);

	return name ? name : "?";
}

const char *trf_link_name(enum trf_link link)
{
	return name_or_unknown(trf_link_names, (int)link);
}

const char *trf_io_name(enum trf_io io)
{
	return name_or_unknown(trf_io_names, (int)io);
}

const char *trf_read_name(enum trf_read read)
{
	return name_or_unknown(trf_read_names, (int)read);
}

const char *trf_offload_name(enum trf_offload offload)
{
	return name_or_unknown(trf_offload_names, (int)offload);
}
