// SPDX-License-Identifier: MIT
/*
 * The `iperf2` mode: respond, with UDP to the iperf2 ports taken in as an
 * iperf2 server would, so that an unmodified `iperf -u -c` client gets a true
 * server report from the reflector (tapreflect/iperf2.h has the protocol).
 *
 * Data datagrams are consumed: counted into their flow, never written back.
 * A final datagram (negative sequence number) is counted too, ends the flow's
 * test, and goes back carrying the report, the same length as it came (the
 * report is 128 bytes; a shorter datagram carries what fits), with its UDP
 * checksum computed anew; each repeat of the final gets the same report.
 * Anything else (ARP, ICMP, other UDP, a UDP superpacket) is answered as in
 * respond.
 *
 * Flows are keyed by the 5-tuple in a table per queue: open addressing, a
 * probe window of FLOW_PROBES slots, no allocation, a slot idle for
 * TRF_IPERF2_IDLE_S taken over by a new flow.  A flow stays on one queue: tun
 * picks a queue by the flow's hash, and by the queue that last wrote that
 * hash, which for an iperf2 flow is only ever its own (the report).
 */
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "modes.h"
#include "respond.h"
#include "tapreflect/csum.h"
#include "tapreflect/iperf2.h"
#include "tapreflect/reflect.h"
#include "wire.h"

#define FLOW_PROBES 16
#define IDLE_US ((int64_t)TRF_IPERF2_IDLE_S * 1000000)

_Static_assert((TRF_IPERF2_FLOWS & (TRF_IPERF2_FLOWS - 1)) == 0, "a power of two");

struct flow {
	bool used;
	bool finished; /* the final datagram came: the report is fixed */
	uint8_t ip_version;
	uint8_t src[16], dst[16]; /* IPv4: the first 4 bytes */
	uint16_t sport, dport;
	int64_t first_rx_us, last_rx_us;
	int64_t end_rx_us; /* when the final datagram came: the report's end */
	uint64_t max_id, lost, ooo, bytes;
	int64_t last_transit_us;
	double jitter_us;
	/* Transit statistics (Welford), in microseconds. */
	uint32_t t_cnt;
	double t_min, t_max, t_sum, t_mean, t_m2, t_vd;
};

struct trf_iperf2_state {
	uint64_t (*now_us)(void *arg);
	void *now_arg;
	int64_t now; /* the receive time of the frames being handled */
	struct flow flows[TRF_IPERF2_FLOWS];
};

/* ---- the report ---- */

/* A non-negative value as iperf2 sends it: whole part, then millionths. */
static void store_split(uint8_t *p, double v)
{
	int32_t whole, micro;

	if (!(v >= 0)) /* negative or NaN */
		v = 0;
	if (v > 2147483646.0)
		v = 2147483646.0;
	whole = (int32_t)v; /* v >= 0: truncation is the floor */
	/* To the nearest microsecond, so that what was read is written back the same. */
	micro = (int32_t)((v - whole) * 1e6 + 0.5);
	if (micro >= 1000000) {
		whole++;
		micro -= 1000000;
	}
	trf_store_be32(p, (uint32_t)whole);
	trf_store_be32(p + 4, (uint32_t)micro);
}

static double load_split(const uint8_t *p)
{
	return (double)(int32_t)trf_load_be32(p) + (double)(int32_t)trf_load_be32(p + 4) / 1e6;
}

size_t trf_iperf2_report_encode(uint8_t *out, size_t room, const struct trf_iperf2_report *r)
{
	size_t len = room >= TRF_IPERF2_REPORT_LEN	? TRF_IPERF2_REPORT_LEN
		     : room >= TRF_IPERF2_REPORT_V1_LEN ? TRF_IPERF2_REPORT_V1_LEN
							: 0;
	uint8_t *h = out + TRF_IPERF2_HDR_LEN, *x = h + 40, *x2 = x + 60;

	if (!len)
		return 0;
	memset(out, 0, len);
	trf_store_be32(h, TRF_IPERF2_FLAG_VERSION1 |
			      (len == TRF_IPERF2_REPORT_LEN ? TRF_IPERF2_FLAG_SEQNO64B : 0));
	trf_store_be32(h + 4, (uint32_t)(r->bytes >> 32));
	trf_store_be32(h + 8, (uint32_t)r->bytes);
	store_split(h + 12, r->stop_s);
	trf_store_be32(h + 20, (uint32_t)r->lost);
	trf_store_be32(h + 24, (uint32_t)r->out_of_order);
	trf_store_be32(h + 28, (uint32_t)r->datagrams);
	store_split(h + 32, r->jitter_s);
	if (len < TRF_IPERF2_REPORT_LEN)
		return len;
	store_split(x, r->transit_min_s);
	store_split(x + 8, r->transit_max_s);
	store_split(x + 16, r->transit_sum_s);
	store_split(x + 24, r->transit_mean_s);
	store_split(x + 32, r->transit_m2);
	store_split(x + 40, r->transit_vd_s);
	trf_store_be32(x + 48, r->transit_count);
	/* Inter-packet gap count and sum (x + 52, x + 56): clients print neither; left 0. */
	trf_store_be32(x2, (uint32_t)(r->lost >> 32));
	trf_store_be32(x2 + 4, (uint32_t)(r->out_of_order >> 32));
	trf_store_be32(x2 + 8, (uint32_t)(r->datagrams >> 32));
	return len;
}

int trf_iperf2_report_decode(const uint8_t *in, size_t len, struct trf_iperf2_report *r)
{
	const uint8_t *h = in + TRF_IPERF2_HDR_LEN, *x = h + 40, *x2 = x + 60;
	uint32_t flags;
	bool wide;

	if (len < TRF_IPERF2_REPORT_V1_LEN)
		return -1;
	flags = trf_load_be32(h);
	if (!(flags & TRF_IPERF2_FLAG_VERSION1))
		return -1;
	wide = (flags & TRF_IPERF2_FLAG_SEQNO64B) && len >= TRF_IPERF2_REPORT_LEN;
	*r = (struct trf_iperf2_report){ 0 };
	r->bytes = (uint64_t)trf_load_be32(h + 4) << 32 | trf_load_be32(h + 8);
	r->stop_s = load_split(h + 12);
	r->lost = trf_load_be32(h + 20) | (wide ? (uint64_t)trf_load_be32(x2) << 32 : 0);
	r->out_of_order =
	    trf_load_be32(h + 24) | (wide ? (uint64_t)trf_load_be32(x2 + 4) << 32 : 0);
	r->datagrams = trf_load_be32(h + 28) | (wide ? (uint64_t)trf_load_be32(x2 + 8) << 32 : 0);
	r->jitter_s = load_split(h + 32);
	if (len >= TRF_IPERF2_REPORT_LEN) {
		r->transit_min_s = load_split(x);
		r->transit_max_s = load_split(x + 8);
		r->transit_sum_s = load_split(x + 16);
		r->transit_mean_s = load_split(x + 24);
		r->transit_m2 = load_split(x + 32);
		r->transit_vd_s = load_split(x + 40);
		r->transit_count = trf_load_be32(x + 48);
	}
	return 0;
}

/* ---- flows ---- */

static uint64_t realtime_us(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void iperf2_state_init(void *state)
{
	struct trf_iperf2_state *st = state;

	st->now_us = realtime_us;
	st->now_arg = NULL;
}

void trf_iperf2_set_clock(struct trf_iperf2_state *st, uint64_t (*now_us)(void *arg), void *arg)
{
	st->now_us = now_us;
	st->now_arg = arg;
}

unsigned int trf_iperf2_flows(const struct trf_iperf2_state *st)
{
	int64_t now = (int64_t)st->now_us(st->now_arg);
	unsigned int n = 0;

	for (unsigned int i = 0; i < TRF_IPERF2_FLOWS; i++)
		n += st->flows[i].used && now - st->flows[i].last_rx_us <= IDLE_US;
	return n;
}

struct flow_key {
	uint8_t ip_version;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
};

static uint32_t key_hash(const struct flow_key *k)
{
	uint32_t h = 0x9e3779b9u * (k->ip_version + 1u) ^ ((uint32_t)k->sport << 16 | k->dport);

	for (unsigned int i = 0; i < 16; i += 4) {
		h = (h ^ trf_load_be32(k->src + i)) * 0x85ebca6bu;
		h = (h ^ trf_load_be32(k->dst + i)) * 0xc2b2ae35u;
		h ^= h >> 15;
	}
	return h;
}

static bool key_is(const struct flow *f, const struct flow_key *k)
{
	return f->ip_version == k->ip_version && f->sport == k->sport && f->dport == k->dport &&
	       memcmp(f->src, k->src, 16) == 0 && memcmp(f->dst, k->dst, 16) == 0;
}

static void flow_start(struct flow *f, const struct flow_key *k)
{
	*f = (struct flow){
		.used = true, .ip_version = k->ip_version, .sport = k->sport, .dport = k->dport
	};
	memcpy(f->src, k->src, 16);
	memcpy(f->dst, k->dst, 16);
}

/* The flow of k, found or started in its probe window; NULL when the window is full. */
static struct flow *flow_get(struct trf_iperf2_state *st, const struct flow_key *k)
{
	uint32_t h = key_hash(k);
	struct flow *free_slot = NULL;

	for (unsigned int i = 0; i < FLOW_PROBES; i++) {
		struct flow *f = &st->flows[(h + i) & (TRF_IPERF2_FLOWS - 1)];
		bool idle = f->used && st->now - f->last_rx_us > IDLE_US;

		if (f->used && key_is(f, k)) {
			if (idle)
				flow_start(f, k); /* the same 5-tuple, long after: a new test */
			return f;
		}
		if (!free_slot && (!f->used || idle))
			free_slot = f;
	}
	if (free_slot)
		flow_start(free_slot, k);
	return free_slot;
}

/* One datagram of the flow, numbered id (> 0), sent at tx_s/tx_us by the client's clock. */
static void flow_count(struct flow *f, int64_t now, uint64_t id, uint32_t bytes, uint32_t tx_s,
		       uint32_t tx_us)
{
	int64_t transit;
	double v;

	if (!f->first_rx_us)
		f->first_rx_us = now;
	f->last_rx_us = now;
	f->bytes += bytes;
	if (id != f->max_id + 1) {
		if (id < f->max_id + 1) {
			/* Late: counted out of order, and no transit (as iperf2). */
			f->ooo++;
			return;
		}
		f->lost += id - f->max_id - 1;
	}
	f->max_id = id;
	/* The client's seconds are 32 bits: the difference is taken modulo 2^32. */
	transit = (int64_t)(int32_t)((uint32_t)(now / 1000000) - tx_s) * 1000000 + (now % 1000000) -
		  (int64_t)tx_us;
	if (f->t_cnt) {
		int64_t d = transit - f->last_transit_us;

		f->jitter_us += ((double)(d < 0 ? -d : d) - f->jitter_us) / 16.0;
	}
	f->last_transit_us = transit;
	v = (double)transit;
	if (++f->t_cnt == 1) {
		f->t_min = f->t_max = f->t_sum = f->t_mean = f->t_vd = v;
		f->t_m2 = 0;
		return;
	}
	f->t_sum += v;
	f->t_vd = v - f->t_mean;
	f->t_mean += f->t_vd / f->t_cnt;
	f->t_m2 += f->t_vd * (v - f->t_mean);
	if (v < f->t_min)
		f->t_min = v;
	if (v > f->t_max)
		f->t_max = v;
}

static void flow_report(const struct flow *f, struct trf_iperf2_report *r)
{
	*r = (struct trf_iperf2_report){
		.bytes = f->bytes,
		.datagrams = f->max_id,
		/* A late datagram was first counted lost (as iperf2 does). */
		.lost = f->lost > f->ooo ? f->lost - f->ooo : 0,
		.out_of_order = f->ooo,
		.stop_s = (double)(f->end_rx_us - f->first_rx_us) / 1e6,
		.jitter_s = f->jitter_us / 1e6,
		.transit_min_s = f->t_min / 1e6,
		.transit_max_s = f->t_max / 1e6,
		.transit_sum_s = f->t_sum / 1e6,
		.transit_mean_s = f->t_mean / 1e6,
		.transit_m2 = f->t_m2,
		.transit_vd_s = f->t_vd / 1e6,
		.transit_count = f->t_cnt,
	};
}

/* The UDP checksum of the datagram at udp, computed anew (addresses in either order). */
static void udp_checksum(const uint8_t *ip, bool v4, uint8_t *udp, uint32_t l4len)
{
	uint8_t tail[4] = { 0, TRF_IPPROTO_UDP, (uint8_t)(l4len >> 8), (uint8_t)l4len };
	uint32_t sum;
	uint16_t check;

	memset(udp + 6, 0, 2);
	sum = v4 ? trf_csum_partial(ip + 12, 8, 0) : trf_csum_partial(ip + 8, 32, 0);
	sum = trf_csum_partial(tail, sizeof(tail), sum);
	check = trf_csum_fold(trf_csum_partial(udp, l4len, sum));
	if (check == 0)
		check = 0xffff; /* 0 means "no checksum" */
	memcpy(udp + 6, &check, 2);
}

static enum trf_drop iperf2_udp(const struct trf_reflect_ctx *ctx, uint8_t *ip, uint8_t *udp,
				uint32_t l4len, bool superpacket)
{
	struct trf_iperf2_state *st = ctx->state;
	uint8_t *payload = udp + TRF_UDP_HLEN;
	bool v4 = (ip[0] >> 4) == 4;
	uint32_t plen = l4len - TRF_UDP_HLEN, lo, hi;
	uint16_t dport = trf_load_be16(udp + 2);
	struct trf_iperf2_report r;
	struct flow_key k = { 0 };
	struct flow *f;
	int64_t seq;
	size_t n;

	if (!st || superpacket || dport < ctx->iperf2_port_lo || dport > ctx->iperf2_port_hi ||
	    plen < TRF_IPERF2_HDR_LEN) {
		trf_swap_bytes(udp, udp + 2, 2); /* not iperf2's: as respond */
		return TRF_DROP_NONE;
	}
	/* Sequence number: the low word first, then the high word. */
	lo = trf_load_be32(payload);
	hi = trf_load_be32(payload + 12);
	seq = (int64_t)((uint64_t)hi << 32 | lo);

	k.ip_version = v4 ? 4 : 6;
	if (v4) {
		memcpy(k.src, ip + 12, 4);
		memcpy(k.dst, ip + 16, 4);
	} else {
		memcpy(k.src, ip + 8, 16);
		memcpy(k.dst, ip + 24, 16);
	}
	k.sport = trf_load_be16(udp);
	k.dport = dport;
	f = flow_get(st, &k);
	if (!f)
		return TRF_DROP_IPERF2_TABLE_FULL;

	if (seq >= 0) {
		if (f->finished) /* the same 5-tuple numbering again: a new test */
			flow_start(f, &k);
		/* Sequence number 0 is no data (iperf2 counts from 1). */
		if (seq > 0)
			flow_count(f, st->now, (uint64_t)seq, plen, trf_load_be32(payload + 4),
				   trf_load_be32(payload + 8));
		else
			f->last_rx_us = st->now;
		return TRF_CONSUMED;
	}
	/* The final datagram: counted once; each repeat gets the same report. */
	if (!f->finished) {
		flow_count(f, st->now, (uint64_t)0 - (uint64_t)seq, plen,
			   trf_load_be32(payload + 4), trf_load_be32(payload + 8));
		f->finished = true;
		f->end_rx_us = st->now;
	}
	f->last_rx_us = st->now; /* keeps a finished flow's report for its repeats */
	flow_report(f, &r);
	n = trf_iperf2_report_encode(payload, plen, &r);
	if (!n)
		return TRF_CONSUMED; /* no room for a report: the client says it got none */
	memset(payload + n, 0, plen - n);
	if (!(v4 && udp[6] == 0 && udp[7] == 0))
		udp_checksum(ip, v4, udp, l4len);
	trf_swap_bytes(udp, udp + 2, 2);
	return TRF_DROP_NONE;
}

static void set_now(const struct trf_reflect_ctx *ctx)
{
	struct trf_iperf2_state *st = ctx->state;

	if (st)
		st->now = (int64_t)st->now_us(st->now_arg);
}

enum trf_drop trf_iperf2_frame(const struct trf_reflect_ctx *ctx, uint8_t *frame, uint32_t len,
			       uint32_t *out_len)
{
	set_now(ctx);
	return trf_respond_frame_with(ctx, frame, len, out_len, iperf2_udp);
}

enum trf_drop trf_iperf2_vnet_frame(const struct trf_reflect_ctx *ctx, uint8_t *buf, uint32_t len,
				    uint32_t *out_len)
{
	set_now(ctx);
	return trf_respond_vnet_frame_with(ctx, buf, len, out_len, iperf2_udp);
}

/* One clock reading per burst: its frames were read together. */
static void iperf2_burst(const struct trf_reflect_ctx *ctx, struct trf_frame *frames,
			 unsigned int count)
{
	set_now(ctx);
	for (unsigned int i = 0; i < count; i++) {
		struct trf_frame *f = &frames[i];

		f->verdict =
		    (uint16_t)(ctx->vnet_hdr ? trf_respond_vnet_frame_with(ctx, f->data, f->len,
									   &f->len, iperf2_udp)
					     : trf_respond_frame_with(ctx, f->data, f->len, &f->len,
								      iperf2_udp));
	}
}

const struct trf_reflect_mode trf_reflect_mode_iperf2 = {
	.name = "iperf2",
	.help = "respond, and answer iperf2 UDP clients as a server (--iperf2-ports)",
	.links = TRF_LINK_TAP | TRF_LINK_TUN,
	.burst = iperf2_burst,
	.consumes = true,
	.state_size = sizeof(struct trf_iperf2_state),
	.state_init = iperf2_state_init,
};
