// SPDX-License-Identifier: MIT
/*
 * tapreflect's options, declared once: the table below makes getopt_long's
 * arguments and --help (tools/common/opttab.c), and docs/cli.md is checked
 * against it by unit.options.
 */
#include "options.h"

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ready.h"

static int error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

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
		return error("bad --dev '%s': a device name of 1..%d characters", v, IFNAMSIZ - 1);
	snprintf(o->cfg.dev, sizeof(o->cfg.dev), "%s", v);
	return 0;
}

static int opt_mode(void *ctx, const char *v)
{
	struct opts *o = ctx;

	if (strcmp(v, "tap") == 0)
		o->cfg.link = TRF_LINK_TAP;
	else if (strcmp(v, "tun") == 0)
		o->cfg.link = TRF_LINK_TUN;
	else
		return error("bad --mode '%s': expected tap or tun", v);
	return 0;
}

static int opt_queues(void *ctx, const char *v)
{
	struct opts *o = ctx;

	if (trf_parse_uint(v, 1, TRF_MAX_QUEUES, &o->queues) < 0)
		return error("bad --queues '%s': expected 1..%d", v, TRF_MAX_QUEUES);
	return 0;
}

static int opt_cpus(void *ctx, const char *v)
{
	struct opts *o = ctx;
	struct trf_err err;

	o->ncpus = trf_parse_cpulist(v, o->cfg.cpus, TRF_MAX_QUEUES, &err);
	if (o->ncpus < 0)
		return error("%s", err.msg);
	return 0;
}

static int opt_addr(void *ctx, const char *v)
{
	struct trf_config *cfg = &((struct opts *)ctx)->cfg;
	struct trf_err err;

	if (cfg->naddrs == TRF_MAX_ADDRS)
		return error("at most %d --addr options", TRF_MAX_ADDRS);
	if (trf_parse_addr(v, &cfg->addrs[cfg->naddrs], &err) < 0)
		return error("%s", err.msg);
	cfg->naddrs++;
	return 0;
}

static int opt_mtu(void *ctx, const char *v)
{
	struct opts *o = ctx;
	unsigned long mtu;

	if (trf_parse_uint(v, 68, 65535, &mtu) < 0)
		return error("bad --mtu '%s': expected 68..65535", v);
	o->cfg.mtu = (unsigned int)mtu;
	return 0;
}

static int opt_mac(void *ctx, const char *v)
{
	struct opts *o = ctx;
	struct trf_err err;

	if (trf_parse_mac(v, o->cfg.reflect.mac, &err) < 0)
		return error("%s", err.msg);
	return 0;
}

static int opt_io(void *ctx, const char *v)
{
	struct opts *o = ctx;

	if (strcmp(v, "uring") == 0)
		o->cfg.io = TRF_IO_URING;
	else if (strcmp(v, "sync") == 0)
		o->cfg.io = TRF_IO_SYNC;
	else
		return error("bad --io '%s': expected uring or sync", v);
	return 0;
}

static int opt_read(void *ctx, const char *v)
{
	struct opts *o = ctx;

	if (strcmp(v, "auto") == 0)
		o->cfg.read = TRF_READ_AUTO;
	else if (strcmp(v, "multishot") == 0)
		o->cfg.read = TRF_READ_MULTISHOT;
	else if (strcmp(v, "fixed") == 0)
		o->cfg.read = TRF_READ_FIXED;
	else
		return error("bad --read '%s': expected auto, multishot or fixed", v);
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
		return error("bad --user '%s': no such user%s%s", v, errno ? ": " : "",
			     errno ? strerror(errno) : "");
	if (pw->pw_uid == 0)
		return error("--user %s: that is root; name an ordinary user (e.g. nobody)", v);
	o->cfg.run_as = true;
	o->cfg.run_uid = pw->pw_uid;
	o->cfg.run_gid = pw->pw_gid;
	snprintf(o->cfg.run_user, sizeof(o->cfg.run_user), "%s", pw->pw_name);
	return 0;
}

static int opt_coalesce(void *ctx, const char *v)
{
	struct opts *o = ctx;
	unsigned long n;

	if (trf_parse_uint(v, 0, TRF_MAX_COALESCE_USEC, &n) < 0)
		return error("bad --coalesce '%s': microseconds, 0..%d (0 = off)", v,
			     TRF_MAX_COALESCE_USEC);
	o->cfg.coalesce_usec = (unsigned int)n;
	return 0;
}

static int opt_workers(void *ctx, const char *v)
{
	struct opts *o = ctx;

	if (!strcmp(v, "per-cpu"))
		o->cfg.workers = TRF_WORKERS_PER_CPU;
	else if (!strcmp(v, "per-queue"))
		o->cfg.workers = TRF_WORKERS_PER_QUEUE;
	else
		return error("bad --workers '%s': expected per-cpu or per-queue", v);
	o->workers_given = true;
	return 0;
}

static int opt_poll(void *ctx, const char *v)
{
	struct opts *o = ctx;

	if (!strcmp(v, "wait"))
		o->cfg.busy_poll = false;
	else if (!strcmp(v, "busy"))
		o->cfg.busy_poll = true;
	else
		return error("bad --poll '%s': expected wait or busy", v);
	return 0;
}

static int opt_fixed_reads(void *ctx, const char *v)
{
	struct opts *o = ctx;
	unsigned long n;

	if (trf_parse_uint(v, 1, TRF_MAX_FIXED_READS, &n) < 0)
		return error("bad --fixed-reads '%s': expected 1..%d", v, TRF_MAX_FIXED_READS);
	o->cfg.fixed_reads = (unsigned int)n;
	return 0;
}

static int opt_buffers(void *ctx, const char *v)
{
	struct opts *o = ctx;
	unsigned long n;

	if (trf_parse_uint(v, 2, TRF_MAX_BUFFERS, &n) < 0 || (n & (n - 1)))
		return error("bad --buffers '%s': a power of two in 2..%d", v, TRF_MAX_BUFFERS);
	o->cfg.buffers = (unsigned int)n;
	o->cfg.buffers_set = true;
	return 0;
}

static int opt_frame_size(void *ctx, const char *v)
{
	struct opts *o = ctx;
	unsigned long n;

	if (trf_parse_uint(v, 128, TRF_MAX_FRAME_SIZE, &n) < 0)
		return error("bad --frame-size '%s': expected 128..%d", v, TRF_MAX_FRAME_SIZE);
	o->cfg.frame_size = (unsigned int)n;
	o->cfg.frame_size_set = true;
	return 0;
}

static int opt_offload(void *ctx, const char *v)
{
	struct opts *o = ctx;

	if (strcmp(v, "auto") == 0)
		o->cfg.offload = TRF_OFFLOAD_AUTO;
	else if (strcmp(v, "on") == 0)
		o->cfg.offload = TRF_OFFLOAD_ON;
	else if (strcmp(v, "off") == 0)
		o->cfg.offload = TRF_OFFLOAD_OFF;
	else
		return error("bad --offload '%s': expected auto, on or off", v);
	return 0;
}

static int opt_steering(void *ctx, const char *v)
{
	struct opts *o = ctx;

	if (strcmp(v, "auto") == 0)
		o->cfg.steering = TRF_STEERING_AUTO;
	else if (strcmp(v, "hash") == 0)
		o->cfg.steering = TRF_STEERING_HASH;
	else if (strcmp(v, "kernel") == 0)
		o->cfg.steering = TRF_STEERING_KERNEL;
	else
		return error("bad --steering '%s': expected auto, hash or kernel", v);
	return 0;
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
		return error("unknown --reflect mode '%s'", v);
	}
	return 0;
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
	return error("bad --iperf2-ports '%s': a port or a range, e.g. 5001 or 5001-5004", v);
}

static int opt_stats(void *ctx, const char *v)
{
	struct opts *o = ctx;

	if (parse_seconds(v, &o->stats_interval) < 0)
		return error("bad --stats '%s': seconds up to %.0f, e.g. 1 or 0.5 (0 = off)", v,
			     MAX_SECONDS);
	o->stats_given = true;
	return 0;
}

static int opt_json(void *ctx, const char *v)
{
	((struct opts *)ctx)->json_path = v;
	return 0;
}

static int opt_ready_fd(void *ctx, const char *v)
{
	struct opts *o = ctx;
	char why[200];

	if (trf_ready_fd_parse(v, &o->ready_fd, why, sizeof(why)) < 0)
		return error("bad --ready-fd '%s': %s", v, why);
	return 0;
}

static int opt_duration(void *ctx, const char *v)
{
	struct opts *o = ctx;

	if (parse_seconds(v, &o->duration) < 0 || o->duration == 0)
		return error(
		    "bad --duration '%s': seconds, more than 0 and at most %.0f (115 days)", v,
		    MAX_SECONDS);
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
	{ "dev", 'd', "NAME", "device to create or attach to (default trf0); a persistent\n"
	  "device must be multi_queue and of the same --mode", "Device:", opt_dev },
	{ "mode", 'm', "tap|tun", "tap: Ethernet frames (default); tun: bare IP packets", NULL, opt_mode },
	{ "queues", 'q', "N", "queues = worker threads (default: one per --cpus entry,\n"
	  "else one per CPU this process may use)", NULL, opt_queues },
	{ "cpus", 'c', "LIST", "CPUs for the queues, queue i on the i-th, e.g. 0-3,6", NULL, opt_cpus },
	{ "addr", 0, "ADDR/PREFIX", "add a host-side address and bring the link up; repeatable,\n"
	  "IPv4 or IPv6, the prefix length required, e.g. --addr\n"
	  "198.18.0.1/24 (needs CAP_NET_ADMIN)", NULL, opt_addr },
	{ "mtu", 0, "BYTES", "set the device MTU (68..65535) before starting", NULL, opt_mtu },
	{ "mac", 0, "MAC", "the reflector's own MAC, used in ARP replies\n"
	  "(default 02:74:72:66:00:01)", NULL, opt_mac },
	{ "io", 0, "uring|sync", "uring: one io_uring per queue on registered buffers (default);\n"
	  "sync: blocking read/write per frame, the reference design", "Engine:", opt_io },
	{ "read", 0, "auto|multishot|fixed", "io_uring read strategy: multishot = one IORING_OP_READ_MULTISHOT\n"
	  "on a provided buffer ring (Linux 6.7+); fixed = one readiness\n"
	  "poll and rounds of non-blocking READ_FIXEDs while frames wait\n"
	  "(older kernels too); auto = multishot where available (default)", NULL, opt_read },
	{ "fixed-reads", 0, "N", "smallest round of READ_FIXEDs with --read fixed (default 4,\n"
	  "max 16); a round grows to the last burst's size, and doubles\n"
	  "while rounds come back full, never past the free buffers;\n"
	  "no read is ever left parked", NULL, opt_fixed_reads },
	{ "coalesce", 0, "USEC", "once frames arrive closer together than USEC, wait up to USEC\n"
	  "for more before reflecting a batch: fewer wakeups per frame, up to\n"
	  "USEC more latency (io_uring min_wait, Linux 6.12; default 0 = off)",
	  NULL, opt_coalesce },
	{ "poll", 0, "wait|busy", "wait: sleep until frames arrive (default); busy: never sleep,\n"
	  "reap and submit in a loop, for latency benchmarks that give the\n"
	  "reflector its cores (each worker then uses a whole CPU)", NULL, opt_poll },
	{ "workers", 0, "per-cpu|per-queue", "io_uring: per-cpu = queues pinned to the same CPU share one\n"
	  "worker thread and ring, so one wakeup serves them all (default);\n"
	  "per-queue = a thread and a ring per queue", NULL, opt_workers },
	{ "offload", 0, "auto|on|off", "on: a virtio-net header on every frame (IFF_VNET_HDR), so TCP\n"
	  "and UDP superpackets (TSO, USO) and checksums pass whole; off:\n"
	  "the kernel cuts and checksums every frame first; auto (default):\n"
	  "on for a device tapreflect creates, a persistent device's own\n"
	  "vnet_hdr flag decides", NULL, opt_offload },
	{ "steering", 0, "auto|hash|kernel", "with 2+ queues, how the kernel picks a frame's queue: hash = an\n"
	  "eBPF program hashes addresses and ports, and tun no longer hashes\n"
	  "every frame tapreflect writes; kernel = tun's own flow table;\n"
	  "auto = hash where the kernel loads the program (CAP_BPF), else\n"
	  "kernel (default)", NULL, opt_steering },
	{ "buffers", 0, "N", "frame buffers per queue, a power of two (default 256; 64 with\n"
	  "offloads)", NULL, opt_buffers },
	{ "frame-size", 0, "BYTES", "bytes per buffer (default 16384, enough for 9216 B jumbo\n"
	  "frames; 65600 with offloads); a frame that fills its buffer is\n"
	  "dropped as truncated", NULL, opt_frame_size },
	{ "reflect", 'r', "MODE", "reflect mode (default respond); 'help' lists them", NULL, opt_reflect },
	{ "iperf2-ports", 0, "PORT[-PORT]", "--reflect iperf2: the UDP ports iperf2 clients send to\n"
	  "(default 5001, iperf's own)", NULL, opt_iperf2_ports },
	{ "stats", 0, "SECONDS", "interval of the live line and JSON records (default 1, 0 = off);\n"
	  "the live line is shown on a terminal or when this is given", "Reporting and lifetime:",
	  opt_stats },
	{ "json", 0, "FILE|-", "write JSON lines: one per interval, then a summary", NULL, opt_json },
	{ "ready-fd", 0, "N", "once every queue is open and every worker runs, write one JSON\n"
	  "line (\"type\":\"start\": pid, device, engine, queues, CPUs) to\n"
	  "the open descriptor N (3 or more) and close it; a start that\n"
	  "fails writes nothing, so the reader sees end of file", NULL, opt_ready_fd },
	{ "duration", 0, "SECONDS", "stop by itself after this long (default: run until SIGINT/SIGTERM)",
	  NULL, opt_duration },
	{ "user", 'u', "NAME", "started as root: set up the device and the queues, then run\n"
	  "as this user (name or uid) with no capability and no_new_privs,\n"
	  "before the first frame is read", NULL, opt_user },
	{ "help", 'h', NULL, "show this help", NULL, opt_help },
	{ "version", 'V', NULL, "show the version", NULL, opt_version },
	{ NULL, 0, NULL, NULL, NULL, NULL },
};
/* clang-format on */

const struct trf_opt_tool tapreflect_tool = {
	.prog = "tapreflect",
	.usage =
	    "Usage: tapreflect [OPTIONS]\n"
	    "\n"
	    "Reflect every frame sent into a multi-queue TAP or TUN device back to its sender:\n"
	    "ARP requests and ICMP echo requests are answered, UDP/TCP 5-tuples are swapped,\n"
	    "other IPv4 is bounced with its addresses swapped.  One pinned worker per queue.\n",
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

static int error(const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return trf_opt_error(&tapreflect_tool, "%s", msg);
}

/* Queues and CPUs agree, and the whole configuration holds together. */
static int finish(struct opts *o)
{
	struct trf_config *cfg = &o->cfg;
	struct trf_err err;

	if (o->ncpus == 0) {
		int allowed[TRF_MAX_QUEUES];
		unsigned int n;

		if (trf_config_default_cpus(cfg, &err) < 0)
			return error("%s", err.msg);
		n = cfg->queues;
		memcpy(allowed, cfg->cpus, sizeof(allowed));
		if (o->queues) {
			/* More queues than CPUs: wrap around. */
			for (unsigned int q = 0; q < o->queues; q++)
				cfg->cpus[q] = allowed[q % n];
			cfg->queues = (unsigned int)o->queues;
		}
	} else if (o->queues && o->queues != (unsigned long)o->ncpus) {
		return error("--queues %lu does not match the %d CPU(s) in --cpus: queue i "
			     "runs on the i-th CPU of the list",
			     o->queues, o->ncpus);
	} else {
		cfg->queues = (unsigned int)o->ncpus;
	}
	cfg->reflect.link = cfg->link;
	if (trf_config_validate(cfg, &err) < 0)
		return error("%s", err.msg);
	if (cfg->read != TRF_READ_AUTO && cfg->io == TRF_IO_SYNC)
		return error("--read applies to --io uring only");
	if (o->workers_given && cfg->workers == TRF_WORKERS_PER_CPU && cfg->io == TRF_IO_SYNC)
		return error("--workers per-cpu applies to --io uring only: --io sync blocks in "
			     "read() and runs a thread per queue");
	if (o->iperf2_ports_given && strcmp(cfg->reflect_mode->name, "iperf2") != 0)
		return error("--iperf2-ports applies to --reflect iperf2 only");
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
		return error("unexpected argument '%s'", argv[first]);
	return finish(o);
}
