// SPDX-License-Identifier: MIT
/*
 * tapreflect's options, declared once: the table below makes getopt_long's
 * arguments, --help, the man page's options and the bash completion
 * (tools/common/opttab.c, tools/mangen.c); the enums' names are the engine's
 * tables (tapreflect/names.h).  docs/cli.md is checked against it by
 * unit.options, --help, the man page and the completion by tools.cli_outputs.
 *
 * A handler parses its value's syntax; the ranges of the configuration's
 * values are trf_config_validate()'s, so that each rule has one message.
 */
#include "options.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ready.h"
#include "tapreflect/names.h"

/* The longest --duration or --stats: 10^7 s, 115 days. */
#define MAX_SECONDS 1e7

static int parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v < 0 || v > MAX_SECONDS)
		return -EINVAL;
	*out = v;
	return 0;
}

/* A value's syntax: a whole number (its range is trf_config_validate()'s). */
static int whole_number(const char *name, const char *v, unsigned int *out)
{
	unsigned long n;

	if (trf_parse_uint(v, 0, UINT_MAX, &n) < 0)
		return trf_usage_error("bad --%s '%s': expected a whole number", name, v);
	*out = (unsigned int)n;
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

static int opt_dev(void *ctx, const char *v)
{
	struct opts *o = ctx;

	if (!*v || strlen(v) >= IFNAMSIZ || strchr(v, '/'))
		return trf_usage_error("bad --dev '%s': a device name of 1..%d characters", v,
				       IFNAMSIZ - 1);
	snprintf(o->cfg.dev, sizeof(o->cfg.dev), "%s", v);
	return 0;
}

static int opt_queues(void *ctx, const char *v)
{
	struct opts *o = ctx;

	o->queues_given = true;
	return whole_number("queues", v, &o->queues);
}

static int opt_cpus(void *ctx, const char *v)
{
	struct opts *o = ctx;
	struct trf_err err;

	o->ncpus = trf_parse_cpulist(v, o->cfg.cpus, TRF_MAX_QUEUES, &err);
	if (o->ncpus < 0)
		return trf_usage_error("%s", err.msg);
	return 0;
}

static int opt_addr(void *ctx, const char *v)
{
	struct trf_config *cfg = &((struct opts *)ctx)->cfg;
	struct trf_err err;

	if (cfg->naddrs == TRF_MAX_ADDRS)
		return trf_usage_error("at most %d --addr options", TRF_MAX_ADDRS);
	if (trf_parse_addr(v, &cfg->addrs[cfg->naddrs], &err) < 0)
		return trf_usage_error("%s", err.msg);
	cfg->naddrs++;
	return 0;
}

static int opt_mtu(void *ctx, const char *v)
{
	return whole_number("mtu", v, &((struct opts *)ctx)->cfg.mtu);
}

static int opt_mac(void *ctx, const char *v)
{
	struct opts *o = ctx;
	struct trf_err err;

	if (trf_parse_mac(v, o->cfg.reflect.mac, &err) < 0)
		return trf_usage_error("%s", err.msg);
	return 0;
}

/* A user name, or a numeric uid; the group is the user's own. */
static int opt_user(void *ctx, const char *v)
{
	struct opts *o = ctx;
	const struct passwd *pw;
	unsigned long uid;

	errno = 0;
	pw = getpwnam(v);
	if (!pw && trf_parse_uint(v, 0, 0xfffffffe, &uid) == 0)
		pw = getpwuid((uid_t)uid);
	if (!pw)
		return trf_usage_error("bad --user '%s': no such user%s%s", v, errno ? ": " : "",
				       errno ? strerror(errno) : "");
	if (pw->pw_uid == 0)
		return trf_usage_error(
		    "--user %s: that is root; name an ordinary user (e.g. nobody)", v);
	o->cfg.run_as = true;
	o->cfg.run_uid = pw->pw_uid;
	o->cfg.run_gid = pw->pw_gid;
	snprintf(o->cfg.run_user, sizeof(o->cfg.run_user), "%s", pw->pw_name);
	return 0;
}

static int opt_coalesce(void *ctx, const char *v)
{
	return whole_number("coalesce", v, &((struct opts *)ctx)->cfg.coalesce_usec);
}

static int opt_syscall_ns(void *ctx, const char *v)
{
	struct opts *o = ctx;

	o->cfg.syscall_ns_given = true;
	return whole_number("syscall-ns", v, &o->cfg.syscall_ns);
}

/* The enums: opttab looks the name up in the option's table and hands over its value. */
static int set_link(void *ctx, int v)
{
	((struct opts *)ctx)->cfg.link = (enum trf_link)v;
	return 0;
}

static int set_io(void *ctx, int v)
{
	((struct opts *)ctx)->cfg.io = (enum trf_io)v;
	return 0;
}

static int set_read(void *ctx, int v)
{
	((struct opts *)ctx)->cfg.read = (enum trf_read)v;
	return 0;
}

static int set_workers(void *ctx, int v)
{
	struct opts *o = ctx;

	o->cfg.workers = (enum trf_workers)v;
	o->workers_given = true;
	return 0;
}

static int set_poll(void *ctx, int v)
{
	((struct opts *)ctx)->cfg.busy_poll = v == 1;
	((struct opts *)ctx)->cfg.hybrid = v == 2;
	return 0;
}

static int set_offload(void *ctx, int v)
{
	((struct opts *)ctx)->cfg.offload = (enum trf_offload)v;
	return 0;
}

static int set_steering(void *ctx, int v)
{
	((struct opts *)ctx)->cfg.steering = (enum trf_steering)v;
	return 0;
}

static int opt_fixed_reads(void *ctx, const char *v)
{
	return whole_number("fixed-reads", v, &((struct opts *)ctx)->cfg.fixed_reads);
}

static int opt_buffers(void *ctx, const char *v)
{
	struct opts *o = ctx;

	o->cfg.buffers_set = true;
	return whole_number("buffers", v, &o->cfg.buffers);
}

static int opt_frame_size(void *ctx, const char *v)
{
	struct opts *o = ctx;

	o->cfg.frame_size_set = true;
	return whole_number("frame-size", v, &o->cfg.frame_size);
}

static int opt_reflect(void *ctx, const char *v)
{
	struct opts *o = ctx;

	if (strcmp(v, "help") == 0) {
		list_modes(stdout);
		return TRF_OPT_DONE;
	}
	o->cfg.reflect_mode = trf_reflect_mode_find(v);
	if (!o->cfg.reflect_mode) {
		list_modes(stderr);
		return trf_usage_error("unknown --reflect mode '%s'", v);
	}
	return 0;
}

/* --reflect's values for the completion: the modes, and "help". */
static const char *reflect_word(unsigned int i)
{
	unsigned int n = 0;

	while (trf_reflect_modes[n])
		n++;
	if (i < n)
		return trf_reflect_modes[i]->name;
	return i == n ? "help" : NULL;
}

/* PORT or LO-HI: the UDP ports the iperf2 mode serves. */
static int opt_iperf2_ports(void *ctx, const char *v)
{
	struct opts *o = ctx;
	unsigned long lo, hi;
	char buf[16], *dash;

	if (strlen(v) >= sizeof(buf))
		goto bad;
	strcpy(buf, v);
	dash = strchr(buf, '-');
	if (dash)
		*dash++ = '\0';
	if (trf_parse_uint(buf, 1, 65535, &lo) < 0 ||
	    trf_parse_uint(dash ? dash : buf, lo, 65535, &hi) < 0)
		goto bad;
	o->cfg.reflect.iperf2_port_lo = (uint16_t)lo;
	o->cfg.reflect.iperf2_port_hi = (uint16_t)hi;
	o->iperf2_ports_given = true;
	return 0;
bad:
	return trf_usage_error("bad --iperf2-ports '%s': a port or a range, e.g. 5001 or 5001-5004",
			       v);
}

static int opt_stats(void *ctx, const char *v)
{
	struct opts *o = ctx;

	if (parse_seconds(v, &o->stats_interval) < 0)
		return trf_usage_error(
		    "bad --stats '%s': seconds up to %.0f, e.g. 1 or 0.5 (0 = off)", v,
		    MAX_SECONDS);
	o->stats_given = true;
	return 0;
}

static int opt_json(void *ctx, const char *v)
{
	((struct opts *)ctx)->json_path = v;
	return 0;
}

static int opt_capture_drops(void *ctx, const char *v)
{
	((struct opts *)ctx)->capture_path = v;
	return 0;
}

static int opt_capture_limit(void *ctx, const char *v)
{
	struct opts *o = ctx;

	o->capture_limit_given = true;
	return whole_number("capture-limit", v, &o->cfg.capture_limit);
}

static int opt_ready_fd(void *ctx, const char *v)
{
	struct opts *o = ctx;
	char why[200];

	if (trf_ready_fd_parse(v, &o->ready_fd, why, sizeof(why)) < 0)
		return trf_usage_error("bad --ready-fd '%s': %s", v, why);
	return 0;
}

static int opt_duration(void *ctx, const char *v)
{
	struct opts *o = ctx;

	if (parse_seconds(v, &o->duration) < 0 || o->duration == 0)
		return trf_usage_error(
		    "bad --duration '%s': seconds, more than 0 and at most %.0f (115 days)", v,
		    MAX_SECONDS);
	return 0;
}

static int opt_metrics(void *ctx, const char *v)
{
	struct opts *o = ctx;
	char err[160];

	if (trf_metrics_parse_listen(v, &o->metrics, err, sizeof(err)) < 0)
		return trf_usage_error("bad --metrics %s", err);
	o->metrics_given = true;
	return 0;
}

static int opt_metrics_linger(void *ctx, const char *v)
{
	struct opts *o = ctx;

	if (parse_seconds(v, &o->metrics_linger) < 0)
		return trf_usage_error("bad --metrics-linger '%s': seconds, 0 to %.0f", v,
				       MAX_SECONDS);
	o->metrics_linger_given = true;
	return 0;
}

static int opt_help(void *ctx, const char *v)
{
	(void)ctx;
	(void)v;
	trf_opt_help(&tapreflect_tool, stdout);
	return TRF_OPT_DONE;
}

static int opt_version(void *ctx, const char *v)
{
	(void)ctx;
	(void)v;
	printf("tapreflect %s\n", TRF_VERSION);
	return TRF_OPT_DONE;
}

/* clang-format off */
static const struct trf_opt options[] = {
	{ .name = "dev", .short_name = 'd', .arg = "NAME", .group = "Device:",
	  .help = "device to create or attach to (default trf0); a persistent\n"
		  "device must be multi_queue and of the same --mode",
	  .parse = opt_dev, .complete = TRF_COMPLETE_NETDEV },
	{ .name = "mode", .short_name = 'm', .names = trf_link_names, .set = set_link,
	  .help = "what the device carries:" },
	{ .name = "queues", .short_name = 'q', .arg = "N", .parse = opt_queues,
	  .help = "number of queues, 1..256 (default: one per --cpus entry, else\n"
		  "one per CPU this process may use); queues on the same CPU\n"
		  "share its worker thread (see --workers)" },
	{ .name = "cpus", .short_name = 'c', .arg = "LIST", .parse = opt_cpus,
	  .help = "CPUs for the queues, queue i on the i-th, e.g. 0-3,6" },
	{ .name = "addr", .arg = "ADDR/PREFIX", .parse = opt_addr,
	  .help = "add a host-side address and bring the link up; repeatable,\n"
		  "IPv4 or IPv6, the prefix length required, e.g. --addr\n"
		  "198.18.0.1/24 (needs CAP_NET_ADMIN)" },
	{ .name = "mtu", .arg = "BYTES", .parse = opt_mtu,
	  .help = "set the device MTU (68..65535) before starting" },
	{ .name = "mac", .arg = "MAC", .parse = opt_mac,
	  .help = "the reflector's own MAC, used in ARP replies\n"
		  "(default 02:74:72:66:00:01)" },
	{ .name = "io", .names = trf_io_names, .set = set_io, .group = "Engine:",
	  .help = "the I/O engine:" },
	{ .name = "read", .names = trf_read_names, .set = set_read,
	  .help = "io_uring read strategy:" },
	{ .name = "fixed-reads", .arg = "N", .parse = opt_fixed_reads,
	  .help = "smallest round of READ_FIXEDs with --read fixed (default 4,\n"
		  "max 16); a round grows to the last burst's size, and doubles\n"
		  "while rounds come back full, never past the free buffers;\n"
		  "no read is ever left parked" },
	{ .name = "coalesce", .arg = "USEC", .parse = opt_coalesce,
	  .help = "once frames arrive closer together than USEC, wait up to USEC\n"
		  "for more before reflecting a batch: fewer wakeups per frame, up to\n"
		  "USEC more latency (io_uring min_wait, Linux 6.12; 0..10000,\n"
		  "default 0 = off)" },
	{ .name = "poll", .names = trf_poll_names, .set = set_poll,
	  .help = "how an io_uring worker waits for frames:" },
	{ .name = "syscall-ns", .arg = "NS", .parse = opt_syscall_ns,
	  .help = "take NS as what a bare syscall costs here instead of measuring it\n"
		  "at start: what --poll hybrid goes by (under 150 ns the blocking\n"
		  "loop at every load, 500 or more the ring), for the same choice on\n"
		  "every machine of a fleet; the reports say it was given" },
	{ .name = "workers", .names = trf_workers_names, .set = set_workers,
	  .help = "io_uring worker threads (--io sync always runs one per queue):" },
	{ .name = "offload", .names = trf_offload_names, .set = set_offload,
	  .help = "virtio-net offloads:" },
	{ .name = "steering", .names = trf_steering_names, .set = set_steering,
	  .help = "with 2+ queues, how the kernel picks a frame's queue:" },
	{ .name = "buffers", .arg = "N", .parse = opt_buffers,
	  .help = "frame buffers per queue, a power of two up to 16384 (default\n"
		  "256; 64 with offloads)" },
	{ .name = "frame-size", .arg = "BYTES", .parse = opt_frame_size,
	  .help = "bytes per buffer (default 16384, enough for 9216 B jumbo\n"
		  "frames; 65600 with offloads); a frame that fills its buffer is\n"
		  "dropped as truncated" },
	{ .name = "reflect", .short_name = 'r', .arg = "MODE", .parse = opt_reflect,
	  .word = reflect_word,
	  .help = "reflect mode (default respond); 'help' lists them" },
	{ .name = "iperf2-ports", .arg = "PORT[-PORT]", .parse = opt_iperf2_ports,
	  .help = "--reflect iperf2: the UDP ports iperf2 clients send to\n"
		  "(default 5001, iperf's own)" },
	{ .name = "stats", .arg = "SECONDS", .parse = opt_stats, .group = "Reporting and lifetime:",
	  .help = "interval of the live line and JSON records (default 1, 0 = off);\n"
		  "the live line is shown on a terminal or when this is given" },
	{ .name = "json", .arg = "FILE|-", .parse = opt_json, .complete = TRF_COMPLETE_FILE,
	  .help = "write JSON lines: one per interval, then a summary" },
	{ .name = "capture-drops", .arg = "FILE", .parse = opt_capture_drops,
	  .complete = TRF_COMPLETE_FILE,
	  .help = "write dropped frames to pcap files, one per drop reason, each\n"
		  "made at its first frame: FILE drops.pcap makes drops.malformed.pcap,\n"
		  "drops.truncated.pcap, ... (link type EN10MB on tap, RAW on tun;\n"
		  "each frame as read, without a virtio-net header); the directory\n"
		  "must exist and be writable (by --user's user). Not captured:\n"
		  "write_error, link_down and aborted (the frame is a reply by then),\n"
		  "frames over --capture-limit, or that find the writer behind or\n"
		  "their file unwritable; the summary (and JSON \"capture\") counts\n"
		  "the frames captured by reason, with their files, and those not\n"
		  "captured, by why" },
	{ .name = "capture-limit", .arg = "N", .parse = opt_capture_limit,
	  .help = "with --capture-drops: capture at most N frames a second over\n"
		  "the whole reflector (1..1000000, default 100); the rest are\n"
		  "counted as not captured" },
	{ .name = "metrics", .arg = "[ADDR:]PORT", .parse = opt_metrics,
	  .help = "serve Prometheus metrics over HTTP at /metrics (OpenMetrics\n"
		  "when the scraper asks): frames read, written, consumed and\n"
		  "dropped by queue and reason, bytes, the kernel's drops, frames\n"
		  "per wakeup, CPU seconds, link state, what is in force; ADDR\n"
		  "is numeric, 127.0.0.1 unless given ([::1]:PORT for IPv6), PORT\n"
		  "0 takes a free one (said on stderr); bound before the device\n"
		  "is touched, served from a thread of its own" },
	{ .name = "metrics-linger", .arg = "SECONDS", .parse = opt_metrics_linger,
	  .help = "after the stop and the summary, go on serving the final,\n"
		  "exact values this long, so that a scraper gets them (default 0;\n"
		  "a second SIGINT/SIGTERM ends it)" },
	{ .name = "ready-fd", .arg = "N", .parse = opt_ready_fd,
	  .help = "once every queue is open and every worker runs, write one JSON\n"
		  "line (\"type\":\"start\": pid, device, engine, queues, CPUs) to\n"
		  "the open descriptor N (3 or more) and close it; a start that\n"
		  "fails writes nothing, so the reader sees end of file" },
	{ .name = "duration", .arg = "SECONDS", .parse = opt_duration,
	  .help = "stop by itself after this long (default: run until SIGINT/SIGTERM)" },
	{ .name = "user", .short_name = 'u', .arg = "NAME", .parse = opt_user,
	  .complete = TRF_COMPLETE_USER,
	  .help = "started as root: set up the device and the queues, then run\n"
		  "as this user (name or uid) with no capability and no_new_privs,\n"
		  "before the first frame is read" },
	{ .name = "help", .short_name = 'h', .parse = opt_help, .help = "show this help" },
	{ .name = "version", .short_name = 'V', .parse = opt_version, .help = "show the version" },
	{ .name = NULL },
};
/* clang-format on */

const struct trf_opt_tool tapreflect_tool = {
	.prog = "tapreflect",
	.usage =
	    "Usage: tapreflect [OPTIONS]\n"
	    "\n"
	    "Reflect every frame sent into a multi-queue TAP or TUN device back to its sender:\n"
	    "ARP requests and ICMP echo requests are answered, UDP/TCP 5-tuples are swapped,\n"
	    "other IPv4 is bounced with its addresses swapped.  Each queue is served by a\n"
	    "worker thread pinned to its CPU; with io_uring, the queues of one CPU share one\n"
	    "(--workers).\n",
	.epilogue =
	    "Exit status: 0 clean stop (signal or --duration), 1 runtime error (the device\n"
	    "deleted under it, too), 2 bad usage.\n"
	    "Every frame read is counted as written, consumed (taken in as a server would:\n"
	    "--reflect iperf2) or dropped with a reason; the summary checks\n"
	    "read = written + consumed + dropped, per queue.\n"
	    "\n"
	    "Examples:\n"
	    "  # TAP device with a host address; ping anything else in the subnet\n"
	    "  tapreflect --addr 198.18.0.1/24 &  ping 198.18.0.2\n"
	    "  # TUN, two queues on CPUs 0 and 1, JSON summary after 10 s\n"
	    "  tapreflect -m tun -c 0,1 --addr 198.18.0.1/24 --duration 10 --json run.json\n"
	    "  # the reference engine, for a same-run comparison\n"
	    "  tapreflect --io sync -c 0 --addr 198.18.0.1/24\n",
	.opts = options,
};

/*
 * Queues and CPUs agree, and the whole configuration holds together: the
 * ranges and the rules between values are trf_config_validate()'s, those
 * only the command line has (options that apply to others) are here.
 */
static int finish(struct opts *o)
{
	struct trf_config *cfg = &o->cfg;
	struct trf_err err;

	if (o->ncpus == 0) {
		int allowed[TRF_MAX_QUEUES];
		unsigned int n;

		if (trf_config_default_cpus(cfg, &err) < 0)
			return trf_usage_error("%s", err.msg);
		n = cfg->queues;
		memcpy(allowed, cfg->cpus, sizeof(allowed));
		if (o->queues_given) {
			/* More queues than CPUs: wrap around (a count out of range is refused below). */
			for (unsigned int q = 0; q < o->queues && q < TRF_MAX_QUEUES; q++)
				cfg->cpus[q] = allowed[q % n];
			cfg->queues = o->queues;
		}
	} else if (o->queues_given && o->queues != (unsigned int)o->ncpus) {
		return trf_usage_error(
		    "--queues %u does not match the %d CPU(s) in --cpus: queue i "
		    "runs on the i-th CPU of the list",
		    o->queues, o->ncpus);
	} else {
		cfg->queues = (unsigned int)o->ncpus;
	}
	if (o->capture_limit_given && !o->capture_path)
		return trf_usage_error("--capture-limit applies to --capture-drops only");
	if (o->capture_path && o->capture_limit_given && cfg->capture_limit == 0)
		return trf_usage_error("bad --capture-limit '0': expected 1..%d frames per second "
				       "(leave --capture-drops out to capture nothing)",
				       TRF_MAX_CAPTURE_LIMIT);
	if (o->capture_path && !o->capture_limit_given)
		cfg->capture_limit = TRF_DEFAULT_CAPTURE_LIMIT;
	if (trf_config_validate(cfg, &err) < 0)
		return trf_usage_error("%s", err.msg);
	if (cfg->read != TRF_READ_AUTO && cfg->io == TRF_IO_SYNC)
		return trf_usage_error("--read applies to --io uring only");
	if (o->workers_given && cfg->workers == TRF_WORKERS_PER_CPU && cfg->io == TRF_IO_SYNC)
		return trf_usage_error("--workers per-cpu applies to --io uring only: --io sync "
				       "blocks in read() and runs a thread per queue");
	if (o->iperf2_ports_given && strcmp(cfg->reflect_mode->name, "iperf2") != 0)
		return trf_usage_error("--iperf2-ports applies to --reflect iperf2 only");
	if (o->metrics_linger_given && !o->metrics_given)
		return trf_usage_error("--metrics-linger is for --metrics");
	return 0;
}

int tapreflect_parse_args(int argc, char **argv, struct opts *o)
{
	int first, ret;

	trf_config_init(&o->cfg);
	o->stats_interval = 1.0;
	o->ready_fd = -1;
	ret = trf_opt_parse(&tapreflect_tool, argc, argv, o, &first);
	if (ret)
		return ret > 0 ? 1 : ret;
	if (first < argc)
		return trf_usage_error("unexpected argument '%s'", argv[first]);
	return finish(o);
}
