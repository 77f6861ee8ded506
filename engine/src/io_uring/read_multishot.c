// SPDX-License-Identifier: MIT
/*
 * Read strategy `multishot` (Linux >= 6.7): ONE IORING_OP_READ_MULTISHOT per
 * queue fd, picking a buffer per frame from a provided buffer ring whose
 * entries point into the registered frame memory, so every write can be a
 * WRITE_FIXED from the buffer the frame was read into.
 *
 * One read is parked on the queue, never more: every read parked on a tun fd
 * is a separate waiter woken by every packet.  Batching comes from many CQEs
 * per io_uring_enter.  The read ends when the buffer ring runs dry (-ENOBUFS,
 * no F_MORE) and is re-armed after the batch that returned buffers.
 *
 * The buffer ring is never registered with incremental consumption
 * (IOU_PBUF_RING_INC): tun would silently truncate frames into the partial
 * buffers that mode hands out.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ring.h"

struct multishot {
	struct io_uring_buf_ring *br;
	size_t br_size;
	int br_mask;
	int br_added; /* buffers added since the last advance */
	bool armed; /* the multishot read is in flight */
};

static bool kernel_has_read_multishot(struct io_uring *ring)
{
	struct io_uring_probe *probe = io_uring_get_probe_ring(ring);
	bool ok = probe && io_uring_opcode_supported(probe, TRF_IORING_OP_READ_MULTISHOT);

	if (probe)
		io_uring_free_probe(probe);
	return ok;
}

static int multishot_setup(struct trf_uring_queue *q, struct trf_err *err)
{
	(void)err; /* every failure is reported by the core: it may fall back to fixed */
	struct io_uring_buf_reg reg = { 0 };
	long page = sysconf(_SC_PAGESIZE);
	struct multishot *m;
	int ret;

	if (!kernel_has_read_multishot(q->ring))
		return -EOPNOTSUPP;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	q->rs_state = m;
	m->br_size =
	    (q->nbufs * sizeof(struct io_uring_buf) + (size_t)page - 1) & ~((size_t)page - 1);
	m->br = mmap(NULL, m->br_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m->br == MAP_FAILED) {
		m->br = NULL;
		return -ENOMEM;
	}
	reg.ring_addr = (uintptr_t)m->br;
	reg.ring_entries = q->nbufs;
	reg.bgid = (uint16_t)q->slot; /* a buffer group per queue of the ring */
	ret = io_uring_register_buf_ring(q->ring, &reg, 0);
	if (ret) {
		munmap(m->br, m->br_size);
		m->br = NULL;
		return ret;
	}
	io_uring_buf_ring_init(m->br);
	m->br_mask = io_uring_buf_ring_mask(q->nbufs);
	for (unsigned int bid = 0; bid < q->nbufs; bid++)
		io_uring_buf_ring_add(m->br, trf_uq_buf(q, (uint16_t)bid), q->frame_size,
				      (unsigned short)bid, m->br_mask, (int)bid);
	io_uring_buf_ring_advance(m->br, (int)q->nbufs);
	return 0;
}

static void multishot_arm(struct trf_uring_queue *q)
{
	struct multishot *m = q->rs_state;
	struct io_uring_sqe *sqe;

	if (m->armed)
		return;
	sqe = trf_uq_get_sqe(q);
	if (TRF_UNLIKELY(!sqe))
		return; /* the worker's sq_error stops the queue */
	/* addr 0, len 0: the kernel picks a buffer per frame from the queue's group. */
	io_uring_prep_rw(TRF_IORING_OP_READ_MULTISHOT, sqe, (int)q->slot, NULL, 0, 0);
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
	sqe->buf_group = (uint16_t)q->slot;
	io_uring_sqe_set_data64(sqe, trf_uq_ud(q, TRF_UQ_READ, 0));
	m->armed = true;
}

static void multishot_recycle(struct trf_uring_queue *q, uint16_t bid)
{
	struct multishot *m = q->rs_state;

	io_uring_buf_ring_add(m->br, trf_uq_buf(q, bid), q->frame_size, bid, m->br_mask,
			      m->br_added++);
}

static int multishot_on_cqe(struct trf_uring_queue *q, const struct io_uring_cqe *cqe)
{
	struct multishot *m = q->rs_state;
	uint16_t bid;

	if (!(cqe->flags & IORING_CQE_F_MORE))
		m->armed = false; /* re-armed after the batch unless stopping */
	if (!(cqe->flags & IORING_CQE_F_BUFFER)) {
		if (cqe->res == -ENOBUFS) {
			q->t.rearms++;
			q->more = true; /* every buffer was taken: frames may wait */
		} else if (cqe->res < 0 && cqe->res != -ECANCELED && cqe->res != -EINTR) {
			return cqe->res;
		}
		return 0;
	}
	bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
	if (TRF_UNLIKELY(cqe->res <= 0)) {
		multishot_recycle(q, bid);
		if (cqe->res < 0 && cqe->res != -ECANCELED && cqe->res != -EINTR &&
		    cqe->res != -EAGAIN)
			return cqe->res;
		return 0;
	}
	trf_uq_add_frame(q, bid, (uint32_t)cqe->res);
	return 0;
}

/* One advance per batch makes every buffer recycled in it visible to the kernel. */
static void multishot_flush(struct trf_uring_queue *q)
{
	struct multishot *m = q->rs_state;

	if (m->br_added) {
		io_uring_buf_ring_advance(m->br, m->br_added);
		m->br_added = 0;
	}
}

static void multishot_cancel(struct trf_uring_queue *q)
{
	struct multishot *m = q->rs_state;

	if (m->armed)
		trf_uq_cancel(q, trf_uq_ud(q, TRF_UQ_READ, 0));
}

static void multishot_inflight(const struct trf_uring_queue *q, unsigned int *reads,
			       unsigned int *polls)
{
	const struct multishot *m = q->rs_state;

	*reads = m->armed ? 1 : 0;
	*polls = 0;
}

static void multishot_teardown(struct trf_uring_queue *q)
{
	struct multishot *m = q->rs_state;

	if (!m)
		return;
	/* The ring is gone by now, and with it the kernel's use of the buffer ring. */
	if (m->br)
		munmap(m->br, m->br_size);
	free(m);
	q->rs_state = NULL;
}

const struct trf_read_strategy trf_read_multishot = {
	.name = "multishot",
	.setup = multishot_setup,
	.arm = multishot_arm,
	.on_cqe = multishot_on_cqe,
	.recycle = multishot_recycle,
	.flush = multishot_flush,
	.cancel = multishot_cancel,
	.inflight = multishot_inflight,
	.teardown = multishot_teardown,
};
