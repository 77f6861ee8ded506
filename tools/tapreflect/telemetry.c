// SPDX-License-Identifier: MIT
/*
 * tapreflect --metrics: one exposition per scrape, in the server's thread
 * (tools/common/metrics.c), from the counters the live line reads:
 * trf_engine_sample()'s relaxed loads of what each queue's thread
 * publishes.  Nothing here runs on a worker thread, and a scrape takes no
 * lock a worker takes.  The families are listed in docs/metrics.md.
 */
#include "telemetry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report.h"

struct telemetry {
	struct trf_metrics_server *srv;
	char address[64];
	/* Set once the engine runs (release), read by each scrape (acquire). */
	struct trf_engine *eng;
	double cpu_start;
	uint64_t kernel_drops_start;
	double start_time; /* Unix time of the start */
	telemetry_extra_fn extra;
	void *extra_arg;
	/* What is in force, as it was at the start: the info family's labels. */
	struct trf_engine_info info;
	char read[24], offloads[64];
	char ring_restricted[16];
	struct trf_queue_stats *sample; /* one per queue: the scrape's copy */
};

static const struct trf_prom_family
    fam_info = { "tapreflect", TRF_PROM_INFO, NULL,
		 "what is in force: version, device, link, engine, read strategy, offloads "
		 "granted, ring restriction, steering, reflect mode" },
    fam_start = { "tapreflect_start_time_seconds", TRF_PROM_GAUGE, "seconds",
		  "when the reflector started, in seconds since the Unix epoch" },
    fam_syscall = { "tapreflect_syscall_seconds", TRF_PROM_GAUGE, "seconds",
		    "what a bare syscall (getppid) costs on this machine, measured at the "
		    "start (the fastest of a few rounds, per call); absent when unknown" },
    fam_read = { "tapreflect_frames_read", TRF_PROM_COUNTER, NULL, "frames read from the queue" },
    fam_written = { "tapreflect_frames_written", TRF_PROM_COUNTER, NULL,
		    "frames written back to the queue" },
    fam_consumed = { "tapreflect_frames_consumed", TRF_PROM_COUNTER, NULL,
		     "frames taken in as a server would (--reflect iperf2): neither written "
		     "nor dropped" },
    fam_dropped = { "tapreflect_frames_dropped", TRF_PROM_COUNTER, NULL,
		    "frames read and not written back, by reason (tapreflect --reflect help and "
		    "the man page say what each reason means)" },
    fam_in_flight = { "tapreflect_frames_in_flight", TRF_PROM_GAUGE, NULL,
		      "frames read and not yet written, consumed or dropped: read - written - "
		      "consumed - dropped; never more than the queue's buffers" },
    fam_buffers = { "tapreflect_queue_buffers", TRF_PROM_GAUGE, NULL,
		    "frame buffers of the queue: the most frames it can hold at once" },
    fam_rbytes = { "tapreflect_read_bytes", TRF_PROM_COUNTER, "bytes",
		   "bytes of the frames read (without a virtio-net header)" },
    fam_wbytes = { "tapreflect_written_bytes", TRF_PROM_COUNTER, "bytes",
		   "bytes of the frames written (without a virtio-net header)" },
    fam_wakeup = { "tapreflect_frames_per_wakeup", TRF_PROM_HISTOGRAM, NULL,
		   "frames a queue read in one wakeup of its thread (--io sync: 1)" },
    fam_kernel = { "tapreflect_kernel_dropped_frames", TRF_PROM_COUNTER, NULL,
		   "frames the kernel dropped before they were read (the device's tx_dropped: "
		   "a queue was full), since the start" },
    fam_cpu = { "tapreflect_cpu_seconds", TRF_PROM_COUNTER, "seconds",
		"CPU time (user and system) of the reflector's process since the start" },
    fam_link = { "tapreflect_link_up", TRF_PROM_GAUGE, NULL,
		 "1 while the device's link is up, 0 while it is down or the device is gone" },
    fam_mtu = { "tapreflect_link_mtu_bytes", TRF_PROM_GAUGE, "bytes", "the device's MTU" },
    fam_cap_missed = { "tapreflect_capture_missed_frames", TRF_PROM_COUNTER, NULL,
		       "--capture-drops: dropped frames not captured, by why (limit: over "
		       "--capture-limit; full: the writer was behind)" };

static void render(void *arg, struct trf_prom *p)
{
	struct telemetry *t = arg;
	struct trf_engine *eng = __atomic_load_n(&t->eng, __ATOMIC_ACQUIRE);
	const struct trf_config *cfg;
	struct trf_link_info link = { 0 };
	uint64_t kdrops = 0;
	char qs[12];
	bool link_known;

	if (!eng) {
		/* Bound, and the device not set up yet: the info family has nothing to say. */
		trf_prom_head(p, &fam_link);
		trf_prom_u64(p, &fam_link, NULL, 0);
		return;
	}
	cfg = trf_engine_config(eng);
	trf_prom_head(p, &fam_info);
	trf_prom_u64(p, &fam_info,
		     (trf_prom_labels){ "version", TRF_VERSION, "device", t->info.dev, "link",
					trf_link_name(cfg->link), "io", trf_io_name(cfg->io),
					"read", t->read, "offloads", t->offloads, "ring_restricted",
					t->ring_restricted, "steering", t->info.steering, "reflect",
					cfg->reflect_mode->name, NULL },
		     1);
	trf_prom_head(p, &fam_start);
	trf_prom_f64(p, &fam_start, NULL, t->start_time);
	if (cfg->syscall_ns) {
		trf_prom_head(p, &fam_syscall);
		trf_prom_f64(p, &fam_syscall, NULL, (double)cfg->syscall_ns / 1e9);
	}

	for (unsigned int q = 0; q < t->info.queues; q++)
		trf_engine_sample(eng, q, &t->sample[q]);

#define PER_QUEUE(fam, expr)                                                               \
	do {                                                                               \
		trf_prom_head(p, &(fam));                                                  \
		for (unsigned int q = 0; q < t->info.queues; q++) {                        \
			const struct trf_queue_stats *s = &t->sample[q];                   \
                                                                                           \
			(void)s;                                                           \
			snprintf(qs, sizeof(qs), "%u", q);                                 \
			trf_prom_u64(                                                      \
			    p, &(fam),                                                     \
			    (trf_prom_labels){ "device", t->info.dev, "queue", qs, NULL }, \
			    (expr));                                                       \
		}                                                                          \
	} while (0)

	PER_QUEUE(fam_read, s->frames_read);
	PER_QUEUE(fam_written, s->frames_written);
	PER_QUEUE(fam_consumed, s->frames_consumed);
	trf_prom_head(p, &fam_dropped);
	for (unsigned int q = 0; q < t->info.queues; q++) {
		snprintf(qs, sizeof(qs), "%u", q);
		for (unsigned int i = 0; i < TRF_STAT_DROPS; i++) {
			if (i == TRF_DROP_NONE)
				continue; /* reflected: not a drop */
			trf_prom_u64(p, &fam_dropped,
				     (trf_prom_labels){ "device", t->info.dev, "queue", qs,
							"reason", trf_stat_drop_name(i), NULL },
				     t->sample[q].drops[i]);
		}
	}
	/*
	 * A gauge of what the accounting leaves: each counter is loaded on its
	 * own, so a scrape may catch one batch's reads before its writes; what
	 * stays above the buffers is frames lost uncounted.
	 */
	trf_prom_head(p, &fam_in_flight);
	for (unsigned int q = 0; q < t->info.queues; q++) {
		const struct trf_queue_stats *s = &t->sample[q];

		snprintf(qs, sizeof(qs), "%u", q);
		trf_prom_f64(p, &fam_in_flight,
			     (trf_prom_labels){ "device", t->info.dev, "queue", qs, NULL },
			     (double)s->frames_read - (double)s->frames_written -
				 (double)s->frames_consumed - (double)trf_stats_dropped(s));
	}
	PER_QUEUE(fam_buffers, cfg->buffers);
	PER_QUEUE(fam_rbytes, s->bytes_read);
	PER_QUEUE(fam_wbytes, s->bytes_written);
#undef PER_QUEUE

	trf_prom_head(p, &fam_wakeup);
	for (unsigned int q = 0; q < t->info.queues; q++) {
		static const double bounds[TRF_WAKEUP_BUCKETS - 1] = { 1,  2,  4,   8,	16,
								       32, 64, 128, 256 };
		const struct trf_queue_stats *s = &t->sample[q];

		snprintf(qs, sizeof(qs), "%u", q);
		trf_prom_histogram(
		    p, &fam_wakeup, (trf_prom_labels){ "device", t->info.dev, "queue", qs, NULL },
		    bounds, s->wakeup_frames, TRF_WAKEUP_BUCKETS - 1, (double)s->frames_read);
	}

	if (trf_netcfg_tx_dropped(t->info.dev, &kdrops) == 0) {
		trf_prom_head(p, &fam_kernel);
		trf_prom_u64(p, &fam_kernel, (trf_prom_labels){ "device", t->info.dev, NULL },
			     kdrops >= t->kernel_drops_start ? kdrops - t->kernel_drops_start : 0);
	}
	trf_prom_head(p, &fam_cpu);
	trf_prom_f64(p, &fam_cpu, NULL, report_cpu_seconds() - t->cpu_start);

	link_known = trf_netcfg_link_info(t->info.dev, &link) == 0;
	trf_prom_head(p, &fam_link);
	trf_prom_u64(p, &fam_link, (trf_prom_labels){ "device", t->info.dev, NULL },
		     link_known && link.up);
	if (link_known && link.mtu) {
		trf_prom_head(p, &fam_mtu);
		trf_prom_u64(p, &fam_mtu, (trf_prom_labels){ "device", t->info.dev, NULL },
			     link.mtu);
	}

	if (cfg->capture_limit) {
		trf_prom_head(p, &fam_cap_missed);
		for (unsigned int q = 0; q < t->info.queues; q++) {
			snprintf(qs, sizeof(qs), "%u", q);
			trf_prom_u64(p, &fam_cap_missed,
				     (trf_prom_labels){ "device", t->info.dev, "queue", qs, "why",
							"limit", NULL },
				     t->sample[q].capture_limited);
			trf_prom_u64(p, &fam_cap_missed,
				     (trf_prom_labels){ "device", t->info.dev, "queue", qs, "why",
							"full", NULL },
				     t->sample[q].capture_full);
		}
	}
	if (t->extra)
		t->extra(t->extra_arg, p, t->info.dev);
}

struct telemetry *telemetry_listen(const struct trf_metrics_listen *where)
{
	struct telemetry *t = calloc(1, sizeof(*t));
	char err[256];

	if (!t) {
		fprintf(stderr, "tapreflect: out of memory\n");
		return NULL;
	}
	t->srv = trf_metrics_start(where, render, t, err, sizeof(err));
	if (!t->srv) {
		fprintf(stderr, "tapreflect: %s\n", err);
		free(t);
		return NULL;
	}
	snprintf(t->address, sizeof(t->address), "%s", where->text);
	/* Port 0 asked for any: say the one the kernel chose. */
	{
		char *colon = strrchr(t->address, ':');

		if (colon && strcmp(colon, ":0") == 0)
			snprintf(colon + 1, sizeof(t->address) - (size_t)(colon + 1 - t->address),
				 "%u", trf_metrics_port(t->srv));
	}
	return t;
}

const char *telemetry_address(const struct telemetry *t)
{
	return t->address;
}

void telemetry_attach(struct telemetry *t, struct trf_engine *eng, double cpu_start,
		      uint64_t kernel_drops_start, telemetry_extra_fn extra, void *extra_arg)
{
	struct trf_queue_info qi;
	struct timespec now;

	trf_engine_info(eng, &t->info);
	t->sample = calloc(t->info.queues, sizeof(*t->sample));
	if (!t->sample) {
		fprintf(stderr, "tapreflect: --metrics: out of memory: the metrics stay empty\n");
		return;
	}
	trf_offloads_describe(t->info.vnet_hdr ? t->info.offloads : 0, t->offloads,
			      sizeof(t->offloads));
	/* Queue 0 speaks for all in the info family; per-queue differences are in the summary. */
	if (trf_engine_queue_info(eng, 0, &qi) == 0) {
		snprintf(t->read, sizeof(t->read), "%s", qi.read);
		snprintf(t->ring_restricted, sizeof(t->ring_restricted), "%s",
			 qi.ring_restricted[0] ? qi.ring_restricted : "none");
	}
	clock_gettime(CLOCK_REALTIME, &now);
	t->start_time = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
	t->cpu_start = cpu_start;
	t->kernel_drops_start = kernel_drops_start;
	t->extra = extra;
	t->extra_arg = extra_arg;
	__atomic_store_n(&t->eng, eng, __ATOMIC_RELEASE);
}

void telemetry_stop(struct telemetry *t)
{
	if (!t)
		return;
	trf_metrics_stop(t->srv);
	free(t->sample);
	free(t);
}
