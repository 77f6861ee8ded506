/* SPDX-License-Identifier: MIT */
/*
 * tapreflect engine: a multi-queue TAP/TUN device whose queues are served by
 * worker threads pinned to their CPUs (with io_uring, the queues of one CPU
 * share one thread and one ring: --workers), turning every frame around.
 *
 * Errors: functions return 0 (or a count) on success and -errno on failure;
 * those that take a struct trf_err also leave one line there that says what
 * failed, why, and what to do about it.
 */
#ifndef TAPREFLECT_TAPREFLECT_H
#define TAPREFLECT_TAPREFLECT_H

#include <net/if.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "tapreflect/reflect.h"
#include "tapreflect/stats.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TRF_MAX_QUEUES 256 /* the kernel's MAX_TAP_QUEUES */
#define TRF_MAX_ADDRS 16
#define TRF_MAX_FIXED_READS 16
#define TRF_MAX_COALESCE_USEC 10000 /* --coalesce: 10 ms at most */
#define TRF_DEFAULT_DEV "trf0"
#define TRF_DEFAULT_BUFFERS 256
/*
 * A ring's submission queue holds a write per buffer plus reads and polls,
 * and the kernel allows 32768 entries: 16384 buffers is the largest power of
 * two that fits.
 */
#define TRF_MAX_BUFFERS 16384
#define TRF_DEFAULT_FRAME_SIZE 16384 /* holds a 9216 B jumbo frame with room to spare */
#define TRF_DEFAULT_FIXED_READS 4
/*
 * --poll hybrid reads blocking only where a syscall costs less than this:
 * dearer, the blocking loop's two syscalls per frame cost more than the
 * ring's wakeup (docs/benchmarking.md, what a syscall costs).
 */
#define TRF_HYBRID_MAX_SYSCALL_NS 500
/*
 * ... and goes over to the ring only where a syscall costs this much or
 * more: cheaper, the ring's batches cost no less per frame than the
 * blocking loop even past saturation, and they answer later.
 */
#define TRF_HYBRID_MIN_SYSCALL_NS 150
#define TRF_MAX_SYSCALL_NS 1000000 /* the most --syscall-ns takes */
/*
 * With offloads a frame is up to a 64 KiB superpacket plus its virtio-net,
 * Ethernet and VLAN headers: buffers of 65600 B, fewer of them by default, so
 * that a queue locks about as much memory as without (64 x 65600 B = 4.0 MiB).
 */
#define TRF_VNET_FRAME_SIZE 65600
#define TRF_VNET_BUFFERS 64
#define TRF_MAX_FRAME_SIZE TRF_VNET_FRAME_SIZE
/*
 * --capture-drops: dropped frames handed over to a consumer, at most
 * capture_limit a second (default 100 in the tool), through a ring per queue
 * of capture_queue_bytes (a power of two that holds two of the largest frames).
 */
#define TRF_DEFAULT_CAPTURE_LIMIT 100
#define TRF_MAX_CAPTURE_LIMIT 1000000
#define TRF_DEFAULT_CAPTURE_QUEUE_BYTES (1u << 20)
#define TRF_MIN_CAPTURE_QUEUE_BYTES (256u << 10)
#define TRF_MAX_CAPTURE_QUEUE_BYTES (1u << 30)
#define TRF_DEFAULT_MAC                            \
	{                                          \
		0x02, 0x74, 0x72, 0x66, 0x00, 0x01 \
	}

struct trf_err {
	char msg[512];
};

/* Fill err with a formatted message; returns ret so callers can `return trf_errf(...)`. */
int trf_errf(struct trf_err *err, int ret, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Each enum of the command line has its names in a table of tapreflect/names.h. */
enum trf_io {
	TRF_IO_URING, /* one io_uring per worker thread (see --workers), fixed buffers */
	TRF_IO_SYNC, /* blocking read/write loop: the reference design */
};

/* --offload: a virtio-net header in front of every frame, and what it lets the kernel leave undone. */
enum trf_offload {
	TRF_OFFLOAD_AUTO, /* on for a device we create; a persistent device's vnet_hdr flag decides */
	TRF_OFFLOAD_ON, /* IFF_VNET_HDR and every offload the kernel grants */
	TRF_OFFLOAD_OFF, /* plain frames: the kernel segments and checksums everything first */
};

/*
 * --steering: which queue the kernel's frames go to on a multi-queue device.
 * hash: an eBPF steering program hashes addresses and ports, and tun skips
 * its per-frame flow learning on the frames tapreflect writes (steer.c);
 * kernel: tun's own flow table; auto: hash where the kernel loads the
 * program, else kernel (the summary says why).
 */
enum trf_steering {
	TRF_STEERING_AUTO,
	TRF_STEERING_HASH,
	TRF_STEERING_KERNEL,
};

/* TUNSETOFFLOAD bits, as the kernel names them (Debian 12's headers lack the USO ones). */
#define TRF_TUN_F_CSUM 0x01
#define TRF_TUN_F_TSO4 0x02
#define TRF_TUN_F_TSO6 0x04
#define TRF_TUN_F_TSO_ECN 0x08
#define TRF_TUN_F_USO4 0x20
#define TRF_TUN_F_USO6 0x40

/*
 * --workers (io_uring): per-cpu = queues pinned to the same CPU share one
 * worker thread and one ring, so one wakeup serves them all; per-queue = a
 * thread and a ring for each queue.  --io sync always runs one per queue.
 */
enum trf_workers {
	TRF_WORKERS_PER_CPU,
	TRF_WORKERS_PER_QUEUE,
};

enum trf_read {
	TRF_READ_AUTO, /* multishot where the kernel has it, else fixed */
	TRF_READ_MULTISHOT, /* one IORING_OP_READ_MULTISHOT over a provided buffer ring */
	TRF_READ_FIXED, /* a few READ_FIXEDs in flight */
};

struct trf_addr {
	int family; /* AF_INET or AF_INET6 */
	unsigned int prefix;
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} u;
};

struct trf_config {
	char dev[IFNAMSIZ];
	enum trf_link link; /* --mode: tap or tun */
	unsigned int queues;
	int cpus[TRF_MAX_QUEUES]; /* queue i runs on cpus[i] */
	enum trf_io io;
	enum trf_read read;
	enum trf_workers workers;
	unsigned int fixed_reads; /* READ_FIXEDs in flight per queue (fixed strategy) */
	/*
	 * io_uring: once frames arrive closer together than this, a worker
	 * waits up to this long for more before it reflects the batch (the
	 * kernel's min_wait, Linux 6.12); 0 = off.
	 */
	unsigned int coalesce_usec;
	bool busy_poll; /* --poll busy: never sleep, reap and submit in a loop */
	/* --poll hybrid (the default): a worker of one queue reads with read() while it empties */
	bool hybrid;
	/*
	 * What a bare syscall costs here (trf_syscall_cost_ns(), 0: unknown;
	 * or as given, --syscall-ns): under TRF_HYBRID_MIN_SYSCALL_NS --poll
	 * hybrid keeps the blocking loop, at TRF_HYBRID_MAX_SYSCALL_NS or more
	 * the ring.
	 */
	uint32_t syscall_ns;
	bool syscall_ns_given; /* --syscall-ns: given, not measured */
	unsigned int buffers; /* per queue, a power of two */
	unsigned int frame_size; /* bytes per buffer: a read that fills one is a truncated frame */
	bool buffers_set,
	    frame_size_set; /* chosen by the user: else sized for the offload in force */
	enum trf_offload offload;
	enum trf_steering steering;
	const struct trf_reflect_mode *reflect_mode; /* --reflect */
	struct trf_reflect_ctx reflect;
	struct trf_addr addrs[TRF_MAX_ADDRS];
	unsigned int naddrs;
	unsigned int mtu; /* 0: leave as is */
	int wake_signal; /* --io sync: interrupts a worker's blocking read (see Signals) */
	/*
	 * --user: once the device is set up and every queue is ready, run as
	 * this user and group with no capability (needs root to start).
	 */
	bool run_as;
	uid_t run_uid;
	gid_t run_gid;
	char run_user[32]; /* for messages */
	/*
	 * --capture-drops: each frame dropped with a reason a mode gave (or
	 * truncated) is handed to trf_engine_capture_drain()'s consumer, at
	 * most capture_limit frames a second over the whole engine; 0 = off.
	 * Each queue hands them over in a ring of capture_queue_bytes; what
	 * finds it full, or comes over the limit, is counted (capture_full,
	 * capture_limited).
	 */
	unsigned int capture_limit;
	unsigned int capture_queue_bytes;
};

/* A config with every default filled in except queues/cpus (see trf_config_default_cpus). */
void trf_config_init(struct trf_config *cfg);

/* One queue per CPU this thread may run on. */
int trf_config_default_cpus(struct trf_config *cfg, struct trf_err *err);

/* Parsers for the command line; -EINVAL with a message on bad input. */
int trf_parse_cpulist(const char *s, int *cpus, unsigned int max, struct trf_err *err);
int trf_parse_addr(const char *s, struct trf_addr *addr, struct trf_err *err);
int trf_parse_mac(const char *s, uint8_t mac[6], struct trf_err *err);
int trf_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out);

/* Check a complete config; -EINVAL with a message. */
int trf_config_validate(const struct trf_config *cfg, struct trf_err *err);

/* ---- device ---- */

/*
 * Open (creating if needed) `queues` queues of a multi-queue TAP/TUN device
 * with IFF_NO_PI.  name (IFNAMSIZ bytes) may hold a %d pattern and returns
 * the name the kernel chose.  *persistent tells whether the device existed
 * before (it is then left in place when the fds close).  offload decides
 * IFF_VNET_HDR (*vnet_hdr) and the offloads asked of the kernel; *offloads
 * returns the TRF_TUN_F_* bits it granted.
 */
int trf_tap_open(char *name, enum trf_link link, unsigned int queues, int *fds, bool *persistent,
		 enum trf_offload offload, bool *vnet_hdr, unsigned int *offloads,
		 struct trf_err *err);
void trf_tap_close(int *fds, unsigned int queues);

/* Set the MTU (if mtu != 0), bring the link up and add the addresses. */
int trf_netcfg_apply(const char *dev, unsigned int mtu, const struct trf_addr *addrs,
		     unsigned int naddrs, struct trf_err *err);

/* The device's tx_dropped counter: frames the kernel dropped because a queue was full. */
int trf_netcfg_tx_dropped(const char *dev, uint64_t *out);

/* What the live report watches of the device: its link state and MTU (0: not reported). */
struct trf_link_info {
	bool up;
	unsigned int mtu;
};

/* 0, or -errno when the device cannot be asked (-ENODEV: gone). */
int trf_netcfg_link_info(const char *dev, struct trf_link_info *out);

/* ---- engine ---- */

/*
 * Signals.  The library installs no handler and changes no disposition.
 * Workers inherit the caller's signal mask when trf_engine_start() creates
 * them (block SIGINT/SIGTERM first if the main thread is to take them).
 *
 * The sync engine's workers block in read(), which only a signal interrupts:
 * trf_engine_stop() sends cfg->wake_signal (default SIGUSR1) to each of them
 * with pthread_kill() until it has gone, and those workers unblock that one
 * signal in themselves.  The caller installs a handler for it without
 * SA_RESTART before trf_engine_start(), e.g. with
 * trf_engine_sync_wake_handler(); start fails with -EINVAL and says so if it
 * finds none.  The io_uring engine uses no signal.
 */
void trf_engine_sync_wake_handler(int sig);

struct trf_engine;

int trf_engine_create(const struct trf_config *cfg, struct trf_engine **out, struct trf_err *err);

/*
 * Start the pinned worker threads (with io_uring, one per CPU of the
 * queues, or one per queue with --workers per-queue; with --io sync one per
 * queue); returns once all are ready or one failed.
 */
int trf_engine_start(struct trf_engine *eng, struct trf_err *err);

/*
 * Queues end on their own: a queue whose fd fails stops with an error, and
 * a queue detached from the device under us (TUNSETQUEUE by another holder
 * of the fd) gets no more frames.  Either ends that queue only; the others
 * go on.  The failure fd becomes readable when a queue failed; then
 * trf_engine_check_queues() (also worth calling now and then, to find
 * detached queues, which nothing wakes) returns how many queues have ended,
 * and trf_engine_queue_failed() says which and why.
 */
int trf_engine_failure_fd(const struct trf_engine *eng);
unsigned int trf_engine_check_queues(struct trf_engine *eng);
bool trf_engine_queue_failed(struct trf_engine *eng, unsigned int q, struct trf_err *err);

/* Whether the device is still there (a deleted device ends every queue). */
bool trf_engine_device_present(const struct trf_engine *eng);

/* Ask every worker thread to finish what is in flight and stop; joins them. */
void trf_engine_stop(struct trf_engine *eng);

/* Accepts a half-built engine; stops it first if it runs. */
void trf_engine_destroy(struct trf_engine *eng);

/* Live counters of queue q (relaxed loads; exact once stopped). */
void trf_engine_sample(const struct trf_engine *eng, unsigned int q, struct trf_queue_stats *out);

const struct trf_config *trf_engine_config(const struct trf_engine *eng);

/*
 * A dropped frame, as trf_engine_capture_drain() hands it over: the bytes as
 * the queue read them, without a virtio-net header (a truncated frame: all
 * its buffer held), before any mode changed a byte.  data is valid during the
 * call only.
 */
struct trf_captured {
	unsigned int queue;
	unsigned int reason; /* index into drops[]: trf_stat_drop_name() */
	struct timespec ts; /* CLOCK_REALTIME, when its worker dropped it */
	const uint8_t *data;
	uint32_t len;
};

typedef void (*trf_capture_fn)(void *arg, const struct trf_captured *c);

/*
 * With cfg->capture_limit set: hand every frame waiting in the queues'
 * capture rings to fn, queue by queue, oldest first, and free their room.
 * Returns how many; 0 with capture off.  One consumer at a time: a thread
 * of the caller's while the workers run, then once more after
 * trf_engine_stop(), for what they dropped last (before destroy).  The
 * workers never wait for the consumer: a frame that finds its ring full is
 * counted as capture_full.  Frames dropped by the I/O path (write_error,
 * link_down, aborted) are never captured: their bytes are a reply by then.
 */
int trf_engine_capture_drain(struct trf_engine *eng, trf_capture_fn fn, void *arg);

/*
 * What is in force, as the engine set it up: filled by trf_engine_info() and
 * trf_engine_queue_info() from trf_engine_start() on (before, the queues are
 * not set up yet: their strings are empty).  A queue's read strategy can
 * still fall back while it runs (fixed to fixed-nonblock, at its first read):
 * what a stopped engine says is final.
 */
struct trf_queue_info {
	unsigned int queue;
	int cpu;
	int node; /* NUMA node of cpu, -1 without NUMA */
	unsigned int thread; /* the worker thread that serves it, 0 .. threads - 1 */
	char read[24]; /* "multishot", "fixed", "fixed-nonblock"; "blocking" for sync */
	char wait[24]; /* "sleep", "coalesce 50us", "busy"; "blocking" for sync */
	/* Ring setup flags ("SINGLE_ISSUER|DEFER_TASKRUN", "COOP_TASKRUN", "none"); "" for sync. */
	char ring_flags[40];
	/*
	 * Whether the ring is restricted to the operations the engine uses
	 * (IORING_REGISTER_RESTRICTIONS, checked at start): "on", "unsupported"
	 * (the kernel cannot); "" for sync.
	 */
	char ring_restricted[16];
	/*
	 * Where what is in force is not what was asked, or not the best the
	 * engine knows, why ("--read auto: no multishot read here (...)",
	 * "--coalesce: needs Linux 6.12 (min_wait)"); "" when nothing fell back.
	 * Several are joined with "; ".
	 */
	char fallback[256];
};

struct trf_engine_info {
	char dev[IFNAMSIZ]; /* the name the device got (a %d in --dev is the kernel's to fill) */
	/* It existed before the engine opened it, and stays; one the engine created is gone after destroy. */
	bool dev_persistent;
	bool vnet_hdr; /* frames carry a virtio-net header */
	unsigned int offloads; /* TRF_TUN_F_* the kernel granted */
	unsigned int queues;
	unsigned int threads; /* worker threads: one per queue, or fewer where queues share a CPU */
	/* Queue steering in force: "hash" (our eBPF program), "kernel" (tun's flow table), "none". */
	char steering[16];
	/* Why steering is not what --steering asked ("one queue", the kernel's refusal); or "". */
	char steering_why[192];
};

void trf_engine_info(const struct trf_engine *eng, struct trf_engine_info *out);

/* 0, or -EINVAL for a queue the engine does not have. */
int trf_engine_queue_info(const struct trf_engine *eng, unsigned int q, struct trf_queue_info *out);

/* "csum,tso4,tso6,tso_ecn,uso4,uso6" for the bits set, "none" for none. */
const char *trf_offloads_describe(unsigned int offloads, char *buf, size_t len);

/* The names the command line takes, from the tables in tapreflect/names.h ("?" for none). */
const char *trf_offload_name(enum trf_offload offload);
const char *trf_link_name(enum trf_link link); /* "tap", "tun" */
const char *trf_io_name(enum trf_io io);
const char *trf_read_name(enum trf_read read);

#ifdef __cplusplus
}
#endif

#endif /* TAPREFLECT_TAPREFLECT_H */
