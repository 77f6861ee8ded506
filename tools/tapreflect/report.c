// SPDX-License-Identifier: MIT
/*
 * tapreflect's reports: the start line, the live line and JSON interval
 * records, and the summary with its accounting check.  The JSON records are
 * built as jansson objects, each key set next to its value, in the order
 * docs/schemas/ documents them.
 */
#include "report.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "ready.h"

/* The device's name: what the engine opened (a %d in --dev is filled in by then). */
static const char *dev_name(const struct trf_engine *eng, struct trf_engine_info *info)
{
	trf_engine_info(eng, info);
	return info->dev;
}

double report_elapsed(const struct timespec *start)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)(ts.tv_sec - start->tv_sec) + (double)(ts.tv_nsec - start->tv_nsec) / 1e9;
}

double report_cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

void report_sample(struct report *r, struct sample *s)
{
	s->t = report_elapsed(&r->start);
	s->cpu_s = report_cpu_seconds() - r->cpu_start;
	s->total = (struct trf_queue_stats){ 0 };
	for (unsigned int q = 0; q < r->nq; q++) {
		trf_engine_sample(r->eng, q, &s->queues[q]);
		trf_stats_accumulate(&s->total, &s->queues[q]);
	}
}

static double ns_per_frame(double cpu_s, uint64_t frames)
{
	return frames ? cpu_s * 1e9 / (double)frames : 0.0;
}

/*
 * What a syscall costs, for people: "225 ns", "200 ns (given)" (--syscall-ns),
 * or "unknown" (0: the clock failed).
 */
static const char *syscall_text(const struct trf_config *cfg, char *buf, size_t len)
{
	if (!cfg->syscall_ns)
		return "unknown";
	snprintf(buf, len, "%u ns%s", (unsigned int)cfg->syscall_ns,
		 cfg->syscall_ns_given ? " (given)" : "");
	return buf;
}

/* "off" without a virtio-net header, else the offloads granted ("csum,tso4,..."). */
static const char *offloads_text(const struct trf_engine_info *info, char *buf, size_t len)
{
	if (!info->vnet_hdr)
		return "off";
	return trf_offloads_describe(info->offloads, buf, len);
}

/*
 * What is in force on a queue, in the records and the human texts: the
 * attributes that can differ between queues (--io uring only; the sync
 * engine reads and waits blocking on every queue), each with its JSON key
 * and how a person reads it: "multishot reads", "ring COOP_TASKRUN".
 */
static const struct queue_attr {
	const char *key;
	size_t off; /* in struct trf_queue_info */
	const char *label;
	bool value_first;
	bool ring; /* a field of the ring: --io uring only */
} queue_attrs[] = {
	{ "read", offsetof(struct trf_queue_info, read), "reads", true, false },
	{ "ring_flags", offsetof(struct trf_queue_info, ring_flags), "ring", false, true },
	{ "ring_restricted", offsetof(struct trf_queue_info, ring_restricted), "restricted", false,
	  true },
	{ "wait", offsetof(struct trf_queue_info, wait), "wait", false, false },
};
#define NATTRS (sizeof(queue_attrs) / sizeof(queue_attrs[0]))

static const char *attr(const struct trf_queue_info *qi, unsigned int a)
{
	return (const char *)qi + queue_attrs[a].off;
}

static struct trf_queue_info queue_info(const struct trf_engine *eng, unsigned int q)
{
	struct trf_queue_info qi = { 0 };

	trf_engine_queue_info(eng, q, &qi);
	return qi;
}

/* Which attributes, and whether the fallbacks, differ between the queues. */
struct agreement {
	struct trf_queue_info first; /* queue 0: what the others are compared with */
	bool differs[NATTRS];
	bool fallback_differs;
	bool any; /* something differs: the human texts say it queue by queue */
};

static void queues_agree(const struct trf_engine *eng, struct agreement *a)
{
	unsigned int nq = trf_engine_config(eng)->queues;

	*a = (struct agreement){ .first = queue_info(eng, 0) };
	for (unsigned int q = 1; q < nq; q++) {
		struct trf_queue_info qi = queue_info(eng, q);

		for (unsigned int i = 0; i < NATTRS; i++)
			if (strcmp(attr(&qi, i), attr(&a->first, i)) != 0)
				a->differs[i] = a->any = true;
		if (strcmp(qi.fallback, a->first.fallback) != 0)
			a->fallback_differs = a->any = true;
	}
}

/*
 * The engine's part of the start line (" with multishot reads, ring ...,
 * wait sleep") or of the summary (" (multishot reads, ...; fell back: why)"):
 * one value for what every queue agrees on, "per queue" for what differs
 * (said queue by queue after the line), and a fallback every queue shares
 * with its reason.
 */
static void say_in_force(FILE *f, const struct trf_engine *eng, const struct agreement *a,
			 bool start)
{
	const char *fallback = a->fallback_differs    ? "on some queues, each said below"
			       : a->first.fallback[0] ? a->first.fallback
						      : NULL;

	if (trf_engine_config(eng)->io != TRF_IO_URING) {
		if (fallback)
			fprintf(f, " (fell back: %s)", fallback);
		return;
	}
	fputs(start ? " with " : " (", f);
	for (unsigned int i = 0; i < NATTRS; i++) {
		const struct queue_attr *qa = &queue_attrs[i];

		if (i)
			fputs(", ", f);
		if (a->differs[i])
			fprintf(f, "%s per queue", qa->label);
		else if (qa->value_first)
			fprintf(f, "%s %s", attr(&a->first, i), qa->label);
		else
			fprintf(f, "%s %s", qa->label, attr(&a->first, i));
	}
	if (fallback)
		fprintf(f, start ? " (fell back: %s)" : "; fell back: %s", fallback);
	if (!start)
		fputc(')', f);
}

/* After a line that said "per queue": each queue's own values of what differs, and its fallback. */
static void say_queues_in_force(FILE *f, const struct trf_engine *eng, const struct agreement *a)
{
	unsigned int nq = trf_engine_config(eng)->queues;

	if (!a->any)
		return;
	for (unsigned int q = 0; q < nq; q++) {
		struct trf_queue_info qi = queue_info(eng, q);
		const char *sep = "";

		fprintf(f, "  queue %u (cpu %d, thread %u): ", q, qi.cpu, qi.thread);
		for (unsigned int i = 0; i < NATTRS; i++) {
			const struct queue_attr *qa = &queue_attrs[i];

			if (!a->differs[i])
				continue;
			if (qa->value_first)
				fprintf(f, "%s%s %s", sep, attr(&qi, i), qa->label);
			else
				fprintf(f, "%s%s %s", sep, qa->label, attr(&qi, i));
			sep = ", ";
		}
		if (a->fallback_differs)
			fprintf(f, "%s%s%s", sep,
				qi.fallback[0] ? "fell back: " : "nothing fell back", qi.fallback);
		fputc('\n', f);
	}
}

/* "steering hash", "steering kernel (steering program refused: ...)", "steering none (one queue)". */
static void say_steering(FILE *f, const struct trf_engine_info *info)
{
	fprintf(f, ", steering %s", info->steering);
	if (info->steering_why[0])
		fprintf(f, " (%s)", info->steering_why);
}

static json_t *json_drops(const struct trf_queue_stats *now, const struct trf_queue_stats *before)
{
	json_t *o = json_object();

	for (unsigned int d = 1; d < TRF_STAT_DROPS; d++)
		json_object_set_new(
		    o, trf_stat_drop_name(d),
		    trf_json_count(now->drops[d] - (before ? before->drops[d] : 0)));
	return o;
}

/*
 * What is in force on queue q, the first fields of its per_queue entry in
 * the start record and the summary.  The ring's fields only where there is
 * a ring (--io uring); fallback is "" where nothing fell back.
 */
static json_t *json_queue_in_force(const struct trf_engine *eng, unsigned int q)
{
	struct trf_queue_info qi = queue_info(eng, q);
	bool uring = trf_engine_config(eng)->io == TRF_IO_URING;
	json_t *o = json_object();

	json_object_set_new(o, "queue", json_integer(q));
	json_object_set_new(o, "cpu", json_integer(qi.cpu));
	json_object_set_new(o, "node", json_integer(qi.node));
	json_object_set_new(o, "thread", json_integer(qi.thread));
	for (unsigned int i = 0; i < NATTRS; i++)
		if (uring || !queue_attrs[i].ring)
			json_object_set_new(o, queue_attrs[i].key, trf_json_text(attr(&qi, i)));
	json_object_set_new(o, "fallback", trf_json_text(qi.fallback));
	return o;
}

/*
 * The fields of the whole engine, the same in the start record and the
 * summary: the device, the configuration, how many threads serve the
 * queues, and the steering in force with why it is not what was asked;
 * then the machine's: what a bare syscall costs (measured once, at the
 * start: both records say the same figure; 0 is unknown).
 */
static void json_engine(json_t *rec, const struct trf_engine *eng)
{
	const struct trf_config *cfg = trf_engine_config(eng);
	struct trf_engine_info info;
	char offloads[64];

	trf_engine_info(eng, &info);
	json_object_set_new(rec, "dev", trf_json_text(info.dev));
	json_object_set_new(rec, "dev_persistent", json_boolean(info.dev_persistent));
	json_object_set_new(rec, "link", json_string(trf_link_name(cfg->link)));
	json_object_set_new(rec, "io", json_string(trf_io_name(cfg->io)));
	json_object_set_new(rec, "reflect", json_string(cfg->reflect_mode->name));
	json_object_set_new(rec, "queues", json_integer(info.queues));
	json_object_set_new(rec, "threads", json_integer(info.threads));
	json_object_set_new(rec, "steering", json_string(info.steering));
	/* A refused steering program's reason is the kernel's words. */
	json_object_set_new(rec, "steering_why", trf_json_text(info.steering_why));
	json_object_set_new(rec, "vnet_hdr", json_boolean(info.vnet_hdr));
	json_object_set_new(rec, "offloads",
			    json_string(offloads_text(&info, offloads, sizeof(offloads))));
	json_object_set_new(rec, "buffers", json_integer(cfg->buffers));
	json_object_set_new(rec, "frame_size", json_integer(cfg->frame_size));
	json_object_set_new(rec, "user", cfg->run_as ? trf_json_text(cfg->run_user) : json_null());
	json_object_set_new(rec, "syscall_ns", json_integer(trf_engine_config(eng)->syscall_ns));
}

static json_t *json_record(const char *type)
{
	json_t *rec = json_object();

	json_object_set_new(rec, "type", json_string(type));
	json_object_set_new(rec, "schema_version", json_integer(REPORT_SCHEMA_VERSION));
	return rec;
}

/*
 * Watch the device between ticks: a link that goes down or up, and an MTU
 * that changes, are said once on stderr; an MTU whose frames no longer fit
 * a buffer says what to restart with.
 */
void report_watch_link(struct report *r)
{
	const struct trf_config *cfg = trf_engine_config(r->eng);
	struct trf_engine_info info;
	const char *dev = dev_name(r->eng, &info);
	struct trf_link_info now;
	unsigned int overhead;

	if (trf_netcfg_link_info(dev, &now) < 0) {
		r->link_gone = true;
		return;
	}
	if (r->link_known && now.up != r->link.up)
		fprintf(stderr,
			now.up ? "tapreflect: %s: link up again: frames flow\n"
			       : "tapreflect: %s: link down: frames stop, and writes of frames "
				 "already read are dropped (link_down) until it is up\n",
			dev);
	if (now.mtu && (!r->link_known || now.mtu != r->link.mtu)) {
		/* The largest frame at this MTU: L2 header with one VLAN tag, virtio-net header. */
		overhead =
		    (cfg->link == TRF_LINK_TAP ? 18 : 0) + (info.vnet_hdr ? TRF_VNET_HDR_LEN : 0);
		if (r->link_known)
			fprintf(stderr, "tapreflect: %s: MTU %u -> %u%s", dev, r->link.mtu, now.mtu,
				now.mtu + overhead < cfg->frame_size ? "\n" : ": ");
		else if (now.mtu + overhead >= cfg->frame_size)
			fprintf(stderr, "tapreflect: %s: MTU %u: ", dev, now.mtu);
		if (now.mtu + overhead >= cfg->frame_size)
			fprintf(stderr,
				"packets over %u B do not fit a %u B buffer and are dropped "
				"(truncated) — run with --frame-size %u or more\n",
				cfg->frame_size - 1 - overhead, cfg->frame_size,
				now.mtu + overhead + 1);
	}
	r->link = now;
	r->link_known = true;
}
void report_interval(struct report *r)
{
	const struct sample *a = &r->prev, *b = &r->cur;
	double dt = b->t - a->t;
	uint64_t rd = b->total.frames_read - a->total.frames_read;
	uint64_t wr = b->total.frames_written - a->total.frames_written;
	uint64_t co = b->total.frames_consumed - a->total.frames_consumed;
	uint64_t dr = trf_stats_dropped(&b->total) - trf_stats_dropped(&a->total);
	uint64_t bytes = b->total.bytes_read - a->total.bytes_read;
	double cpu = ns_per_frame(b->cpu_s - a->cpu_s, rd);
	uint64_t wakeups = b->total.waits - a->total.waits;
	double batch = wakeups ? (double)rd / (double)wakeups : 0.0;
	/* Frames stop while the link is down: the live line says why. */
	int up = r->link_gone ? -1 : !r->link_known || r->link.up;
	json_t *rec, *per_queue;

	if (dt <= 0)
		return;
	if (r->live) {
		char consumed[48] = "";

		if (trf_engine_config(r->eng)->reflect_mode->consumes)
			snprintf(consumed, sizeof(consumed), "  consumed %8.1f kpps",
				 (double)co / dt / 1e3);
		fprintf(r->human,
			"%s[%7.1fs] rx %8.1f kpps  tx %8.1f kpps%s  %6.2f Gbit/s  dropped %" PRIu64
			"  cpu %5.0f ns/frame  batch %5.1f%s%s",
			r->live_tty ? "\r" : "", b->t, (double)rd / dt / 1e3, (double)wr / dt / 1e3,
			consumed, (double)bytes * 8 / dt / 1e9, dr, cpu, batch,
			up == 0	 ? "  LINK DOWN"
			: up < 0 ? "  DEVICE GONE"
				 : "",
			r->live_tty ? "\033[K" : "\n");
		fflush(r->human);
	}
	if (!r->json)
		return;
	rec = json_record("interval");
	json_object_set_new(rec, "t", trf_json_fixed(b->t, 3));
	json_object_set_new(rec, "dt", trf_json_fixed(dt, 3));
	json_object_set_new(rec, "frames_read", trf_json_count(rd));
	json_object_set_new(rec, "frames_written", trf_json_count(wr));
	json_object_set_new(rec, "frames_consumed", trf_json_count(co));
	json_object_set_new(rec, "frames_dropped", trf_json_count(dr));
	json_object_set_new(rec, "bytes_read", trf_json_count(bytes));
	json_object_set_new(rec, "pps_read", trf_json_whole((double)rd / dt));
	json_object_set_new(rec, "pps_written", trf_json_whole((double)wr / dt));
	json_object_set_new(rec, "gbps", trf_json_fixed((double)bytes * 8 / dt / 1e9, 4));
	json_object_set_new(rec, "cpu_ns_per_frame", trf_json_fixed(cpu, 1));
	json_object_set_new(rec, "wakeups", trf_json_count(wakeups));
	json_object_set_new(rec, "frames_per_wakeup", trf_json_fixed(batch, 2));
	json_object_set_new(rec, "link_up", json_boolean(up > 0));
	json_object_set_new(rec, "drops", json_drops(&b->total, &a->total));
	per_queue = json_array();
	for (unsigned int q = 0; q < r->nq; q++) {
		const struct trf_queue_stats *qa = &a->queues[q], *qb = &b->queues[q];
		json_t *o = json_object();

		json_object_set_new(o, "queue", json_integer(q));
		json_object_set_new(o, "frames_read",
				    trf_json_count(qb->frames_read - qa->frames_read));
		json_object_set_new(o, "frames_written",
				    trf_json_count(qb->frames_written - qa->frames_written));
		json_object_set_new(o, "frames_consumed",
				    trf_json_count(qb->frames_consumed - qa->frames_consumed));
		json_object_set_new(o, "frames_dropped",
				    trf_json_count(trf_stats_dropped(qb) - trf_stats_dropped(qa)));
		json_object_set_new(
		    o, "pps_read",
		    trf_json_whole((double)(qb->frames_read - qa->frames_read) / dt));
		json_object_set_new(o, "frames_blocking",
				    trf_json_count(qb->frames_blocking - qa->frames_blocking));
		json_object_set_new(o, "hybrid_switches",
				    trf_json_count(qb->hybrid_switches - qa->hybrid_switches));
		json_array_append_new(per_queue, o);
	}
	json_object_set_new(rec, "per_queue", per_queue);
	trf_json_write(r->json, rec);
}

/* The frame and byte totals of a queue, or of them all: read = written + consumed + dropped. */
static void json_totals(json_t *o, const struct trf_queue_stats *s)
{
	json_object_set_new(o, "frames_read", trf_json_count(s->frames_read));
	json_object_set_new(o, "bytes_read", trf_json_count(s->bytes_read));
	json_object_set_new(o, "frames_written", trf_json_count(s->frames_written));
	json_object_set_new(o, "bytes_written", trf_json_count(s->bytes_written));
	json_object_set_new(o, "frames_consumed", trf_json_count(s->frames_consumed));
	json_object_set_new(o, "frames_dropped", trf_json_count(trf_stats_dropped(s)));
}

/* Queue q's summary entry: what was in force on it, then its totals. */
static json_t *json_queue_totals(const struct report *r, unsigned int q,
				 const struct trf_queue_stats *s)
{
	json_t *o = json_queue_in_force(r->eng, q);

	json_object_set_new(o, "ended_early", json_boolean(r->failed_said && r->failed_said[q]));
	json_totals(o, s);
	json_object_set_new(o, "read_rearms", trf_json_count(s->read_rearms));
	json_object_set_new(o, "frames_blocking", trf_json_count(s->frames_blocking));
	json_object_set_new(o, "hybrid_switches", trf_json_count(s->hybrid_switches));
	json_object_set_new(o, "waits", trf_json_count(s->waits));
	json_object_set_new(o, "drops", json_drops(s, NULL));
	return o;
}

/*
 * --capture-drops: what became of the dropped frames.  Each was captured (in
 * its reason's file), or is counted as not captured: over --capture-limit,
 * its queue's ring full (the writer behind), its file not made or written,
 * or dropped by the I/O path (never captured: the frame was a reply by then).
 */
struct capture_tally {
	uint64_t captured, limited, full, file_errors, io_drops, not_captured;
	bool exact; /* captured + not captured = dropped */
};

static void capture_tally(const struct report *r, struct capture_tally *ct)
{
	const struct trf_queue_stats *t = &r->cur.total;
	struct capture_reason cr;

	*ct = (struct capture_tally){ .limited = t->capture_limited, .full = t->capture_full };
	for (unsigned int d = 0; d < TRF_STAT_DROPS; d++) {
		capture_reason(r->cap, d, &cr);
		ct->captured += cr.captured;
		ct->file_errors += cr.file_errors;
		if (d >= TRF_DROP__COUNT)
			ct->io_drops += t->drops[d];
	}
	ct->not_captured = ct->limited + ct->full + ct->file_errors + ct->io_drops;
	ct->exact = ct->captured + ct->not_captured == trf_stats_dropped(t);
}

/* The summary's "capture" object; null without --capture-drops. */
static json_t *json_capture(const struct report *r)
{
	struct capture_tally ct;
	struct capture_reason cr;
	json_t *o, *why, *by_reason;

	if (!r->cap)
		return json_null();
	capture_tally(r, &ct);
	o = json_object();
	json_object_set_new(o, "file", trf_json_text(capture_path(r->cap)));
	json_object_set_new(o, "limit", json_integer(trf_engine_config(r->eng)->capture_limit));
	json_object_set_new(o, "captured", trf_json_count(ct.captured));
	json_object_set_new(o, "not_captured", trf_json_count(ct.not_captured));
	why = json_object();
	json_object_set_new(why, "limit", trf_json_count(ct.limited));
	json_object_set_new(why, "full", trf_json_count(ct.full));
	json_object_set_new(why, "file_error", trf_json_count(ct.file_errors));
	json_object_set_new(why, "io_drop", trf_json_count(ct.io_drops));
	json_object_set_new(o, "not_captured_by", why);
	/* The reasons whose frames reached the writer: where they went. */
	by_reason = json_object();
	for (unsigned int d = 1; d < TRF_DROP__COUNT; d++) {
		json_t *e;

		capture_reason(r->cap, d, &cr);
		if (!cr.captured && !cr.file_errors)
			continue;
		e = json_object();
		json_object_set_new(e, "file", trf_json_text(cr.file));
		json_object_set_new(e, "captured", trf_json_count(cr.captured));
		json_object_set_new(e, "file_errors", trf_json_count(cr.file_errors));
		json_object_set_new(by_reason, trf_stat_drop_name(d), e);
	}
	json_object_set_new(o, "by_reason", by_reason);
	json_object_set_new(o, "exact", json_boolean(ct.exact));
	return o;
}

/* The summary's capture lines: by reason, with the files, then what was not captured and why. */
static bool say_capture(const struct report *r, FILE *h)
{
	uint64_t dropped = trf_stats_dropped(&r->cur.total);
	struct capture_tally ct;
	struct capture_reason cr;

	capture_tally(r, &ct);
	fprintf(h, "  captured: %" PRIu64 " of %" PRIu64 " dropped frame(s)", ct.captured, dropped);
	for (unsigned int d = 1; d < TRF_DROP__COUNT; d++) {
		capture_reason(r->cap, d, &cr);
		if (cr.captured)
			fprintf(h, "; %s %" PRIu64 " in %s", trf_stat_drop_name(d), cr.captured,
				cr.file);
	}
	fputs("\n", h);
	fprintf(h,
		"  not captured: %" PRIu64 " (%" PRIu64 " over --capture-limit %u/s, %" PRIu64
		" with the writer behind, %" PRIu64 " file errors, %" PRIu64
		" I/O drops: write_error, link_down, aborted are never captured): captured %" PRIu64
		" + not captured %" PRIu64 " = dropped %" PRIu64 ": %s\n",
		ct.not_captured, ct.limited, trf_engine_config(r->eng)->capture_limit, ct.full,
		ct.file_errors, ct.io_drops, ct.captured, ct.not_captured, dropped,
		ct.exact ? "exact" : "MISMATCH");
	return ct.exact;
}

static void json_summary(const struct report *r, uint64_t kernel_drops, bool exact, int exit_code)
{
	const struct sample *s = &r->cur;
	const struct trf_queue_stats *t = &s->total;
	json_t *rec = json_record("summary"), *per_queue = json_array();

	json_object_set_new(rec, "version", json_string(TRF_VERSION));
	json_engine(rec, r->eng);
	json_object_set_new(rec, "elapsed_s", trf_json_fixed(s->t, 3));
	json_object_set_new(rec, "cpu_s", trf_json_fixed(s->cpu_s, 4));
	json_object_set_new(rec, "cpu_ns_per_frame",
			    trf_json_fixed(ns_per_frame(s->cpu_s, t->frames_read), 1));
	json_object_set_new(rec, "wakeups", trf_json_count(t->waits));
	json_object_set_new(
	    rec, "frames_per_wakeup",
	    trf_json_fixed(t->waits ? (double)t->frames_read / (double)t->waits : 0.0, 2));
	json_totals(rec, t);
	json_object_set_new(rec, "kernel_tx_dropped", trf_json_count(kernel_drops));
	json_object_set_new(rec, "accounting_exact", json_boolean(exact));
	json_object_set_new(rec, "exit_code", json_integer(exit_code));
	json_object_set_new(rec, "drops", json_drops(t, NULL));
	json_object_set_new(rec, "capture", json_capture(r));
	for (unsigned int q = 0; q < r->nq; q++)
		json_array_append_new(per_queue, json_queue_totals(r, q, &s->queues[q]));
	json_object_set_new(rec, "per_queue", per_queue);
	trf_json_write(r->json, rec);
}

bool report_summary(struct report *r, int exit_code)
{
	const struct trf_config *cfg = trf_engine_config(r->eng);
	const struct sample *s = &r->cur;
	const struct trf_queue_stats *t = &s->total;
	uint64_t dropped = trf_stats_dropped(t), kernel_drops = 0, kd_now = 0;
	bool exact = true, capture_exact = true, have_kd;
	struct trf_engine_info info;
	struct agreement agree;
	const char *dev = dev_name(r->eng, &info);
	char offloads[64], syscall[32];
	FILE *h = r->human;

	/* Every frame read was written, taken in by the mode, or dropped with a reason. */
	for (unsigned int q = 0; q < r->nq; q++)
		if (s->queues[q].frames_read != s->queues[q].frames_written +
						    s->queues[q].frames_consumed +
						    trf_stats_dropped(&s->queues[q]))
			exact = false;
	have_kd = trf_netcfg_tx_dropped(dev, &kd_now) == 0;
	if (have_kd && kd_now >= r->kernel_drops_start)
		kernel_drops = kd_now - r->kernel_drops_start;

	/* Read once the engine stopped: a queue's read strategy may have fallen back as it ran. */
	queues_agree(r->eng, &agree);
	if (r->live_tty && r->live)
		fputs("\n", h);
	fprintf(h, "tapreflect summary: %s (%s, %u queue%s", dev, trf_link_name(cfg->link), r->nq,
		r->nq == 1 ? "" : "s");
	if (r->nq > 1 || info.steering_why[0])
		say_steering(h, &info);
	if (r->nq > 1)
		fprintf(h, ", %u worker thread%s", info.threads, info.threads == 1 ? "" : "s");
	fprintf(h, "), io %s", trf_io_name(cfg->io));
	say_in_force(h, r->eng, &agree, false);
	fprintf(h, ", offload %s, reflect %s, %.2f s\n",
		offloads_text(&info, offloads, sizeof(offloads)), cfg->reflect_mode->name, s->t);
	say_queues_in_force(h, r->eng, &agree);
	fprintf(h, "  %5s %4s %15s %15s", "queue", "cpu", "frames read", "frames written");
	if (cfg->reflect_mode->consumes)
		fprintf(h, " %15s", "consumed");
	fprintf(h, " %12s %12s\n", "dropped", "avg pps");
	for (unsigned int q = 0; q <= r->nq; q++) {
		const struct trf_queue_stats *qs = q < r->nq ? &s->queues[q] : t;

		if (q < r->nq)
			fprintf(h, "  %5u %4d", q, cfg->cpus[q]);
		else
			fprintf(h, "  %5s %4s", "total", "");
		fprintf(h, " %15" PRIu64 " %15" PRIu64, qs->frames_read, qs->frames_written);
		if (cfg->reflect_mode->consumes)
			fprintf(h, " %15" PRIu64, qs->frames_consumed);
		fprintf(h, " %12" PRIu64 " %12.0f\n", trf_stats_dropped(qs),
			s->t > 0 ? (double)qs->frames_read / s->t : 0.0);
	}
	fputs("  drops:", h);
	if (!dropped)
		fputs(" none", h);
	for (unsigned int d = 1; d < TRF_STAT_DROPS; d++)
		if (t->drops[d])
			fprintf(h, " %s %" PRIu64 " (%s);", trf_stat_drop_name(d), t->drops[d],
				trf_stat_drop_help(d));
	fputs("\n", h);
	fprintf(h,
		"  cpu: %.3f s user+system, %.0f ns per frame read, %.1f frames per wakeup, "
		"syscall %s\n",
		s->cpu_s, ns_per_frame(s->cpu_s, t->frames_read),
		t->waits ? (double)t->frames_read / (double)t->waits : 0.0,
		syscall_text(trf_engine_config(r->eng), syscall, sizeof(syscall)));
	if (have_kd)
		fprintf(h,
			"  kernel: %" PRIu64 " frame(s) dropped by %s before they were read "
			"(queue full)\n",
			kernel_drops, dev);
	if (cfg->reflect_mode->consumes) {
		fprintf(h,
			"  consumed: %" PRIu64
			" frame(s) of %s data, taken in as its server would\n",
			t->frames_consumed, cfg->reflect_mode->name);
		fprintf(h,
			"  accounting: read %" PRIu64 " = written %" PRIu64 " + consumed %" PRIu64
			" + dropped %" PRIu64 ": %s\n",
			t->frames_read, t->frames_written, t->frames_consumed, dropped,
			exact ? "exact" : "MISMATCH");
	} else {
		fprintf(h,
			"  accounting: read %" PRIu64 " = written %" PRIu64 " + dropped %" PRIu64
			": %s\n",
			t->frames_read, t->frames_written, dropped, exact ? "exact" : "MISMATCH");
	}
	/* A frame that is neither captured nor counted as not captured is a miscount too. */
	if (r->cap)
		capture_exact = say_capture(r, h);
	fflush(h);

	if (r->json)
		json_summary(r, kernel_drops, exact, exit_code);
	return exact && capture_exact;
}

void report_start_line(const struct trf_engine *eng, FILE *f)
{
	const struct trf_config *cfg = trf_engine_config(eng);
	struct trf_engine_info info;
	struct agreement agree;
	const char *dev = dev_name(eng, &info);
	char offloads[64], syscall[32];

	queues_agree(eng, &agree);
	fprintf(f, "tapreflect: reflecting on %s (%s, %u queue%s on CPU%s ", dev,
		trf_link_name(cfg->link), cfg->queues, cfg->queues == 1 ? "" : "s",
		cfg->queues == 1 ? "" : "s");
	for (unsigned int q = 0; q < cfg->queues; q++)
		fprintf(f, "%s%d", q ? "," : "", cfg->cpus[q]);
	if (cfg->queues > 1)
		fprintf(f, " in %u worker thread%s", info.threads, info.threads == 1 ? "" : "s");
	fprintf(f, ", io %s", trf_io_name(cfg->io));
	say_in_force(f, eng, &agree, true);
	fprintf(f, ", offload %s, buffers %u x %u B = %.1f MiB per queue",
		offloads_text(&info, offloads, sizeof(offloads)), cfg->buffers, cfg->frame_size,
		(double)cfg->buffers * cfg->frame_size / (1 << 20));
	fprintf(f, ", reflect %s, mac %02x:%02x:%02x:%02x:%02x:%02x", cfg->reflect_mode->name,
		cfg->reflect.mac[0], cfg->reflect.mac[1], cfg->reflect.mac[2], cfg->reflect.mac[3],
		cfg->reflect.mac[4], cfg->reflect.mac[5]);
	fprintf(f, ", syscall %s", syscall_text(trf_engine_config(eng), syscall, sizeof(syscall)));
	if (cfg->run_as)
		fprintf(f, ", as user %s (uid %u, no capabilities)", cfg->run_user,
			(unsigned int)cfg->run_uid);
	fputs(")\n", f);
	say_queues_in_force(f, eng, &agree);
	fflush(f);
}

void report_ready(const struct trf_engine *eng, int fd, const char *metrics)
{
	unsigned int nq = trf_engine_config(eng)->queues;
	json_t *rec = json_record("start"), *per_queue = json_array();

	/* The fields a caller waits for first, in the order documented; then the rest in force. */
	json_object_set_new(rec, "version", json_string(TRF_VERSION));
	json_object_set_new(rec, "pid", json_integer(getpid()));
	json_engine(rec, eng);
	for (unsigned int q = 0; q < nq; q++)
		json_array_append_new(per_queue, json_queue_in_force(eng, q));
	json_object_set_new(rec, "per_queue", per_queue);
	if (metrics)
		json_object_set_new(rec, "metrics", json_string(metrics));
	trf_ready_send_record("tapreflect", fd, rec);
}
