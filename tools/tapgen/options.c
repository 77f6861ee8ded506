// SPDX-License-Identifier: MIT
/*
 * tapgen's options, declared once: the table below makes getopt_long's
 * arguments, --help, the man page's options and the bash completion
 * (tools/common/opttab.c, tools/mangen.c).  docs/cli.md is checked against
 * it by unit.options, --help, the man page and the completion by
 * tools.cli_outputs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opttab.h"
#include "ready.h"
#include "tapgen.h"
#include "tapreflect/names.h"

#define STR_(x) #x
#define STR(x) STR_(x)

struct parse_ctx {
	struct gen_opts *o;
	const char *dst;
	bool linger; /* --metrics-linger given */
	bool size; /* --size given */
};

/* --imix's mix: one a process, as the command line is (o->imix points here). */
static struct tapgen_imix imix;

/* A number in [min, max] (max < 0: no upper bound). */
static int number(const char *name, const char *v, double min, double max, const char *what,
		  double *out)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (errno || end == v || *end || !isfinite(d) || d < min || (max >= 0 && d > max))
		return trf_usage_error("bad --%s '%s': %s", name, v, what);
	*out = d;
	return 0;
}

/* A whole number in [min, max]. */
static int whole(const char *name, const char *v, double min, double max, const char *what,
		 unsigned int *out)
{
	double d = 0;
	int ret = number(name, v, min, max, what, &d);

	if (ret)
		return ret;
	if (d != floor(d))
		return trf_usage_error("bad --%s '%s': %s", name, v, what);
	*out = (unsigned int)d;
	return 0;
}

#define O(ctx) (((struct parse_ctx *)(ctx))->o)

static int opt_dst(void *ctx, const char *v)
{
	((struct parse_ctx *)ctx)->dst = v;
	return 0;
}

static int opt_port(void *ctx, const char *v)
{
	return whole("port", v, 1, 65535, "a UDP port, 1..65535", &O(ctx)->port);
}

static int opt_flows(void *ctx, const char *v)
{
	return whole("flows", v, 1, 65535, "a number of flows, 1..65535", &O(ctx)->flows);
}

static int opt_size(void *ctx, const char *v)
{
	((struct parse_ctx *)ctx)->size = true;
	return whole("size", v, MIN_PAYLOAD, MAX_PAYLOAD,
		     "payload bytes, " STR(MIN_PAYLOAD) ".." STR(MAX_PAYLOAD), &O(ctx)->payload);
}

static int opt_imix(void *ctx, const char *v)
{
	char why[200];

	/* The syntax now; each size's payload once the address family is known. */
	if (tapgen_imix_parse(&imix, v, why, sizeof(why)) < 0)
		return trf_usage_error("bad --imix '%s': %s", v, why);
	O(ctx)->imix = &imix;
	return 0;
}

static int opt_rate(void *ctx, const char *v)
{
	return number("rate", v, 0, -1, "datagrams per second, 0 = as fast as possible",
		      &O(ctx)->rate);
}

static int opt_duration(void *ctx, const char *v)
{
	int ret = number("duration", v, 0, 1e7, "seconds greater than 0", &O(ctx)->duration);

	if (ret == 0 && O(ctx)->duration == 0)
		return trf_usage_error("bad --duration '%s': seconds greater than 0", v);
	return ret;
}

static int opt_drain(void *ctx, const char *v)
{
	return number("drain", v, 0, 1e7, "seconds, 0 or more", &O(ctx)->drain);
}

static int opt_batch(void *ctx, const char *v)
{
	return whole("batch", v, 1, MAX_BATCH, "datagrams per sendmmsg, 1.." STR(MAX_BATCH),
		     &O(ctx)->batch);
}

static int opt_cpu(void *ctx, const char *v)
{
	unsigned int cpu = 0;
	int ret = whole("cpu", v, 0, CPU_SETSIZE - 1, "a CPU number", &cpu);

	if (ret == 0)
		O(ctx)->cpu = (int)cpu;
	return ret;
}

static int opt_json(void *ctx, const char *v)
{
	O(ctx)->json_path = v;
	return 0;
}

static int opt_ready_fd(void *ctx, const char *v)
{
	char why[200];

	if (trf_ready_fd_parse(v, &O(ctx)->ready_fd, why, sizeof(why)) < 0)
		return trf_usage_error("bad --ready-fd '%s': %s", v, why);
	return 0;
}

static int opt_metrics(void *ctx, const char *v)
{
	char why[200];

	if (trf_metrics_parse_listen(v, &O(ctx)->metrics_listen, why, sizeof(why)) < 0)
		return trf_usage_error("bad --metrics %s", why);
	O(ctx)->metrics = true;
	return 0;
}

static int opt_metrics_linger(void *ctx, const char *v)
{
	((struct parse_ctx *)ctx)->linger = true;
	return number("metrics-linger", v, 0, 1e7, "seconds, 0 or more", &O(ctx)->metrics_linger);
}

/* --search's methods, the default (a bare --search) first. */
static const struct trf_name search_names[] = {
	{ "mlr", TAPGEN_SEARCH_MLR,
	  "MLRsearch (RFC 9971; the default): every goal in\n"
	  "one search, short trials first; a load is decided\n"
	  "by --duration-sum s of full-length trials, of which\n"
	  "up to --exceed-ratio may lose too much" },
	{ "binary", TAPGEN_SEARCH_BINARY,
	  "bisection, NDR then PDR: --steps steps each, a\n"
	  "rate judged by the majority of --repeats trials" },
	{ NULL, 0, NULL },
};

static int set_search(void *ctx, int v)
{
	O(ctx)->search = true;
	O(ctx)->search_method = (enum tapgen_search_method)v;
	return 0;
}

static int opt_goal(void *ctx, const char *v)
{
	struct gen_opts *o = O(ctx);
	double d = 0;
	int ret = number("goal", v, 0, 1, "a loss ratio, 0 <= ratio < 1", &d);

	if (ret)
		return ret;
	if (d >= 1)
		return trf_usage_error("bad --goal '%s': a loss ratio, 0 <= ratio < 1", v);
	if (o->goals == sizeof(o->goal_loss) / sizeof(o->goal_loss[0]))
		return trf_usage_error("--goal: at most %zu besides the NDR and the PDR",
				       sizeof(o->goal_loss) / sizeof(o->goal_loss[0]));
	o->goal_loss[o->goals++] = d;
	o->mlr_given = true;
	return 0;
}

static int opt_exceed_ratio(void *ctx, const char *v)
{
	int ret = number("exceed-ratio", v, 0, 1, "a ratio, 0 <= ratio < 1", &O(ctx)->exceed_ratio);

	if (ret == 0 && O(ctx)->exceed_ratio >= 1)
		return trf_usage_error("bad --exceed-ratio '%s': a ratio, 0 <= ratio < 1", v);
	O(ctx)->mlr_given = true;
	return ret;
}

static int opt_duration_sum(void *ctx, const char *v)
{
	O(ctx)->mlr_given = true;
	return number("duration-sum", v, 1e-3, 1e7, "seconds, at least --duration",
		      &O(ctx)->duration_sum);
}

static int opt_width(void *ctx, const char *v)
{
	int ret =
	    number("width", v, 1e-6, 0.5, "a relative width, 0.000001 .. 0.5", &O(ctx)->width);

	O(ctx)->mlr_given = true;
	return ret;
}

static int opt_initial_duration(void *ctx, const char *v)
{
	O(ctx)->mlr_given = true;
	return number("initial-duration", v, 1e-3, 1e7, "seconds, up to --duration",
		      &O(ctx)->initial_duration);
}

static int opt_icmp(void *ctx, const char *v)
{
	(void)v;
	O(ctx)->traffic = &tapgen_icmp;
	return 0;
}

static int opt_tcp(void *ctx, const char *v)
{
	(void)v;
	O(ctx)->tcp = true;
	return 0;
}

static int opt_gso(void *ctx, const char *v)
{
	return whole("gso", v, 1, 64, "datagrams per send, 1..64", &O(ctx)->gso);
}

static int opt_bytes(void *ctx, const char *v)
{
	double d = 0;
	int ret = number("bytes", v, 1, 1e15, "a number of bytes, e.g. 268435456", &d);

	if (ret == 0)
		O(ctx)->tcp_bytes = (uint64_t)d;
	return ret;
}

static int opt_steps(void *ctx, const char *v)
{
	O(ctx)->binary_given = true;
	return whole("steps", v, 1, 30, "binary search steps, 1..30", &O(ctx)->steps);
}

static int opt_repeats(void *ctx, const char *v)
{
	O(ctx)->binary_given = true;
	return whole("repeats", v, 1, 9, "trials per rate, 1..9", &O(ctx)->repeats);
}

static int opt_pdr_loss(void *ctx, const char *v)
{
	int ret = number("pdr-loss", v, 0, 1, "a loss ratio, 0 <= ratio < 1", &O(ctx)->pdr_loss);

	if (ret == 0 && O(ctx)->pdr_loss >= 1)
		return trf_usage_error("bad --pdr-loss '%s': a loss ratio, 0 <= ratio < 1", v);
	return ret;
}

static int opt_max_rate(void *ctx, const char *v)
{
	return number("max-rate", v, 0, -1,
		      "datagrams per second, 0 = what an unlimited trial offered",
		      &O(ctx)->max_rate);
}

static int opt_help(void *ctx, const char *v)
{
	(void)ctx;
	(void)v;
	trf_opt_help(&tapgen_tool, stdout);
	return TRF_OPT_DONE;
}

static int opt_version(void *ctx, const char *v)
{
	(void)ctx;
	(void)v;
	printf("tapgen %s\n", TRF_VERSION);
	return TRF_OPT_DONE;
}

/* clang-format off */
static const struct trf_opt options[] = {
	{ .name = "dst", .short_name = 'd', .arg = "ADDR", .group = "Traffic:", .parse = opt_dst,
	  .help = "IPv4 or IPv6 address behind the reflector (required)" },
	{ .name = "port", .short_name = 'p', .arg = "PORT", .parse = opt_port,
	  .help = "first destination port (default 9000); flow i uses PORT+i" },
	{ .name = "flows", .short_name = 'f', .arg = "N", .parse = opt_flows,
	  .help = "flows, i.e. destination ports (default 16), so the kernel\n"
		  "spreads them over the device's queues" },
	{ .name = "size", .short_name = 's', .arg = "BYTES", .parse = opt_size,
	  .help = "UDP payload bytes, " STR(MIN_PAYLOAD) ".." STR(MAX_PAYLOAD)
		  " (default 18: a 64 B Ethernet frame)" },
	{ .name = "imix", .arg = "csit|SIZE[:WEIGHT],...", .parse = opt_imix,
	  .help = "UDP, ICMP: a mix of Ethernet frame sizes (FCS included,\n"
		  "64..9018 B) instead of --size, sent interleaved in proportion\n"
		  "to the weights (default 1; at most 16 sizes); csit =\n"
		  "64:7,570:4,1518:1; each size reported apart, with L1/L2 rates" },
	{ .name = "icmp", .parse = opt_icmp,
	  .help = "ICMP/ICMPv6 echo requests on a raw socket instead of UDP\n"
		  "(needs CAP_NET_RAW); flow i uses echo id ID+i" },
	{ .name = "tcp", .parse = opt_tcp,
	  .help = "TCP streams instead of datagrams: --flows connections to\n"
		  "ADDR:PORT+i, each one to itself through the reflector; every byte\n"
		  "is checked on return; reports goodput (Gbit/s) and retransmissions" },
	{ .name = "bytes", .arg = "N", .parse = opt_bytes,
	  .help = "--tcp: stop writing after N bytes in all flows together\n"
		  "(--duration still bounds the run)" },
	{ .name = "gso", .arg = "SEGMENTS", .parse = opt_gso,
	  .help = "UDP: send SEGMENTS datagrams of --size bytes at once as one\n"
		  "superpacket (UDP_SEGMENT) that the kernel cuts apart; each is\n"
		  "numbered and checked on return as any datagram (1..64)" },
	{ .name = "rate", .short_name = 'r', .arg = "PPS", .parse = opt_rate,
	  .help = "offered datagrams per second (default 0 = as fast as possible);\n"
		  "with --imix, frames of the mix per second" },
	{ .name = "duration", .short_name = 't', .arg = "SECS", .parse = opt_duration,
	  .help = "sending time of a trial (default 5)" },
	{ .name = "drain", .arg = "SECS", .parse = opt_drain,
	  .help = "time to wait for late replies after sending (default 0.5)" },
	{ .name = "batch", .short_name = 'b', .arg = "N", .parse = opt_batch,
	  .help = "datagrams per sendmmsg (default 32, max " STR(MAX_BATCH) ")" },
	{ .name = "cpu", .short_name = 'c', .arg = "N", .parse = opt_cpu,
	  .help = "pin to this CPU" },
	{ .name = "search", .group = "Rate search:", .names = search_names, .set = set_search,
	  .value_optional = true,
	  .help = "search for the NDR (no loss) and the PDR (loss up to\n"
		  "--pdr-loss) instead of one trial; every trial is traced" },
	{ .name = "pdr-loss", .arg = "RATIO", .parse = opt_pdr_loss,
	  .help = "loss ratio the PDR allows (default 0.005 = 0.5%)" },
	{ .name = "max-rate", .arg = "PPS", .parse = opt_max_rate,
	  .help = "search ceiling (default 0: what an unlimited trial offered)" },
	{ .name = "goal", .arg = "RATIO", .parse = opt_goal,
	  .help = "mlr: another goal, this loss ratio, found in the same search\n"
		  "(repeat for more, up to 6)" },
	{ .name = "exceed-ratio", .arg = "RATIO", .parse = opt_exceed_ratio,
	  .help = "mlr: the share of a load's full-length trial time that may\n"
		  "lose more than the goal allows (default 0.5)" },
	{ .name = "duration-sum", .arg = "SECS", .parse = opt_duration_sum,
	  .help = "mlr: full-length trial time that decides a load (default\n"
		  "3 x --duration; --duration is the final trials' duration)" },
	{ .name = "width", .arg = "RATIO", .parse = opt_width,
	  .help = "mlr: stop when (upper - lower) / upper is at most this\n"
		  "(default 0.005)" },
	{ .name = "initial-duration", .arg = "SECS", .parse = opt_initial_duration,
	  .help = "mlr: the first phase's trial duration (default --duration\n"
		  "/ 10, at least 0.05 s); each phase after it up to 4x longer" },
	{ .name = "steps", .arg = "N", .parse = opt_steps,
	  .help = "binary: steps for each of NDR and PDR (default 8)" },
	{ .name = "repeats", .arg = "N", .parse = opt_repeats,
	  .help = "binary: trials per rate; the majority decides (default 3,\n"
		  "max 9)" },
	{ .name = "json", .arg = "FILE|-", .group = "Output:", .parse = opt_json,
	  .complete = TRF_COMPLETE_FILE,
	  .help = "write the result as one JSON object (a trial, or the search)" },
	{ .name = "ready-fd", .arg = "N", .parse = opt_ready_fd,
	  .help = "once the sockets are open (--tcp: connected), before the first\n"
		  "datagram, write one JSON line (\"type\":\"start\") to the open\n"
		  "descriptor N (3 or more) and close it; a start that fails\n"
		  "writes nothing, so the reader sees end of file" },
	{ .name = "metrics", .arg = "[ADDR:]PORT", .parse = opt_metrics,
	  .help = "serve the run's totals for Prometheus at http://ADDR:PORT/metrics\n"
		  "(ADDR default " TRF_METRICS_DEFAULT_ADDR ", IPv6 as [ADDR]:PORT; PORT 0: any\n"
		  "free one, said on stderr and in the --ready-fd record)" },
	{ .name = "metrics-linger", .arg = "SECS", .parse = opt_metrics_linger,
	  .help = "--metrics: go on serving the final values this long after the\n"
		  "run (default 0); SIGINT or SIGTERM ends the wait early" },
	{ .name = "help", .short_name = 'h', .parse = opt_help,
	  .help = "show this help" },
	{ .name = "version", .short_name = 'V', .parse = opt_version,
	  .help = "show the version" },
	{ .name = NULL },
};
/* clang-format on */

const struct trf_opt_tool tapgen_tool = {
	.prog = "tapgen",
	.usage = "Usage: tapgen --dst ADDR [OPTIONS]\n"
		 "\n"
		 "Send numbered UDP datagrams to a reflector and measure what comes back: offered\n"
		 "and reflected rate, loss, duplicates, reordering and round-trip times.\n",
	.epilogue = "Exit status: 0 done, 1 runtime error, 2 bad usage, 130 interrupted.\n"
		    "\n"
		    "Examples:\n"
		    "  tapgen --dst 198.18.0.2 --flows 16 --rate 100000 --duration 10\n"
		    "  tapgen --dst 198.18.0.2 --search --duration 2 --json search.json\n"
		    "  tapgen --dst 198.18.0.2 --search binary --steps 10 --repeats 3\n"
		    "  tapgen --dst 198.18.0.2 --imix csit --rate 50000 --duration 5\n",
	.opts = options,
};

static int set_dst(struct gen_opts *o, const char *dst)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&o->dst;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&o->dst;

	memset(&o->dst, 0, sizeof(o->dst));
	if (inet_pton(AF_INET, dst, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		o->dst_len = sizeof(*s4);
	} else if (inet_pton(AF_INET6, dst, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		o->dst_len = sizeof(*s6);
	} else {
		return trf_usage_error("bad --dst '%s': an IPv4 or IPv6 address", dst);
	}
	return 0;
}

int tapgen_parse_args(int argc, char **argv, struct gen_opts *o)
{
	struct parse_ctx ctx = { .o = o };
	int first, ret;

	*o = (struct gen_opts){ .port = 9000,
				.flows = 16,
				.payload = 18,
				.duration = 5,
				.drain = 0.5,
				.batch = 32,
				.cpu = -1,
				.ready_fd = -1,
				.steps = 8,
				.repeats = 3,
				.pdr_loss = 0.005,
				.exceed_ratio = 0.5,
				.width = 0.005,
				.traffic = &tapgen_udp };
	ret = trf_opt_parse(&tapgen_tool, argc, argv, &ctx, &first);
	if (ret)
		return ret > 0 ? 1 : ret;
	if (first < argc)
		return trf_usage_error("unexpected argument '%s'", argv[first]);
	if (!ctx.dst)
		return trf_usage_error("--dst is required");
	if (o->tcp && (o->search || o->traffic != &tapgen_udp || o->rate > 0))
		return trf_usage_error(
		    "--tcp runs streams as fast as TCP goes: not with --search, --icmp or --rate");
	if (o->tcp_bytes && !o->tcp)
		return trf_usage_error("--bytes is for --tcp");
	if (o->imix && (ctx.size || o->tcp || o->gso))
		return trf_usage_error("--imix sends UDP or ICMP datagrams of the mix's sizes, "
				       "one per send: not with --size, --tcp or --gso");
	if (o->gso > 1 && (o->tcp || o->traffic != &tapgen_udp))
		return trf_usage_error("--gso is for UDP datagrams: not with --tcp or --icmp");
	if (o->gso > 1 && (size_t)o->gso * o->payload > MAX_PAYLOAD)
		return trf_usage_error("--gso %u x --size %u is over %d bytes per send", o->gso,
				       o->payload, MAX_PAYLOAD);
	if (o->binary_given && !(o->search && o->search_method == TAPGEN_SEARCH_BINARY))
		return trf_usage_error("--steps and --repeats are for --search binary");
	if (o->mlr_given && !(o->search && o->search_method == TAPGEN_SEARCH_MLR))
		return trf_usage_error("--goal, --exceed-ratio, --duration-sum, --width and "
				       "--initial-duration are for --search mlr");
	if (o->search && o->search_method == TAPGEN_SEARCH_MLR) {
		struct mlr_goal g;
		const char *why;

		if (!o->duration_sum)
			o->duration_sum = 3 * o->duration;
		if (!o->initial_duration)
			o->initial_duration = fmin(o->duration, fmax(0.05, o->duration / 10));
		g = (struct mlr_goal){ .loss_ratio = o->pdr_loss,
				       .exceed_ratio = o->exceed_ratio,
				       .final_duration = o->duration,
				       .duration_sum = o->duration_sum,
				       .width = o->width,
				       .initial_duration = o->initial_duration };
		why = mlr_goal_invalid(&g);
		if (why)
			return trf_usage_error(
			    "--search mlr: %s (--duration %g, --duration-sum %g, "
			    "--initial-duration %g)",
			    why, o->duration, o->duration_sum, o->initial_duration);
	}
	if (ctx.linger && !o->metrics)
		return trf_usage_error("--metrics-linger is for --metrics");
	if (o->port + o->flows - 1 > 65535)
		return trf_usage_error("--port %u with --flows %u goes beyond port 65535", o->port,
				       o->flows);
	ret = set_dst(o, ctx.dst);
	if (ret)
		return ret;
	if (o->imix) {
		char why[300];

		if (tapgen_imix_payloads(&imix, o->dst.ss_family == AF_INET6, MIN_PAYLOAD,
					 o->traffic->label, why, sizeof(why)) < 0)
			return trf_usage_error("bad --imix '%s': %s", imix.spec, why);
		o->payload = 0; /* the mix's sizes instead */
	}
	o->progress = isatty(STDERR_FILENO);
	return 0;
}
