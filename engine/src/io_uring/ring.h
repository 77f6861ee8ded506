/* SPDX-License-Identifier: MIT */
/*
 * The io_uring engine's state, shared by the ring core and the read
 * strategies (read_multishot.c, read_fixed.c): a worker thread's ring
 * (struct trf_uring_thread), and each queue it serves (struct
 * trf_uring_queue).
 *
 * The ring core owns the ring, the registered frame memory, the writes and
 * the loop; a read strategy owns how frames get from a queue fd into that
 * memory, and where a buffer goes when the core hands it back.  The core is
 * split by concern: ring_setup.c (the ring, its registrations, and what it
 * says when the kernel refuses), ring_loop.c (the loop: reap, reflect,
 * write, recycle, drain) and ring_wait.c (how the thread waits for work).
 * The hot path reads top to bottom in ring_loop.c and in the one strategy
 * file in use.
 *
 * Queues pinned to the same CPU share one thread and one ring (--workers
 * per-cpu): each queue has a slot in it, which is the index of its fd in the
 * fixed file table, of its memory in the fixed buffer table, and of its
 * buffer group, and is carried in the user_data of its requests.
 */
#ifndef TRF_IO_URING_RING_H
#define TRF_IO_URING_RING_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

#include "internal.h"

/* Not in liburing 2.3's headers (Linux 6.7). */
#define TRF_IORING_OP_READ_MULTISHOT 49

/* user_data: the operation in the top byte, the queue's slot in bits 16..23, a buffer id below. */
enum trf_uq_op {
	TRF_UQ_READ = 1, /* a strategy's read */
	TRF_UQ_WRITE, /* a frame written back */
	TRF_UQ_STOP, /* the poll of the engine's stop eventfd */
	TRF_UQ_CANCEL, /* a cancel of another request */
	TRF_UQ_POLL, /* a strategy's readiness poll */
	TRF_UQ_NOP, /* the check that the ring's restrictions hold (ring_setup.c) */
};

/* Encode: what a request's user_data says. */
static inline uint64_t trf_uq_ud_make(enum trf_uq_op op, unsigned int slot, uint16_t bid)
{
	return (uint64_t)op << 56 | (uint64_t)(slot & 0xff) << 16 | bid;
}

static inline enum trf_uq_op trf_uq_ud_op(uint64_t ud)
{
	return (enum trf_uq_op)(ud >> 56);
}

static inline uint16_t trf_uq_ud_bid(uint64_t ud)
{
	return (uint16_t)ud;
}

/* Decode: the queue's slot of a completion. */
static inline unsigned int trf_uq_ud_slot(uint64_t ud)
{
	return (unsigned int)(ud >> 16) & 0xff;
}

struct trf_uring_queue;
struct trf_uring_thread;

/*
 * A read strategy, one file each.  Calls come from the queue's worker
 * thread only.  Buffer ownership: a buffer id is, at any moment, in exactly
 * one place: the strategy (free, or in a read the kernel holds), a frame of
 * the current batch, or an in-flight write.  The core hands a buffer back with
 * recycle() only after its write completed, or at once when its frame is
 * dropped.
 */
struct trf_read_strategy {
	const char *name; /* as the summary shows it */
	/*
	 * After the ring, the queue fd (fixed file q->slot) and the frame memory
	 * (fixed buffer q->slot) are registered: take every buffer.  Returns 0 or
	 * -errno (-EOPNOTSUPP: the kernel lacks what it needs), with err filled
	 * where the strategy can say more than the core's own message.
	 */
	int (*setup)(struct trf_uring_queue *q, struct trf_err *err);
	/* After each batch unless stopping: keep frames coming (queue SQEs). */
	void (*arm)(struct trf_uring_queue *q);
	/*
	 * A completion of one of the strategy's own requests (TRF_UQ_READ or
	 * TRF_UQ_POLL).  Frames it carries go to trf_uq_add_frame(); set
	 * q->more if frames may be left behind.  Returns 0, or -errno for an
	 * error that ends the queue.
	 */
	int (*on_cqe)(struct trf_uring_queue *q, const struct io_uring_cqe *cqe);
	/* A buffer comes back from a write or a dropped frame. */
	void (*recycle)(struct trf_uring_queue *q, uint16_t bid);
	/* After each batch: publish what recycle() queued (may be NULL). */
	void (*flush)(struct trf_uring_queue *q);
	/* Stop asked: cancel whatever is parked on the queue fd. */
	void (*cancel)(struct trf_uring_queue *q);
	/* Requests of the strategy still in flight: reads, and readiness polls. */
	void (*inflight)(const struct trf_uring_queue *q, unsigned int *reads, unsigned int *polls);
	/* Frees what setup allocated; accepts a half-set-up strategy. */
	void (*teardown)(struct trf_uring_queue *q);
};

extern const struct trf_read_strategy trf_read_multishot;
extern const struct trf_read_strategy trf_read_fixed;

/* What one reap counted, added to the worker's stats once per batch. */
struct trf_uq_totals {
	uint64_t frames_read, bytes_read, frames_written, bytes_written, write_errors, rearms;
	uint64_t link_down; /* writes the kernel refused because the link was down */
	uint64_t consumed; /* frames the mode took in (TRF_CONSUMED) */
	uint64_t truncated; /* reads that filled their buffer */
};

struct trf_uring_queue {
	struct io_uring *ring; /* the thread's */
	struct trf_uring_thread *ut;
	struct trf_queue *queue; /* the engine's: its stats, its error, its info */
	unsigned int slot; /* fixed file, fixed buffer and buffer group index */
	bool stopping;
	/* Stopped on an error of its own (error): told, its reads cancelled. */
	bool failed;
	/* Failed and drained, or the ring gave up: its CQEs are ignored from then on. */
	bool ended;
	int error; /* a read's error: the queue fails with it after the batch */
	/*
	 * Set by arm(): frames wait to be read but every buffer is being
	 * written, so the next event to wait for is a write completion.
	 */
	bool starved;
	/*
	 * Set by on_cqe(): the queue may hold frames this wakeup could not
	 * read (a read ran out of buffers, a round came back full), so the
	 * next wait must not linger (--coalesce).  Cleared after each batch.
	 */
	bool more;
	int fd; /* the queue fd, also registered as fixed file slot */
	const struct trf_config *cfg;
	const struct trf_reflect_ctx *reflect; /* the queue's own mode state */
	const struct trf_read_strategy *rs;
	void *rs_state; /* the strategy's own state */
	const char *read_name; /* rs->name, or what the strategy fell back to */
	uint8_t *base; /* nbufs * frame_size, registered as fixed buffer slot */
	size_t mem_size;
	uint32_t frame_size;
	uint32_t
	    vnet_len; /* virtio-net header bytes in front of each frame (0 or 10): not counted as bytes */
	unsigned int nbufs;
	unsigned int writes_inflight;
	uint32_t *write_len; /* by buffer id, while its write is in flight */
	struct trf_frame *batch; /* frames of the current reap, nbufs at most */
	unsigned int nframes;
	struct trf_uq_totals t;
};

/* A worker thread's ring, and the queues it serves (those pinned to its CPU). */
struct trf_uring_thread {
	struct io_uring ring;
	struct trf_thread *thread;
	bool ring_ready;
	bool disabled; /* created disabled (IORING_SETUP_R_DISABLED): enabled after setup */
	bool restricted; /* restrictions registered (ring_setup.c, restrict_ring) */
	const char *flags_name; /* the setup flags the kernel took, for the summary */
	const char *restricted_name; /* "on", "unsupported": checked once enabled */
	bool stopping; /* the engine's stop came */
	/* trf_uq_get_sqe() found no SQE even after a submit: every queue stops. */
	int sq_error;
	unsigned int nq;
	struct trf_uring_queue *q[TRF_MAX_QUEUES];
	/*
	 * --coalesce in force (the kernel has min_wait): its length, and the
	 * mean gap between frames at the last wakeup that read any, which
	 * decides whether coalescing pays (see ring_wait.c).
	 */
	uint32_t coalesce_usec;
	uint64_t gap_ns;
	uint64_t last_wake_ns;
	bool burst; /* a queue read a full burst, or left frames behind, at the last wakeup */
	bool busy; /* --poll busy */
	bool defer_taskrun; /* the ring runs task work only inside io_uring_enter() */
	/*
	 * --poll hybrid in force (ring_hybrid.c): blocking is the mode (read()
	 * while true; thread->in_read while one may be blocked, for
	 * trf_ut_wake), and the window counts frames and the thread's sleeps
	 * since it began.
	 */
	bool hybrid;
	bool blocking;
	bool blocking_only; /* a syscall is cheap here: the blocking loop at every load */
	uint8_t *hybrid_buf;
	size_t hybrid_size;
	uint64_t win_frames;
	long win_sleeps;
	uint64_t switches; /* not yet published */
};

static inline uint8_t *trf_uq_buf(const struct trf_uring_queue *q, uint16_t bid)
{
	return q->base + (size_t)bid * q->frame_size;
}

/*
 * A frame of len bytes was read into buffer bid: it joins the current batch.
 * tun cuts a frame longer than the buffer to the buffer's size without a
 * word, so a read that filled its buffer is taken for a truncated frame and
 * dropped: the largest frame accepted is one byte less than a buffer.
 */
static inline void trf_uq_add_frame(struct trf_uring_queue *q, uint16_t bid, uint32_t len)
{
	q->t.frames_read++;
	q->t.bytes_read += len > q->vnet_len ? len - q->vnet_len : 0;
	if (TRF_UNLIKELY(len >= q->frame_size)) {
		q->t.truncated++;
		if (TRF_UNLIKELY(q->queue->cap))
			trf_capture_frame(q->queue, trf_uq_buf(q, bid), len, TRF_DROP_TRUNCATED);
		q->rs->recycle(q, bid);
		return;
	}
	q->batch[q->nframes++] = (struct trf_frame){
		.data = trf_uq_buf(q, bid),
		.len = len,
		.cookie = bid,
	};
}

/* A request's user_data: the operation, this queue's slot, a buffer id. */
static inline uint64_t trf_uq_ud(const struct trf_uring_queue *q, enum trf_uq_op op, uint16_t bid)
{
	return trf_uq_ud_make(op, q->slot, bid);
}

/*
 * An SQE.  The SQ is sized so that one is always free (ring_setup.c); should a
 * submit fail to make room, this returns NULL, records the worker's
 * sq_error, and the loop stops its queues with that error after the batch.
 * Every caller checks.
 */
struct io_uring_sqe *trf_ut_sqe_after_submit(struct trf_uring_thread *ut);

static inline struct io_uring_sqe *trf_ut_get_sqe(struct trf_uring_thread *ut)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ut->ring);

	/* The SQ holds a write for every buffer, so the slow path is only a safety net. */
	return TRF_LIKELY(sqe) ? sqe : trf_ut_sqe_after_submit(ut);
}

static inline struct io_uring_sqe *trf_uq_get_sqe(struct trf_uring_queue *q)
{
	return trf_ut_get_sqe(q->ut);
}

/* A cancel for the request whose user_data is ud. */
void trf_uq_cancel(struct trf_uring_queue *q, uint64_t ud);

/* ---- between the core's files, and for the unit tests (tests/unit/test_ring.c) ---- */

/* ring_setup.c: how many queues one thread's ring may serve (--workers). */
unsigned int trf_ut_queues_per_thread(const struct trf_config *cfg);

/* ring_loop.c: the loop, until stopped and drained. */
int trf_ut_run(struct trf_thread *t);

/* --poll hybrid (ring_hybrid.c). */
#define TRF_HYBRID_WINDOW 256 /* frames between two looks at frames per sleep */
#define TRF_HYBRID_UP 64 /* blocking: this many frames per sleep or more go to the ring */
#define TRF_HYBRID_DOWN 24 /* the ring: this many or fewer go back to blocking */
/* The mode after a window of frames and sleeps: true for blocking. */
bool trf_hybrid_blocking_next(bool blocking, uint64_t frames, uint64_t sleeps);
int trf_hybrid_setup(struct trf_uring_thread *ut, const struct trf_config *cfg,
		     struct trf_err *err);
void trf_hybrid_teardown(struct trf_uring_thread *ut);
void trf_hybrid_note(struct trf_uring_thread *ut, uint64_t frames);
int trf_hybrid_run(struct trf_uring_thread *ut);
void trf_ut_wake(struct trf_thread *t);

/* ring_loop.c: one completion, of any queue of the ring or the stop poll. */
void trf_ut_complete(struct trf_uring_thread *ut, const struct io_uring_cqe *cqe);

/*
 * ring_loop.c: after a batch of completions, for every queue: reflect its
 * frames and queue their writes, re-arm its reads, publish its counters, and
 * fail it if a read failed.  Returns the frames read in the batch.
 */
uint64_t trf_ut_end_batch(struct trf_uring_thread *ut);

/* ring_wait.c: how the thread waits, from the config and what the kernel has. */
void trf_wait_setup(struct trf_uring_thread *ut, const struct trf_config *cfg);

/* ring_wait.c: what the next wait asks of the kernel. */
enum trf_wait_how {
	TRF_WAIT_BUSY, /* submit and collect, never sleep */
	TRF_WAIT_PLAIN, /* sleep until nr events are there */
	TRF_WAIT_MIN, /* sleep until nr events, or min_wait passed and any is there */
};

struct trf_wait_plan {
	enum trf_wait_how how;
	unsigned int nr;
};

struct trf_wait_plan trf_wait_plan(const struct trf_uring_thread *ut);

/* ring_wait.c: submit what is queued and wait as planned; returns what io_uring_enter did. */
int trf_wait_for_work(struct trf_uring_thread *ut);

/*
 * ring_wait.c: after a wakeup that read `reads` frames, at now_ns: the gap
 * for the next plan (called only while coalescing: the clock costs).
 */
void trf_wait_note(struct trf_uring_thread *ut, uint64_t reads, uint64_t now_ns);

/* ring_wait.c: a wait ended without any event (ETIME): coalescing starts over. */
void trf_wait_idle(struct trf_uring_thread *ut);

#endif /* TRF_IO_URING_RING_H */
