// SPDX-License-Identifier: MIT
/*
 * The reference engine: the design of the original blocking loop, one read()
 * and one write() per frame on a blocking queue fd, kept so that every
 * benchmark can report io_uring as a ratio against it in the same run.  It
 * shares the reflect code and the counters with the io_uring engine.  A
 * worker blocked in read() is woken for the stop by cfg->wake_signal (see
 * tapreflect.h, Signals).  A thread serves one queue (queues_per_thread is
 * NULL): t->q[0].
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

struct sync_queue {
	uint8_t *buf;
	size_t size;
	uint32_t vnet_len; /* virtio-net header bytes per frame: not counted as bytes */
};

static int sync_setup(struct trf_thread *t, struct trf_err *err)
{
	struct trf_queue *q = t->q[0];
	struct sync_queue *sq = calloc(1, sizeof(*sq));

	if (!sq)
		return trf_errf(err, -ENOMEM, "out of memory");
	t->io = sq;
	sq->size = t->cfg->frame_size;
	sq->vnet_len = t->cfg->reflect.vnet_hdr ? TRF_VNET_HDR_LEN : 0;
	sq->buf = trf_mem_alloc(sq->size, t->node);
	if (!sq->buf)
		return trf_errf(err, -ENOMEM, "cannot allocate a %zu B frame buffer", sq->size);
	snprintf(q->info.read, sizeof(q->info.read), "blocking");
	snprintf(q->info.wait, sizeof(q->info.wait), "blocking");
	return 0;
}

void trf_sync_frame(struct trf_queue *q, uint8_t *buf, size_t n, size_t size, uint32_t vnet_len)
{
	struct trf_queue_stats *st = &q->stats;
	struct trf_frame f;
	ssize_t w;

	TRF_STAT_ADD(st, frames_read, 1);
	TRF_STAT_ADD(st, bytes_read, n > vnet_len ? n - vnet_len : 0);
	/* A read that filled the buffer was cut short by tun: see trf_uq_add_frame(). */
	if (TRF_UNLIKELY(n >= size)) {
		TRF_STAT_ADD(st, drops[TRF_DROP_TRUNCATED], 1);
		if (TRF_UNLIKELY(q->cap))
			trf_capture_frame(q, buf, (uint32_t)n, TRF_DROP_TRUNCATED);
		return;
	}

	f = (struct trf_frame){ .data = buf, .len = (uint32_t)n };
	q->cfg->reflect_mode->burst(&q->reflect, &f, 1);
	if (f.verdict != TRF_DROP_NONE) {
		if (f.verdict == TRF_CONSUMED) {
			TRF_STAT_ADD(st, frames_consumed, 1);
		} else {
			TRF_STAT_ADD(st, drops[f.verdict], 1);
			if (TRF_UNLIKELY(q->cap))
				trf_capture_frame(q, f.data, f.len, f.verdict);
		}
		return;
	}
	do {
		/* A frame already read is written even when a stop is pending. */
		w = write(q->fd, f.data, f.len);
	} while (w < 0 && errno == EINTR);
	if (w == (ssize_t)f.len) {
		TRF_STAT_ADD(st, frames_written, 1);
		TRF_STAT_ADD(st, bytes_written, (uint64_t)w - vnet_len);
	} else if (w < 0 && errno == EIO) {
		/* tun refuses every write while its link is down: see ring_loop.c, on_write(). */
		TRF_STAT_ADD(st, drops[TRF_IO_DROP_LINK_DOWN], 1);
	} else {
		TRF_STAT_ADD(st, drops[TRF_IO_DROP_WRITE_ERROR], 1);
	}
}

static int sync_run(struct trf_thread *t)
{
	struct trf_queue *q = t->q[0];
	struct sync_queue *sq = t->io;

	while (!trf_engine_stopping(q->eng)) {
		ssize_t n;

		TRF_STAT_ADD(&q->stats, waits, 1);
		n = read(q->fd, sq->buf, sq->size);
		if (TRF_UNLIKELY(n <= 0)) {
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			int ret = trf_queue_error(q, n < 0 ? -errno : -EIO, "reading the device",
						  &q->err);

			trf_queue_failed(q);
			return ret;
		}
		trf_sync_frame(q, sq->buf, (size_t)n, sq->size, sq->vnet_len);
	}
	return 0;
}

static void sync_teardown(struct trf_thread *t)
{
	struct sync_queue *sq = t->io;

	if (!sq)
		return;
	trf_mem_free(sq->buf, sq->size, t->node);
	free(sq);
	t->io = NULL;
}

static void sync_wake(struct trf_thread *t)
{
	pthread_kill(t->pthread, t->cfg->wake_signal);
}

const struct trf_io_ops trf_io_sync_ops = {
	.name = "sync",
	.setup = sync_setup,
	.run = sync_run,
	.teardown = sync_teardown,
	.wake = sync_wake,
};
