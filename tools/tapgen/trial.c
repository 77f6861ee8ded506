// SPDX-License-Identifier: MIT
/*
 * One tapgen trial: sequence-numbered, timestamped datagrams over many flows
 * (one destination port, or ICMP echo id, per flow) at a fixed rate or as
 * fast as possible, the reflections received on the same socket, every one
 * accounted: unique, duplicate, reordered, foreign (not ours) or late (from
 * an earlier trial), with a round-trip time histogram; with --imix, of the
 * mix's sizes in its interleave, and accounted by size too.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tapgen.h"

volatile sig_atomic_t tapgen_interrupted;

uint64_t tapgen_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Count a reply by its sequence number; true when it is the first of seq (unique). */
static bool mark_seen(struct gen_stats *s, uint64_t seq, int flow)
{
	uint64_t idx;
	size_t byte;

	if (seq < s->base_seq) {
		s->late++; /* a straggler from an earlier trial */
		return false;
	}
	idx = seq - s->base_seq;
	byte = idx / 8;
	if (idx >= s->sent) {
		s->foreign++; /* not a sequence number this trial sent */
		return false;
	}
	if (byte >= s->seen_bytes) {
		size_t n = s->seen_bytes ? s->seen_bytes : 1 << 16;
		uint8_t *p;

		while (n <= byte)
			n *= 2;
		p = realloc(s->seen, n);
		if (!p) {
			s->foreign++;
			return false;
		}
		memset(p + s->seen_bytes, 0, n - s->seen_bytes);
		s->seen = p;
		s->seen_bytes = n;
	}
	if (s->seen[byte] & (1u << (idx % 8))) {
		s->duplicates++;
		return false;
	}
	s->seen[byte] |= (uint8_t)(1u << (idx % 8));
	s->unique++;
	if (flow < 0)
		return true;
	if (idx + 1 < s->flow_top[flow])
		s->reordered++;
	else
		s->flow_top[flow] = idx + 1;
	return true;
}

/* The payload after our sequence number and time stamp: byte b is b * 7 + 1. */
static uint8_t filler[MAX_PAYLOAD];

static void receive_some(int fd, struct gen_stats *s, const struct gen_opts *o)
{
	/* Room for the largest datagram (a raw IPv4 socket adds the IP header). */
	static uint8_t bufs[MAX_BATCH][65536];
	struct sockaddr_storage from[MAX_BATCH];
	struct mmsghdr msgs[MAX_BATCH];
	struct iovec iov[MAX_BATCH];
	int n;

	for (;;) {
		for (int i = 0; i < MAX_BATCH; i++) {
			iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
			msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &from[i],
								 .msg_namelen = sizeof(from[i]),
								 .msg_iov = &iov[i],
								 .msg_iovlen = 1 } };
		}
		n = recvmmsg(fd, msgs, MAX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		uint64_t t = tapgen_now_ns();
		for (int i = 0; i < n; i++) {
			int off = o->traffic->match(o, bufs[i], msgs[i].msg_len);
			uint64_t seq, ts, rtt;
			unsigned int size = 0; /* --imix: the size seq was sent with */
			size_t len, want = o->payload;
			bool unique;

			if (off < 0) {
				if (o->traffic->counts_foreign)
					s->foreign++;
				continue;
			}
			/* match() took only a length of ours: at least the 16 B below. */
			len = msgs[i].msg_len - (unsigned int)off;
			memcpy(&seq, bufs[i] + off, 8);
			memcpy(&ts, bufs[i] + off + 8, 8);
			if (o->imix) {
				size = tapgen_imix_index(o->imix, seq);
				want = o->imix->payload[size];
			}
			/* A size other than its sequence number's is a reply changed on the way. */
			if (len != want || (want > 16 && memcmp(bufs[i] + off + 16, filler + 16,
								want - 16) != 0)) {
				s->corrupt++; /* counted apart, and lost */
				continue;
			}
			s->received++;
			unique = mark_seen(s, seq, o->traffic->flow_of(o, bufs[i], off, &from[i]));
			rtt = t > ts ? t - ts : 0;
			tapgen_hist_record(s->rtt, rtt);
			s->rtt_sum_ns += rtt;
			if (s->imix) {
				s->imix->reflected[size] += unique;
				tapgen_hist_record(s->imix->rtt[size], rtt);
			}
			if (o->live)
				tapgen_live_rtt(o->live, rtt);
		}
		if (o->live)
			tapgen_live_publish(o->live, s);
	}
}

double tapgen_rtt_percentile_us(const struct gen_stats *s, double p)
{
	return (double)tapgen_hist_percentile(s->rtt, p) / 1e3;
}

double tapgen_loss_ratio(const struct trial *t)
{
	return t->st.sent ? (double)(t->st.sent - t->st.unique) / (double)t->st.sent : 1.0;
}

/*
 * One trial at `rate` for `duration` seconds, then up to --drain seconds for
 * late replies.  *seq carries the sequence numbers across trials, so that a
 * late reply from an earlier trial is never counted in this one.
 */
int tapgen_run_trial(int fd, const struct gen_opts *o, double rate, double duration, uint64_t *seq,
		     struct trial *t)
{
	static uint8_t payloads[MAX_BATCH][MAX_PAYLOAD];
	static struct sockaddr_storage names[MAX_BATCH];
	static struct mmsghdr msgs[MAX_BATCH];
	static struct iovec iov[MAX_BATCH];
	uint64_t start, end, next, interval_ns = 0, last_progress, last_sent = 0, last_recv = 0;
	unsigned int batch = o->batch, flow = 0;
	unsigned int segs = o->gso ? o->gso : 1;

	for (unsigned int b = 0; b < MAX_PAYLOAD; b++)
		filler[b] = (uint8_t)(b * 7 + 1);
	size_t hlen = o->traffic->hlen; /* our data follows the kind's header */
	size_t dgram = hlen + o->payload;
	/* The largest payload sent: with --imix, every size's datagram is a prefix of it. */
	size_t fill = o->imix ? o->imix->max_payload : o->payload;
	struct tapgen_hist *rtt = t->st.rtt;
	uint64_t *flow_top = t->st.flow_top;
	uint8_t *seen = t->st.seen;
	size_t seen_bytes = t->st.seen_bytes;
	struct tapgen_imix_stats *by_size = t->st.imix;

	tapgen_hist_reset(rtt);
	memset(flow_top, 0, o->flows * sizeof(*flow_top));
	if (seen)
		memset(seen, 0, seen_bytes);
	if (by_size)
		tapgen_imix_stats_reset(by_size);
	/*
	 * --imix: begin at a cycle, so that every trial sends the same sequence
	 * and seq % cycle is each datagram's place in it (the numbers skipped
	 * are never sent: no reply can carry them).
	 */
	if (o->imix)
		*seq = tapgen_imix_align(o->imix, *seq);
	t->st = (struct gen_stats){ .base_seq = *seq,
				    .rtt = rtt,
				    .flow_top = flow_top,
				    .seen = seen,
				    .seen_bytes = seen_bytes,
				    .imix = by_size };
	t->rate = rate;
	t->duration = duration;
	if (o->live)
		tapgen_live_begin(o->live, rate);
	if (rate > 0) {
		/* Keep bursts at most about 50 us apart at this rate. */
		unsigned int max_batch = (unsigned int)(rate / 20000 / segs) + 1;

		if (batch > max_batch)
			batch = max_batch;
		interval_ns = (uint64_t)(1e9 * batch * segs / rate);
	}

	/* A message is one datagram, or --gso datagrams the kernel cuts apart (UDP_SEGMENT). */
	for (unsigned int i = 0; i < batch; i++) {
		iov[i] = (struct iovec){ payloads[i], dgram * segs };
		msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &names[i],
							 .msg_namelen = o->dst_len,
							 .msg_iov = &iov[i],
							 .msg_iovlen = 1 } };
		names[i] = o->dst;
		for (unsigned int j = 0; j < segs; j++)
			memcpy(payloads[i] + j * dgram + hlen + 16, filler + 16, fill - 16);
	}

	start = tapgen_now_ns();
	end = start + (uint64_t)(duration * 1e9);
	next = start;
	last_progress = start;
	while (!tapgen_interrupted) {
		uint64_t now = tapgen_now_ns();
		int n;

		if (now >= end)
			break;
		if (interval_ns && now < next) {
			uint64_t wait_ns = next - now;
			struct pollfd pfd = { .fd = fd, .events = POLLIN };

			if (wait_ns > 200000)
				poll(&pfd, 1, (int)(wait_ns / 1000000)); /* wake for replies too */
			receive_some(fd, &t->st, o);
			continue;
		}
		for (unsigned int i = 0; i < batch; i++) {
			/* Every datagram of a message goes to the message's flow. */
			for (unsigned int j = 0; j < segs; j++) {
				uint64_t s = *seq + (uint64_t)i * segs + j;
				uint8_t *d = payloads[i] + j * dgram;
				size_t len = dgram;

				/* --imix (never with --gso, so one datagram a message): seq's size. */
				if (o->imix) {
					len =
					    hlen + o->imix->payload[tapgen_imix_index(o->imix, s)];
					iov[i].iov_len = len;
				}
				memcpy(d + hlen, &s, 8);
				memcpy(d + hlen + 8, &now, 8);
				o->traffic->fill(o, d, len, &names[i], flow, s);
			}
			flow = flow + 1 == o->flows ? 0 : flow + 1;
		}
		n = sendmmsg(fd, msgs, batch, 0);
		if (n < 0) {
			t->st.send_errors++;
			n = 0;
		}
		t->st.sent += (uint64_t)n * segs;
		*seq += (uint64_t)n * segs;
		if (o->live)
			tapgen_live_publish(o->live, &t->st);
		if (interval_ns)
			next += interval_ns;
		receive_some(fd, &t->st, o);
		if (o->progress && !o->search && now - last_progress >= 1000000000ull) {
			double dt = (double)(now - last_progress) / 1e9;

			fprintf(stderr, "\r[%5.1fs] sent %9.0f pps  received %9.0f pps\033[K",
				(double)(now - start) / 1e9, (double)(t->st.sent - last_sent) / dt,
				(double)(t->st.received - last_recv) / dt);
			last_progress = now;
			last_sent = t->st.sent;
			last_recv = t->st.received;
		}
	}
	t->elapsed = (double)(tapgen_now_ns() - start) / 1e9;
	{
		uint64_t drain_end = tapgen_now_ns() + (uint64_t)(o->drain * 1e9);

		while (tapgen_now_ns() < drain_end && t->st.unique < t->st.sent) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };

			poll(&pfd, 1, 10);
			receive_some(fd, &t->st, o);
		}
	}
	if (o->live)
		tapgen_live_end(o->live, &t->st);
	if (o->progress && !o->search)
		fputs("\n", stderr);
	return tapgen_interrupted ? -EINTR : 0;
}
