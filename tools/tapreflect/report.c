// SPDX-License-Identifier: MIT
/*
 * tapreflect's reports: the start line, the live line and JSON interval
 * records, and the summary with its accounting check.
 */
#include "report.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "ready.h"

/* What is in force (queue 0's for the per-queue fields). */
static struct trf_engine_info einfo(const struct trf_engine *eng)
{
	struct trf_engine_info i;

	trf_engine_info(eng, &i);
	return i;
}

static struct trf_queue_info qinfo(const struct trf_engine *eng)
{
	struct trf_queue_info i = { 0 };

	trf_engine_queue_info(eng, 0, &i);
	return i;
}

#define trf_engine_dev(e) (einfo(e).dev)
#define trf_engine_vnet_hdr(e) (einfo(e).vnet_hdr)
#define trf_engine_offloads(e) (einfo(e).offloads)
#define trf_engine_dev_persistent(e) (einfo(e).dev_persistent)
#define trf_engine_threads(e) (einfo(e).threads)
static const char *trf_engine_steering(const struct trf_engine *eng)
{
	static char buf[256];
	struct trf_engine_info i = einfo(eng);

	if (!strcmp(i.steering, "none"))
		return "none (one queue)";
	if (i.steering_why[0])
		snprintf(buf, sizeof(buf), "%s (%s)", i.steering, i.steering_why);
	else
		snprintf(buf, sizeof(buf), "%s", i.steering);
	return buf;
}
#define trf_engine_read_name(e) (qinfo(e).read)
#define trf_engine_ring_flags(e) (qinfo(e).ring_flags)
#define trf_engine_ring_restricted(e) (qinfo(e).ring_restricted)
#define trf_engine_wait_name(e) (qinfo(e).wait)

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

/* "off" without a virtio-net header, else the offloads granted ("csum,tso4,..."). */
static const char *offloads_text(const struct trf_engine *eng)
{
	static char buf[64];

	if (!trf_engine_vnet_hdr(eng))
		return "off";
	return trf_offloads_describe(trf_engine_offloads(eng), buf, sizeof(buf));
}

static void json_drops(FILE *f, const struct trf_queue_stats *now,
		       const struct trf_queue_stats *before)
{
	fputs("{", f);
	for (unsigned int d = 1; d < TRF_STAT_DROPS; d++)
		fprintf(f, "%s\"%s\":%" PRIu64, d > 1 ? "," : "", trf_stat_drop_name(d),
			now->drops[d] - (before ? before->drops[d] : 0));
	fputs("}", f);
}

static double ns_per_frame(double cpu_s, uint64_t frames)
{
	return frames ? cpu_s * 1e9 / (double)frames : 0.0;
}

/*
 * Watch the device between ticks: a link that goes down or up, and an MTU
 * that changes, are said once on stderr; an MTU whose frames no longer fit
 * a buffer says what to restart with.
 */
void report_watch_link(struct report *r)
{
	const struct trf_config *cfg = trf_engine_config(r->eng);
	const struct trf_engine_info info = einfo(r->eng);
	const char *dev = info.dev;
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
		overhead = (cfg->link == TRF_LINK_TAP ? 18 : 0) +
			   (trf_engine_vnet_hdr(r->eng) ? TRF_VNET_HDR_LEN : 0);
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
	if (r->json) {
		fprintf(r->json,
			"{\"type\":\"interval\",\"schema_version\":%d,\"t\":%.3f,\"dt\":%.3f,"
			"\"frames_read\":%" PRIu64 ",\"frames_written\":%" PRIu64
			",\"frames_consumed\":%" PRIu64 ",\"frames_dropped\":%" PRIu64
			",\"bytes_read\":%" PRIu64 ",\"pps_read\":%.0f,\"pps_written\":%.0f,"
			"\"gbps\":%.4f,\"cpu_ns_per_frame\":%.1f,\"wakeups\":%" PRIu64
			",\"frames_per_wakeup\":%.2f,\"link_up\":%s,"
			"\"drops\":",
			REPORT_SCHEMA_VERSION, b->t, dt, rd, wr, co, dr, bytes, (double)rd / dt,
			(double)wr / dt, (double)bytes * 8 / dt / 1e9, cpu, wakeups, batch,
			up > 0 ? "true" : "false");
		json_drops(r->json, &b->total, &a->total);
		fputs(",\"per_queue\":[", r->json);
		for (unsigned int q = 0; q < r->nq; q++) {
			const struct trf_queue_stats *qa = &a->queues[q], *qb = &b->queues[q];

			fprintf(r->json,
				"%s{\"queue\":%u,\"frames_read\":%" PRIu64
				",\"frames_written\":%" PRIu64 ",\"frames_consumed\":%" PRIu64
				",\"frames_dropped\":%" PRIu64 ",\"pps_read\":%.0f}",
				q ? "," : "", q, qb->frames_read - qa->frames_read,
				qb->frames_written - qa->frames_written,
				qb->frames_consumed - qa->frames_consumed,
				trf_stats_dropped(qb) - trf_stats_dropped(qa),
				(double)(qb->frames_read - qa->frames_read) / dt);
		}
		fputs("]}\n", r->json);
		fflush(r->json);
	}
}

static void json_queue_totals(FILE *f, unsigned int q, int cpu, bool ended,
			      const struct trf_queue_stats *s)
{
	fprintf(f,
		"%s{\"queue\":%u,\"cpu\":%d,\"ended_early\":%s,\"frames_read\":%" PRIu64
		",\"bytes_read\":%" PRIu64 ",\"frames_written\":%" PRIu64
		",\"bytes_written\":%" PRIu64 ",\"frames_consumed\":%" PRIu64
		",\"frames_dropped\":%" PRIu64 ",\"read_rearms\":%" PRIu64 ",\"waits\":%" PRIu64
		",\"drops\":",
		q ? "," : "", q, cpu, ended ? "true" : "false", s->frames_read, s->bytes_read,
		s->frames_written, s->bytes_written, s->frames_consumed, trf_stats_dropped(s),
		s->read_rearms, s->waits);
	json_drops(f, s, NULL);
	fputs("}", f);
}

bool report_summary(struct report *r, int exit_code)
{
	const struct trf_config *cfg = trf_engine_config(r->eng);
	const struct sample *s = &r->cur;
	const struct trf_queue_stats *t = &s->total;
	uint64_t dropped = trf_stats_dropped(t), kernel_drops = 0, kd_now = 0;
	bool exact = true, have_kd;
	FILE *h = r->human;

	/* Every frame read was written, taken in by the mode, or dropped with a reason. */
	for (unsigned int q = 0; q < r->nq; q++)
		if (s->queues[q].frames_read != s->queues[q].frames_written +
						    s->queues[q].frames_consumed +
						    trf_stats_dropped(&s->queues[q]))
			exact = false;
	have_kd = trf_netcfg_tx_dropped(trf_engine_dev(r->eng), &kd_now) == 0;
	if (have_kd && kd_now >= r->kernel_drops_start)
		kernel_drops = kd_now - r->kernel_drops_start;

	if (r->live_tty && r->live)
		fputs("\n", h);
	fprintf(h, "tapreflect summary: %s (%s, %u queue%s", trf_engine_dev(r->eng),
		cfg->link == TRF_LINK_TAP ? "tap" : "tun", r->nq, r->nq == 1 ? "" : "s");
	if (r->nq > 1)
		fprintf(h, ", steering %s, %u worker thread%s", trf_engine_steering(r->eng),
			trf_engine_threads(r->eng), trf_engine_threads(r->eng) == 1 ? "" : "s");
	fprintf(h, "), io %s", trf_io_name(cfg->io));
	if (cfg->io == TRF_IO_URING)
		fprintf(h, " (%s reads, ring %s, restricted %s, wait %s)",
			trf_engine_read_name(r->eng), trf_engine_ring_flags(r->eng),
			trf_engine_ring_restricted(r->eng), trf_engine_wait_name(r->eng));
	fprintf(h, ", offload %s, reflect %s, %.2f s\n", offloads_text(r->eng), cfg->reflect_mode->name,
		s->t);
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
	fprintf(h, "  cpu: %.3f s user+system, %.0f ns per frame read, %.1f frames per wakeup\n",
		s->cpu_s, ns_per_frame(s->cpu_s, t->frames_read),
		t->waits ? (double)t->frames_read / (double)t->waits : 0.0);
	if (have_kd)
		fprintf(h,
			"  kernel: %" PRIu64 " frame(s) dropped by %s before they were read "
			"(queue full)\n",
			kernel_drops, trf_engine_dev(r->eng));
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
	fflush(h);

	if (r->json) {
		fprintf(r->json,
			"{\"type\":\"summary\",\"schema_version\":%d,\"version\":\"%s\","
			"\"dev\":\"%s\","
			"\"dev_persistent\":%s,\"mode\":\"%s\","
			"\"io\":\"%s\",\"read\":\"%s\",\"ring_flags\":\"%s\",\"ring_restricted\":"
			"\"%s\","
			"\"reflect\":\"%s\",\"wait\":\"%s\",\"steering\":\"%s\","
			"\"vnet_hdr\":%s,\"offloads\":\"%s\",\"buffers\":%u,\"frame_size\":%u,"
			"\"user\":%s%s%s,"
			"\"queues\":%u,\"elapsed_s\":%.3f,\"cpu_s\":%.4f,\"cpu_ns_per_frame\":%.1f,"
			"\"wakeups\":%" PRIu64 ",\"frames_per_wakeup\":%.2f,\"threads\":%u,"
			"\"frames_read\":%" PRIu64 ",\"bytes_read\":%" PRIu64
			",\"frames_written\":%" PRIu64 ",\"bytes_written\":%" PRIu64
			",\"frames_consumed\":%" PRIu64 ",\"frames_dropped\":%" PRIu64
			",\"kernel_tx_dropped\":%" PRIu64
			",\"accounting_exact\":%s,\"exit_code\":%d,\"drops\":",
			REPORT_SCHEMA_VERSION, TRF_VERSION, trf_engine_dev(r->eng),
			trf_engine_dev_persistent(r->eng) ? "true" : "false",
			cfg->link == TRF_LINK_TAP ? "tap" : "tun", trf_io_name(cfg->io),
			trf_engine_read_name(r->eng), trf_engine_ring_flags(r->eng),
			trf_engine_ring_restricted(r->eng), cfg->reflect_mode->name,
			trf_engine_wait_name(r->eng), trf_engine_steering(r->eng),
			trf_engine_vnet_hdr(r->eng) ? "true" : "false", offloads_text(r->eng),
			cfg->buffers, cfg->frame_size, cfg->run_as ? "\"" : "",
			cfg->run_as ? cfg->run_user : "null", cfg->run_as ? "\"" : "", r->nq, s->t,
			s->cpu_s, ns_per_frame(s->cpu_s, t->frames_read), t->waits,
			t->waits ? (double)t->frames_read / (double)t->waits : 0.0,
			trf_engine_threads(r->eng), t->frames_read, t->bytes_read,
			t->frames_written, t->bytes_written, t->frames_consumed, dropped,
			kernel_drops, exact ? "true" : "false", exit_code);
		json_drops(r->json, t, NULL);
		fputs(",\"per_queue\":[", r->json);
		for (unsigned int q = 0; q < r->nq; q++)
			json_queue_totals(r->json, q, cfg->cpus[q],
					  r->failed_said && r->failed_said[q], &s->queues[q]);
		fputs("]}\n", r->json);
		fflush(r->json);
	}
	return exact;
}

void report_start_line(const struct trf_engine *eng, FILE *f)
{
	const struct trf_config *cfg = trf_engine_config(eng);

	fprintf(f, "tapreflect: reflecting on %s (%s, %u queue%s on CPU%s ", trf_engine_dev(eng),
		cfg->link == TRF_LINK_TAP ? "tap" : "tun", cfg->queues, cfg->queues == 1 ? "" : "s",
		cfg->queues == 1 ? "" : "s");
	for (unsigned int q = 0; q < cfg->queues; q++)
		fprintf(f, "%s%d", q ? "," : "", cfg->cpus[q]);
	if (cfg->queues > 1)
		fprintf(f, " in %u worker thread%s", trf_engine_threads(eng),
			trf_engine_threads(eng) == 1 ? "" : "s");
	fprintf(f, ", io %s", trf_io_name(cfg->io));
	if (cfg->io == TRF_IO_URING)
		fprintf(f, " with %s reads, ring %s, restricted %s, wait %s",
			trf_engine_read_name(eng), trf_engine_ring_flags(eng),
			trf_engine_ring_restricted(eng), trf_engine_wait_name(eng));
	fprintf(f, ", offload %s, buffers %u x %u B = %.1f MiB per queue", offloads_text(eng),
		cfg->buffers, cfg->frame_size, (double)cfg->buffers * cfg->frame_size / (1 << 20));
	fprintf(f, ", reflect %s, mac %02x:%02x:%02x:%02x:%02x:%02x", cfg->reflect_mode->name,
		cfg->reflect.mac[0], cfg->reflect.mac[1], cfg->reflect.mac[2], cfg->reflect.mac[3],
		cfg->reflect.mac[4], cfg->reflect.mac[5]);
	if (cfg->run_as)
		fprintf(f, ", as user %s (uid %u, no capabilities)", cfg->run_user,
			(unsigned int)cfg->run_uid);
	fputs(")\n", f);
	fflush(f);
}

void report_ready(const struct trf_engine *eng, int fd)
{
	const struct trf_config *cfg = trf_engine_config(eng);
	char *line = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&line, &len);

	if (!f) {
		fprintf(stderr, "tapreflect: --ready-fd %d: out of memory (going on)\n", fd);
		close(fd);
		return;
	}
	/* The fields a caller waits for first, in the order documented; then the rest in force. */
	fprintf(f, "{\"type\":\"start\",\"schema_version\":%d,\"version\":\"%s\",\"pid\":%ld,",
		REPORT_SCHEMA_VERSION, TRF_VERSION, (long)getpid());
	fputs("\"device\":", f);
	trf_json_string(f, trf_engine_dev(eng));
	fprintf(f,
		",\"mode\":\"%s\",\"io\":\"%s\",\"read\":\"%s\",\"reflect\":\"%s\",\"queues\":%u,"
		"\"cpus\":[",
		cfg->link == TRF_LINK_TAP ? "tap" : "tun", trf_io_name(cfg->io),
		trf_engine_read_name(eng), cfg->reflect_mode->name, cfg->queues);
	for (unsigned int q = 0; q < cfg->queues; q++)
		fprintf(f, "%s%d", q ? "," : "", cfg->cpus[q]);
	fprintf(f, "],\"threads\":%u,\"offloads\":\"%s\",\"steering\":", trf_engine_threads(eng),
		offloads_text(eng));
	/* A refused steering program's reason is the kernel's words: escaped. */
	trf_json_string(f, trf_engine_steering(eng));
	fprintf(f,
		",\"dev_persistent\":%s,\"vnet_hdr\":%s,\"ring_flags\":\"%s\","
		"\"ring_restricted\":\"%s\",\"wait\":\"%s\",\"buffers\":%u,\"frame_size\":%u,"
		"\"user\":",
		trf_engine_dev_persistent(eng) ? "true" : "false",
		trf_engine_vnet_hdr(eng) ? "true" : "false", trf_engine_ring_flags(eng),
		trf_engine_ring_restricted(eng), trf_engine_wait_name(eng), cfg->buffers,
		cfg->frame_size);
	if (cfg->run_as)
		trf_json_string(f, cfg->run_user);
	else
		fputs("null", f);
	fputs("}\n", f);
	if (fclose(f) != 0 || !line) {
		fprintf(stderr, "tapreflect: --ready-fd %d: out of memory (going on)\n", fd);
		free(line);
		close(fd);
		return;
	}
	trf_ready_send("tapreflect", fd, line, len);
	free(line);
}
