/* SPDX-License-Identifier: MIT */
/* Engine internals shared by engine.c and the I/O engines. */
#ifndef TRF_INTERNAL_H
#define TRF_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tapreflect/tapreflect.h"

#define TRF_LIKELY(x) __builtin_expect(!!(x), 1)
#define TRF_UNLIKELY(x) __builtin_expect(!!(x), 0)

struct trf_queue;
struct trf_thread;
struct trf_capture_ring;

/*
 * An I/O engine: how a worker thread moves frames between its queues' fds
 * and the reflect mode.  Every call but wake() comes from the thread itself.
 */
struct trf_io_ops {
	const char *name;
	/* After pinning: allocate, register, pick a read strategy for each of t's queues. */
	int (*setup)(struct trf_thread *t, struct trf_err *err);
	/*
	 * Until the engine's stop flag or stop eventfd says stop; drains what is
	 * in flight.  A queue that fails is recorded with trf_queue_failed() as
	 * it happens, and the others go on; returns 0, or -errno when the thread
	 * itself could not go on (every queue has failed then).
	 */
	int (*run)(struct trf_thread *t);
	/* Accepts a half-set-up thread. */
	void (*teardown)(struct trf_thread *t);
	/* From the main thread: make a thread blocked in the kernel look at the stop flag. */
	void (*wake)(struct trf_thread *t);
	/* How many queues of one CPU a thread may serve (NULL: one). */
	unsigned int (*queues_per_thread)(const struct trf_config *cfg);
};

extern const struct trf_io_ops trf_io_uring_ops;
extern const struct trf_io_ops trf_io_sync_ops;

/*
 * One frame of n > 0 bytes, read into buf (size bytes) by a blocking read():
 * counted, reflected and written back with write(), as the sync engine does
 * (io_sync.c); also io_uring's --poll hybrid in its blocking mode.
 */
/*
 * Whether signal sig can interrupt a blocking read() (sync, --poll hybrid):
 * 0 when it has a handler installed without SA_RESTART
 * (trf_engine_sync_wake_handler), -ENOENT when not, -EINVAL for no signal.
 */
int trf_wake_signal_state(int sig);

void trf_sync_frame(struct trf_queue *q, uint8_t *buf, size_t n, size_t size, uint32_t vnet_len);

/*
 * One queue of the device: its fd, its counters, its mode state, what is in
 * force on it and how it ended.  stats comes first and fills its own cache
 * lines: the queue's thread is its only writer.  The rest is written during
 * setup and then only read, except failed and err (under eng->lock).
 */
struct trf_queue {
	struct trf_queue_stats stats;
	struct trf_engine *eng;
	const struct trf_config *cfg;
	struct trf_thread *thread; /* the worker thread that serves it */
	unsigned int index; /* its number on the device */
	int fd;
	/* The mode's context for this queue: the config's, with the queue's own state. */
	struct trf_reflect_ctx reflect;
	struct trf_queue_info info; /* for trf_engine_queue_info(): written by its thread */
	void *io; /* the I/O engine's state of this queue */
	/* --capture-drops: the ring its thread hands dropped frames over in (capture.c); NULL: off. */
	struct trf_capture_ring *cap;
	bool failed; /* ended on an error after start, or detached */
	struct trf_err err;
} __attribute__((aligned(TRF_CACHELINE)));

/*
 * One worker thread: pinned to a CPU, serving the queues pinned there (one
 * with --io sync or --workers per-queue), with one ring for all of them.
 * Threads are made once, by trf_group_queues(), before any starts.
 */
struct trf_thread {
	struct trf_engine *eng;
	const struct trf_config *cfg;
	unsigned int index;
	int cpu;
	int node; /* NUMA node of cpu, -1 without NUMA */
	unsigned int nq;
	struct trf_queue **q; /* its queues, in queue order; waits are counted on q[0] */
	pthread_t pthread;
	bool started;
	void *io; /* the I/O engine's state of this thread: its ring */
	/*
	 * io_uring's --poll hybrid: the thread may be blocked in read(), so the
	 * stop must signal it.  Here, not in io: wake() may run while the
	 * thread tears io down.
	 */
	bool in_read;
	int status; /* setup result */
	struct trf_err err; /* why setup failed */
};

/*
 * Which thread serves each queue: queues pinned to the same CPU share one,
 * up to room queues a thread (then the next queue on that CPU starts another).
 * Threads are numbered in the order of their first queue.  Fills thread_of
 * (nq entries) and returns the number of threads.
 */
unsigned int trf_group_queues(const int *cpus, unsigned int nq, unsigned int room,
			      unsigned int *thread_of);

struct trf_engine {
	struct trf_config cfg;
	const struct trf_io_ops *io;
	bool persistent; /* the device existed before: it stays */
	unsigned int ifindex; /* of the device, in our network namespace */
	bool vnet_hdr; /* frames carry a virtio-net header (IFF_VNET_HDR) */
	unsigned int offloads; /* TRF_TUN_F_* the kernel granted */
	bool steered; /* our steering program is attached (taken off at the end) */
	char steering[16]; /* in force: see struct trf_engine_info */
	char steering_why[192];
	int fds[TRF_MAX_QUEUES];
	struct trf_queue *queues; /* cfg.queues of them, once started */
	struct trf_thread *threads;
	unsigned int nqueues; /* queues initialised */
	unsigned int nthreads; /* threads made (trf_group_queues) */
	unsigned int nstarted; /* threads created */
	int stop; /* set once; read with acquire */
	int stop_efd; /* readable once stop is asked: uring workers poll it */
	int fail_efd; /* written by a worker that fails while running */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int nsettled; /* threads done with setup, ok or not */
	int go; /* 0 wait, 1 run, -1 abort */
	bool running;
	unsigned int nfailed; /* queues with failed set */
	/*
	 * --capture-limit's window, shared by every worker: the second it
	 * counts (CLOCK_MONOTONIC_COARSE) in the high 32 bits, the frames
	 * admitted in it in the low 32 (capture.c).
	 */
	uint64_t cap_window;
};

static inline bool trf_engine_stopping(const struct trf_engine *eng)
{
	return __atomic_load_n(&eng->stop, __ATOMIC_ACQUIRE);
}

/* What rtnetlink says of a device, in the calling thread's network namespace. */
struct trf_link_state {
	unsigned int ifindex;
	bool up;
	unsigned int mtu; /* 0: not reported */
	bool is_tun; /* a TUN or TAP device (link kind "tun") */
	bool have_tun_flags; /* the kernel reports them (Linux 4.15+) */
	unsigned int
	    tun_flags; /* IFF_TUN or IFF_TAP, IFF_NO_PI, IFF_MULTI_QUEUE, IFF_VNET_HDR, IFF_PERSIST */
	bool have_tun_queues;
	unsigned int tun_queues; /* queues attached now, by any process (IFLA_TUN_NUM_QUEUES) */
	bool have_stats;
	uint64_t tx_dropped;
};

/*
 * The state of the device called name, or of ifindex if it is not 0: 0, or
 * -ENODEV when there is no such device here, or another -errno.
 */
int trf_rtnl_link(const char *name, unsigned int ifindex, struct trf_link_state *st);

/* Add an address to a device (IPv6 without DAD); an existing one is fine. */
int trf_rtnl_addr_add(unsigned int ifindex, const struct trf_addr *a);

/*
 * steer.c: attach the eBPF steering program to the device of queue_fd
 * (0, or -errno with err filled), or take it off again.
 */
int trf_steer_attach(int queue_fd, struct trf_err *err);
void trf_steer_detach(int queue_fd);

/* Frees the queues and threads (threads.c), after the threads are joined. */
void trf_engine_free_threads(struct trf_engine *eng);

/* Add a reason to info->fallback ("; " between several). */
void trf_info_fallback(struct trf_queue_info *info, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The queue has ended on an error (already in q->err): tell the main thread. */
void trf_queue_failed(struct trf_queue *q);

/* --user (priv.c): in each worker thread after its setup, then once in the main thread. */
int trf_priv_harden_thread(struct trf_err *err);
int trf_priv_drop(const struct trf_config *cfg, struct trf_err *err);

/*
 * A queue fd failed: fill err with why.  A device deleted under the worker
 * (ip link del) is said as such; anything else as "what: strerror".
 */
int trf_queue_error(const struct trf_queue *q, int ret, const char *what, struct trf_err *err);

/*
 * --capture-drops (capture.c).  setup: in the queue's worker thread, on its
 * node, before it runs (nothing when capture is off); free: once the thread
 * has been joined and the last drain is done (trf_engine_free_threads).
 */
int trf_capture_queue_setup(struct trf_queue *q, int node, struct trf_err *err);
void trf_capture_queue_free(struct trf_queue *q);

/*
 * In the queue's worker thread only, where it drops a frame with a reason
 * (q->cap set): the frame as read, virtio-net header included (skipped
 * here).  Never waits: over --capture-limit it counts capture_limited, with
 * no room in the ring capture_full.
 */
void trf_capture_frame(struct trf_queue *q, const uint8_t *data, uint32_t len, unsigned int reason);

/*
 * --capture-limit's test: whether one more frame may be captured in second
 * sec of CLOCK_MONOTONIC_COARSE (a second already past counts in the current
 * window).  For the unit tests; trf_capture_frame() reads the clock itself.
 */
bool trf_capture_admit(struct trf_engine *eng, uint32_t sec);

/* NUMA-local memory (page aligned, zeroed); falls back to plain mmap without NUMA. */
int trf_mem_node_of_cpu(int cpu);
void *trf_mem_alloc(size_t size, int node);
void trf_mem_free(void *p, size_t size, int node);

#endif /* TRF_INTERNAL_H */
