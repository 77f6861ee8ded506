// SPDX-License-Identifier: MIT
/*
 * tapreflect: the command-line front end of the engine.  Parses options,
 * starts the engine, samples counters off the data path and reports them.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "tapreflect/tapreflect.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

static const char usage_text[] =
    "Usage: tapreflect [OPTIONS]\n"
    "\n"
    "Reflect every frame sent into a multi-queue TAP or TUN device back to its sender:\n"
    "ARP requests and ICMP echo requests are answered, UDP/TCP 5-tuples are swapped,\n"
    "other IPv4 is bounced with its addresses swapped.  One pinned worker per queue.\n"
    "\n"
    "Device:\n"
    "  -d, --dev NAME         device to create or attach to (default trf0); a persistent\n"
    "                         device must be multi_queue and of the same --mode\n"
    "  -m, --mode tap|tun     tap: Ethernet frames (default); tun: bare IP packets\n"
    "  -q, --queues N         queues = worker threads (default: one per --cpus entry,\n"
    "                         else one per CPU this process may use)\n"
    "  -c, --cpus LIST        CPUs for the queues, queue i on the i-th, e.g. 0-3,6\n"
    "      --addr CIDR        add a host-side address and bring the link up; repeatable,\n"
    "                         IPv4 or IPv6, e.g. --addr 198.18.0.1/24\n"
    "      --mtu BYTES        set the device MTU (68..65535) before starting\n"
    "      --mac MAC          the reflector's own MAC, used in ARP replies\n"
    "                         (default 02:74:72:66:00:01)\n"
    "\n"
    "Engine:\n"
    "      --io uring|sync    uring: one io_uring per queue on registered buffers (default);\n"
    "                         sync: blocking read/write per frame, the reference design\n"
    "      --read auto|multishot|fixed\n"
    "                         io_uring read strategy: multishot = one IORING_OP_READ_MULTISHOT\n"
    "                         on a provided buffer ring (Linux 6.7+); fixed = one readiness\n"
    "                         poll and rounds of non-blocking READ_FIXEDs while frames wait\n"
    "                         (older kernels too); auto = multishot where available (default)\n"
    "      --fixed-reads N    smallest round of READ_FIXEDs with --read fixed (default 4,\n"
    "                         max 16); a round grows to the last burst's size, and doubles\n"
    "                         while rounds come back full; no read is ever left parked\n"
    "      --buffers N        frame buffers per queue, a power of two (default 256)\n"
    "      --frame-size BYTES largest frame accepted (default 16384, enough for 9216 B\n"
    "                         jumbo frames); longer frames are dropped as truncated\n"
    "  -r, --reflect MODE     reflect mode (default respond); 'help' lists them\n"
    "\n"
    "Reporting and lifetime:\n"
    "      --stats SECONDS    interval of the live line and JSON records (default 1, 0 = off);\n"
    "                         the live line is shown on a terminal or when this is given\n"
    "      --json FILE|-      write JSON lines: one per interval, then a summary\n"
    "      --duration SECONDS stop by itself after this long (default: run until SIGINT/SIGTERM)\n"
    "  -h, --help             show this help\n"
    "  -V, --version          show the version\n"
    "\n"
    "Exit status: 0 clean stop (signal or --duration), 1 runtime error, 2 bad usage.\n"
    "Every frame read is counted as written or dropped with a reason; the summary checks\n"
    "read = written + dropped.\n"
    "\n"
    "Examples:\n"
    "  # TAP device with a host address; ping anything else in the subnet\n"
    "  tapreflect --addr 198.18.0.1/24 &  ping 198.18.0.2\n"
    "  # TUN, two queues on CPUs 0 and 1, JSON summary after 10 s\n"
    "  tapreflect -m tun -c 0,1 --addr 198.18.0.1/24 --duration 10 --json run.json\n"
    "  # the reference engine, for a same-run comparison\n"
    "  tapreflect --io sync -c 0 --addr 198.18.0.1/24\n";

struct opts {
	struct trf_config cfg;
	double stats_interval;
	bool stats_given;
	double duration;
	const char *json_path;
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("tapreflect: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'tapreflect --help' for more information.\n", stderr);
	return -EINVAL;
}

static int parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v < 0 || v > 1e7)
		return -EINVAL;
	*out = v;
	return 0;
}

static void list_modes(FILE *f)
{
	fprintf(f, "Reflect modes:\n");
	for (const struct trf_reflect_mode *const *m = trf_reflect_modes; *m; m++)
		fprintf(f, "  %-10s %s (%s%s%s)\n", (*m)->name, (*m)->help,
			((*m)->links & TRF_LINK_TAP) ? "tap" : "",
			((*m)->links & TRF_LINK_TAP) && ((*m)->links & TRF_LINK_TUN) ? ", " : "",
			((*m)->links & TRF_LINK_TUN) ? "tun" : "");
}

enum {
	OPT_IO = 256,
	OPT_READ,
	OPT_FIXED_READS,
	OPT_BUFFERS,
	OPT_FRAME_SIZE,
	OPT_ADDR,
	OPT_MTU,
	OPT_MAC,
	OPT_STATS,
	OPT_JSON,
	OPT_DURATION,
};

/* 0 to run, 1 to exit 0 (help, version), -EINVAL for bad usage. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "mode", required_argument, NULL, 'm' },
		{ "queues", required_argument, NULL, 'q' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "io", required_argument, NULL, OPT_IO },
		{ "read", required_argument, NULL, OPT_READ },
		{ "fixed-reads", required_argument, NULL, OPT_FIXED_READS },
		{ "buffers", required_argument, NULL, OPT_BUFFERS },
		{ "frame-size", required_argument, NULL, OPT_FRAME_SIZE },
		{ "reflect", required_argument, NULL, 'r' },
		{ "addr", required_argument, NULL, OPT_ADDR },
		{ "mtu", required_argument, NULL, OPT_MTU },
		{ "mac", required_argument, NULL, OPT_MAC },
		{ "stats", required_argument, NULL, OPT_STATS },
		{ "json", required_argument, NULL, OPT_JSON },
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	struct trf_config *cfg = &o->cfg;
	struct trf_err err;
	unsigned long v, queues = 0;
	int ncpus = 0, opt;

	trf_config_init(cfg);
	o->stats_interval = 1.0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":d:m:q:c:r:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			if (!*optarg || strlen(optarg) >= IFNAMSIZ || strchr(optarg, '/'))
				return usage_error(
				    "bad --dev '%s': a device name of 1..%d characters", optarg,
				    IFNAMSIZ - 1);
			snprintf(cfg->dev, sizeof(cfg->dev), "%s", optarg);
			break;
		case 'm':
			if (strcmp(optarg, "tap") == 0)
				cfg->link = TRF_LINK_TAP;
			else if (strcmp(optarg, "tun") == 0)
				cfg->link = TRF_LINK_TUN;
			else
				return usage_error("bad --mode '%s': expected tap or tun", optarg);
			break;
		case 'q':
			if (trf_parse_uint(optarg, 1, TRF_MAX_QUEUES, &queues) < 0)
				return usage_error("bad --queues '%s': expected 1..%d", optarg,
						   TRF_MAX_QUEUES);
			break;
		case 'c':
			ncpus = trf_parse_cpulist(optarg, cfg->cpus, TRF_MAX_QUEUES, &err);
			if (ncpus < 0)
				return usage_error("%s", err.msg);
			break;
		case OPT_IO:
			if (strcmp(optarg, "uring") == 0)
				cfg->io = TRF_IO_URING;
			else if (strcmp(optarg, "sync") == 0)
				cfg->io = TRF_IO_SYNC;
			else
				return usage_error("bad --io '%s': expected uring or sync", optarg);
			break;
		case OPT_READ:
			if (strcmp(optarg, "auto") == 0)
				cfg->read = TRF_READ_AUTO;
			else if (strcmp(optarg, "multishot") == 0)
				cfg->read = TRF_READ_MULTISHOT;
			else if (strcmp(optarg, "fixed") == 0)
				cfg->read = TRF_READ_FIXED;
			else
				return usage_error(
				    "bad --read '%s': expected auto, multishot or fixed", optarg);
			break;
		case OPT_FIXED_READS:
			if (trf_parse_uint(optarg, 1, TRF_MAX_FIXED_READS, &v) < 0)
				return usage_error("bad --fixed-reads '%s': expected 1..%d", optarg,
						   TRF_MAX_FIXED_READS);
			cfg->fixed_reads = (unsigned int)v;
			break;
		case OPT_BUFFERS:
			if (trf_parse_uint(optarg, 2, 32768, &v) < 0 || (v & (v - 1)))
				return usage_error("bad --buffers '%s': a power of two in 2..32768",
						   optarg);
			cfg->buffers = (unsigned int)v;
			break;
		case OPT_FRAME_SIZE:
			if (trf_parse_uint(optarg, 128, TRF_MAX_FRAME_SIZE, &v) < 0)
				return usage_error("bad --frame-size '%s': expected 128..%d",
						   optarg, TRF_MAX_FRAME_SIZE);
			cfg->frame_size = (unsigned int)v;
			break;
		case 'r':
			if (strcmp(optarg, "help") == 0) {
				list_modes(stdout);
				return 1;
			}
			cfg->mode = trf_reflect_mode_find(optarg);
			if (!cfg->mode) {
				list_modes(stderr);
				return usage_error("unknown --reflect mode '%s'", optarg);
			}
			break;
		case OPT_ADDR:
			if (cfg->naddrs == TRF_MAX_ADDRS)
				return usage_error("at most %d --addr options", TRF_MAX_ADDRS);
			if (trf_parse_addr(optarg, &cfg->addrs[cfg->naddrs], &err) < 0)
				return usage_error("%s", err.msg);
			cfg->naddrs++;
			break;
		case OPT_MTU:
			if (trf_parse_uint(optarg, 68, 65535, &v) < 0)
				return usage_error("bad --mtu '%s': expected 68..65535", optarg);
			cfg->mtu = (unsigned int)v;
			break;
		case OPT_MAC:
			if (trf_parse_mac(optarg, cfg->reflect.mac, &err) < 0)
				return usage_error("%s", err.msg);
			break;
		case OPT_STATS:
			if (parse_seconds(optarg, &o->stats_interval) < 0)
				return usage_error(
				    "bad --stats '%s': seconds, e.g. 1 or 0.5 (0 = off)", optarg);
			o->stats_given = true;
			break;
		case OPT_JSON:
			o->json_path = optarg;
			break;
		case OPT_DURATION:
			if (parse_seconds(optarg, &o->duration) < 0 || o->duration == 0)
				return usage_error("bad --duration '%s': seconds greater than 0",
						   optarg);
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 1;
		case 'V':
			printf("tapreflect %s\n", TRF_VERSION);
			return 1;
		case ':':
			return usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);

	if (ncpus == 0) {
		int allowed[TRF_MAX_QUEUES];
		unsigned int n;

		if (trf_config_default_cpus(cfg, &err) < 0)
			return usage_error("%s", err.msg);
		n = cfg->queues;
		memcpy(allowed, cfg->cpus, sizeof(allowed));
		if (queues) {
			/* More queues than CPUs: wrap around. */
			for (unsigned int q = 0; q < queues; q++)
				cfg->cpus[q] = allowed[q % n];
			cfg->queues = (unsigned int)queues;
		}
	} else if (queues && queues != (unsigned long)ncpus) {
		return usage_error("--queues %lu does not match the %d CPU(s) in --cpus: queue i "
				   "runs on the i-th CPU of the list",
				   queues, ncpus);
	} else {
		cfg->queues = (unsigned int)ncpus;
	}
	cfg->reflect.link = cfg->link;
	if (trf_config_validate(cfg, &err) < 0)
		return usage_error("%s", err.msg);
	if (cfg->read != TRF_READ_AUTO && cfg->io == TRF_IO_SYNC)
		return usage_error("--read applies to --io uring only");
	return 0;
}

/* ---- reporting ---- */

struct sample {
	double t; /* seconds since start */
	double cpu_s; /* process user + system time */
	struct trf_queue_stats *queues;
	struct trf_queue_stats total;
};

struct report {
	const struct opts *o;
	struct trf_engine *eng;
	unsigned int nq;
	FILE *json;
	FILE *human;
	bool live_tty;
	bool live;
	struct timespec start;
	double cpu_start;
	uint64_t kernel_drops_start;
	struct sample prev, cur;
};

static double now_since(const struct timespec *start)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)(ts.tv_sec - start->tv_sec) + (double)(ts.tv_nsec - start->tv_nsec) / 1e9;
}

static double process_cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void take_sample(struct report *r, struct sample *s)
{
	s->t = now_since(&r->start);
	s->cpu_s = process_cpu_seconds() - r->cpu_start;
	s->total = (struct trf_queue_stats){ 0 };
	for (unsigned int q = 0; q < r->nq; q++) {
		trf_engine_sample(r->eng, q, &s->queues[q]);
		trf_stats_accumulate(&s->total, &s->queues[q]);
	}
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

static void report_interval(struct report *r)
{
	const struct sample *a = &r->prev, *b = &r->cur;
	double dt = b->t - a->t;
	uint64_t rd = b->total.frames_read - a->total.frames_read;
	uint64_t wr = b->total.frames_written - a->total.frames_written;
	uint64_t dr = trf_stats_dropped(&b->total) - trf_stats_dropped(&a->total);
	uint64_t bytes = b->total.bytes_read - a->total.bytes_read;
	double cpu = ns_per_frame(b->cpu_s - a->cpu_s, rd);

	if (dt <= 0)
		return;
	if (r->live) {
		fprintf(r->human,
			"%s[%7.1fs] rx %8.1f kpps  tx %8.1f kpps  %6.2f Gbit/s  dropped %" PRIu64
			"  cpu %5.0f ns/frame%s",
			r->live_tty ? "\r" : "", b->t, (double)rd / dt / 1e3, (double)wr / dt / 1e3,
			(double)bytes * 8 / dt / 1e9, dr, cpu, r->live_tty ? "\033[K" : "\n");
		fflush(r->human);
	}
	if (r->json) {
		fprintf(r->json,
			"{\"type\":\"interval\",\"t\":%.3f,\"dt\":%.3f,\"frames_read\":%" PRIu64
			",\"frames_written\":%" PRIu64 ",\"frames_dropped\":%" PRIu64
			",\"bytes_read\":%" PRIu64 ",\"pps_read\":%.0f,\"pps_written\":%.0f,"
			"\"gbps\":%.4f,\"cpu_ns_per_frame\":%.1f,"
			"\"drops\":",
			b->t, dt, rd, wr, dr, bytes, (double)rd / dt, (double)wr / dt,
			(double)bytes * 8 / dt / 1e9, cpu);
		json_drops(r->json, &b->total, &a->total);
		fputs(",\"per_queue\":[", r->json);
		for (unsigned int q = 0; q < r->nq; q++) {
			const struct trf_queue_stats *qa = &a->queues[q], *qb = &b->queues[q];

			fprintf(r->json,
				"%s{\"queue\":%u,\"frames_read\":%" PRIu64
				",\"frames_written\":%" PRIu64 ",\"frames_dropped\":%" PRIu64
				",\"pps_read\":%.0f}",
				q ? "," : "", q, qb->frames_read - qa->frames_read,
				qb->frames_written - qa->frames_written,
				trf_stats_dropped(qb) - trf_stats_dropped(qa),
				(double)(qb->frames_read - qa->frames_read) / dt);
		}
		fputs("]}\n", r->json);
		fflush(r->json);
	}
}

static void json_queue_totals(FILE *f, unsigned int q, int cpu, const struct trf_queue_stats *s)
{
	fprintf(f,
		"%s{\"queue\":%u,\"cpu\":%d,\"frames_read\":%" PRIu64 ",\"bytes_read\":%" PRIu64
		",\"frames_written\":%" PRIu64 ",\"bytes_written\":%" PRIu64
		",\"frames_dropped\":%" PRIu64 ",\"read_rearms\":%" PRIu64 ",\"waits\":%" PRIu64
		",\"drops\":",
		q ? "," : "", q, cpu, s->frames_read, s->bytes_read, s->frames_written,
		s->bytes_written, trf_stats_dropped(s), s->read_rearms, s->waits);
	json_drops(f, s, NULL);
	fputs("}", f);
}

/* Returns whether the accounting holds on every queue. */
static bool report_summary(struct report *r, int exit_code)
{
	const struct trf_config *cfg = trf_engine_config(r->eng);
	const struct sample *s = &r->cur;
	const struct trf_queue_stats *t = &s->total;
	uint64_t dropped = trf_stats_dropped(t), kernel_drops = 0, kd_now = 0;
	bool exact = true, have_kd;
	FILE *h = r->human;

	for (unsigned int q = 0; q < r->nq; q++)
		if (s->queues[q].frames_read !=
		    s->queues[q].frames_written + trf_stats_dropped(&s->queues[q]))
			exact = false;
	have_kd = trf_netcfg_tx_dropped(trf_engine_dev(r->eng), &kd_now) == 0;
	if (have_kd && kd_now >= r->kernel_drops_start)
		kernel_drops = kd_now - r->kernel_drops_start;

	if (r->live_tty && r->live)
		fputs("\n", h);
	fprintf(h, "tapreflect summary: %s (%s, %u queue%s), io %s", trf_engine_dev(r->eng),
		cfg->link == TRF_LINK_TAP ? "tap" : "tun", r->nq, r->nq == 1 ? "" : "s",
		trf_io_name(cfg->io));
	if (cfg->io == TRF_IO_URING)
		fprintf(h, " (%s reads, ring %s)", trf_engine_read_name(r->eng),
			trf_engine_ring_flags(r->eng));
	fprintf(h, ", reflect %s, %.2f s\n", cfg->mode->name, s->t);
	fprintf(h, "  %5s %4s %15s %15s %12s %12s\n", "queue", "cpu", "frames read",
		"frames written", "dropped", "avg pps");
	for (unsigned int q = 0; q < r->nq; q++) {
		const struct trf_queue_stats *qs = &s->queues[q];

		fprintf(h, "  %5u %4d %15" PRIu64 " %15" PRIu64 " %12" PRIu64 " %12.0f\n", q,
			cfg->cpus[q], qs->frames_read, qs->frames_written, trf_stats_dropped(qs),
			s->t > 0 ? (double)qs->frames_read / s->t : 0.0);
	}
	fprintf(h, "  %5s %4s %15" PRIu64 " %15" PRIu64 " %12" PRIu64 " %12.0f\n", "total", "",
		t->frames_read, t->frames_written, dropped,
		s->t > 0 ? (double)t->frames_read / s->t : 0.0);
	fputs("  drops:", h);
	if (!dropped)
		fputs(" none", h);
	for (unsigned int d = 1; d < TRF_STAT_DROPS; d++)
		if (t->drops[d])
			fprintf(h, " %s %" PRIu64 " (%s);", trf_stat_drop_name(d), t->drops[d],
				trf_stat_drop_help(d));
	fputs("\n", h);
	fprintf(h, "  cpu: %.3f s user+system, %.0f ns per frame read\n", s->cpu_s,
		ns_per_frame(s->cpu_s, t->frames_read));
	if (have_kd)
		fprintf(h,
			"  kernel: %" PRIu64 " frame(s) dropped by %s before they were read "
			"(queue full)\n",
			kernel_drops, trf_engine_dev(r->eng));
	fprintf(h,
		"  accounting: read %" PRIu64 " = written %" PRIu64 " + dropped %" PRIu64 ": %s\n",
		t->frames_read, t->frames_written, dropped, exact ? "exact" : "MISMATCH");
	fflush(h);

	if (r->json) {
		fprintf(r->json,
			"{\"type\":\"summary\",\"version\":\"%s\",\"dev\":\"%s\","
			"\"dev_persistent\":%s,\"mode\":\"%s\","
			"\"io\":\"%s\",\"read\":\"%s\",\"ring_flags\":\"%s\",\"reflect\":\"%s\","
			"\"queues\":%u,\"elapsed_s\":%.3f,\"cpu_s\":%.4f,\"cpu_ns_per_frame\":%.1f,"
			"\"frames_read\":%" PRIu64 ",\"bytes_read\":%" PRIu64
			",\"frames_written\":%" PRIu64 ",\"bytes_written\":%" PRIu64
			",\"frames_dropped\":%" PRIu64 ",\"kernel_tx_dropped\":%" PRIu64
			",\"accounting_exact\":%s,\"exit_code\":%d,\"drops\":",
			TRF_VERSION, trf_engine_dev(r->eng),
			trf_engine_dev_persistent(r->eng) ? "true" : "false",
			cfg->link == TRF_LINK_TAP ? "tap" : "tun", trf_io_name(cfg->io),
			trf_engine_read_name(r->eng), trf_engine_ring_flags(r->eng),
			cfg->mode->name, r->nq, s->t, s->cpu_s,
			ns_per_frame(s->cpu_s, t->frames_read), t->frames_read, t->bytes_read,
			t->frames_written, t->bytes_written, dropped, kernel_drops,
			exact ? "true" : "false", exit_code);
		json_drops(r->json, t, NULL);
		fputs(",\"per_queue\":[", r->json);
		for (unsigned int q = 0; q < r->nq; q++)
			json_queue_totals(r->json, q, cfg->cpus[q], &s->queues[q]);
		fputs("]}\n", r->json);
		fflush(r->json);
	}
	return exact;
}

/* Wait for a signal, a worker failure, the next stats tick or the end. */
static int run_loop(struct report *r, int sfd)
{
	const struct opts *o = r->o;
	double next_tick = o->stats_interval > 0 ? o->stats_interval : -1;
	struct trf_err err;

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = trf_engine_failure_fd(r->eng), .events = POLLIN },
		};
		double now = now_since(&r->start), until = -1;
		int timeout_ms = -1;

		if (o->duration > 0)
			until = o->duration;
		if (next_tick > 0 && (until < 0 || next_tick < until))
			until = next_tick;
		if (until >= 0)
			timeout_ms = until > now ? (int)((until - now) * 1000) + 1 : 0;
		if (poll(pfd, 2, timeout_ms) < 0 && errno != EINTR) {
			fprintf(stderr, "tapreflect: poll: %s\n", strerror(errno));
			return EXIT_RUNTIME;
		}
		if (pfd[1].revents && trf_engine_failure(r->eng, &err)) {
			fprintf(stderr, "tapreflect: %s\n", err.msg);
			return EXIT_RUNTIME;
		}
		if (pfd[0].revents) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si))
				return 0;
		}
		now = now_since(&r->start);
		if (next_tick > 0 && now >= next_tick) {
			struct sample tmp;

			take_sample(r, &r->cur);
			report_interval(r);
			tmp = r->prev;
			r->prev = r->cur;
			r->cur = tmp;
			next_tick += o->stats_interval;
			if (next_tick <= now)
				next_tick = now + o->stats_interval;
		}
		if (o->duration > 0 && now >= o->duration)
			return 0;
	}
}

static void describe_start(const struct trf_engine *eng, FILE *f)
{
	const struct trf_config *cfg = trf_engine_config(eng);

	fprintf(f, "tapreflect: reflecting on %s (%s, %u queue%s on CPU%s ", trf_engine_dev(eng),
		cfg->link == TRF_LINK_TAP ? "tap" : "tun", cfg->queues, cfg->queues == 1 ? "" : "s",
		cfg->queues == 1 ? "" : "s");
	for (unsigned int q = 0; q < cfg->queues; q++)
		fprintf(f, "%s%d", q ? "," : "", cfg->cpus[q]);
	fprintf(f, ", io %s", trf_io_name(cfg->io));
	if (cfg->io == TRF_IO_URING)
		fprintf(f, " with %s reads, ring %s", trf_engine_read_name(eng),
			trf_engine_ring_flags(eng));
	fprintf(f, ", reflect %s, mac %02x:%02x:%02x:%02x:%02x:%02x)\n", cfg->mode->name,
		cfg->reflect.mac[0], cfg->reflect.mac[1], cfg->reflect.mac[2], cfg->reflect.mac[3],
		cfg->reflect.mac[4], cfg->reflect.mac[5]);
	fflush(f);
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct report r = { 0 };
	struct trf_engine *eng = NULL;
	struct trf_err err = { { 0 } };
	sigset_t sigs;
	int ret, sfd, code = EXIT_RUNTIME;
	bool exact;

	ret = parse_args(argc, argv, &o);
	if (ret)
		return ret > 0 ? 0 : EXIT_USAGE;

	/* Workers inherit this mask: only the main thread takes SIGINT/SIGTERM. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* The sync engine's stop interrupts its workers' read() with this signal. */
	trf_engine_sync_wake_handler(o.cfg.wake_signal);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sfd < 0) {
		fprintf(stderr, "tapreflect: signalfd: %s\n", strerror(errno));
		return EXIT_RUNTIME;
	}

	r.o = &o;
	r.human = stdout;
	if (o.json_path) {
		if (strcmp(o.json_path, "-") == 0) {
			r.json = stdout;
			r.human = stderr;
		} else {
			r.json = fopen(o.json_path, "we");
			if (!r.json) {
				fprintf(stderr, "tapreflect: cannot write --json %s: %s\n",
					o.json_path, strerror(errno));
				goto close_sfd;
			}
		}
	}
	r.live_tty = isatty(fileno(r.human));
	r.live = o.stats_interval > 0 && (r.live_tty || o.stats_given);

	if (trf_engine_create(&o.cfg, &eng, &err) < 0) {
		fprintf(stderr, "tapreflect: %s\n", err.msg);
		goto close_json;
	}
	if (trf_engine_start(eng, &err) < 0) {
		fprintf(stderr, "tapreflect: %s\n", err.msg);
		goto destroy_engine;
	}
	r.eng = eng;
	r.nq = o.cfg.queues;
	r.prev.queues = calloc(r.nq, sizeof(struct trf_queue_stats));
	r.cur.queues = calloc(r.nq, sizeof(struct trf_queue_stats));
	if (!r.prev.queues || !r.cur.queues) {
		fprintf(stderr, "tapreflect: out of memory\n");
		goto free_samples;
	}
	clock_gettime(CLOCK_MONOTONIC, &r.start);
	r.cpu_start = process_cpu_seconds();
	trf_netcfg_tx_dropped(trf_engine_dev(eng), &r.kernel_drops_start);
	describe_start(eng, stderr);

	code = run_loop(&r, sfd);
	trf_engine_stop(eng);
	if (code == 0 && trf_engine_failure(eng, &err)) {
		fprintf(stderr, "tapreflect: %s\n", err.msg);
		code = EXIT_RUNTIME;
	}
	take_sample(&r, &r.cur);
	exact = report_summary(&r, code);
	if (!exact && code == 0)
		code = EXIT_RUNTIME;

free_samples:
	free(r.prev.queues);
	free(r.cur.queues);
destroy_engine:
	trf_engine_destroy(eng);
close_json:
	if (r.json && r.json != stdout)
		fclose(r.json);
close_sfd:
	close(sfd);
	return code;
}
