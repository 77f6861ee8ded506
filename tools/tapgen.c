// SPDX-License-Identifier: MIT
/*
 * tapgen: a UDP load generator for reflectors.  Sends sequence-numbered,
 * timestamped datagrams over many flows (one destination port per flow) at a
 * fixed rate or as fast as it can, receives the reflections on the same
 * socket, and reports offered and reflected rate, loss, duplicates,
 * reordering and round-trip times.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tapreflect/csum.h"

#define MAX_BATCH 256
#define MAX_PAYLOAD 65000
#define MIN_PAYLOAD 16 /* sequence number and send timestamp */
#define RTT_BUCKETS 200000 /* 1 us each: 0..200 ms, beyond goes to the last */

struct gen_opts {
	struct sockaddr_storage dst;
	socklen_t dst_len;
	unsigned int port;
	unsigned int flows;
	unsigned int payload;
	double rate;
	double duration;
	double drain;
	unsigned int batch;
	int cpu;
	const char *json_path;
	bool progress;
	bool search; /* NDR/PDR binary search instead of one trial */
	unsigned int steps; /* binary search steps */
	unsigned int repeats; /* trials per rate in a search; the majority decides */
	double pdr_loss; /* loss ratio allowed for the PDR */
	double max_rate; /* search ceiling; 0 = what an unlimited trial offered */
	bool icmp; /* ICMP/ICMPv6 echo instead of UDP; flow i uses echo id icmp_id + i */
	uint16_t icmp_id; /* echo id of flow 0 */
};

#define ICMP_HLEN 8

struct gen_stats {
	uint64_t base_seq; /* the first sequence number of this trial */
	uint64_t sent, send_errors, received, unique, duplicates, reordered, foreign, late;
	uint64_t max_seq_seen;
	uint8_t *seen; /* bitmap by sequence number */
	size_t seen_bytes;
	uint32_t *rtt_hist;
	uint64_t rtt_min_ns, rtt_max_ns;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const char usage_text[] =
    "Usage: tapgen --dst ADDR [OPTIONS]\n"
    "\n"
    "Send numbered UDP datagrams to a reflector and measure what comes back.\n"
    "\n"
    "  -d, --dst ADDR       IPv4 or IPv6 address behind the reflector (required)\n"
    "  -p, --port PORT      first destination port (default 9000); flow i uses PORT+i\n"
    "  -f, --flows N        flows, i.e. destination ports (default 16), so the kernel\n"
    "                       spreads them over the device's queues\n"
    "  -s, --size BYTES     UDP payload bytes, %d..%d (default 18: a 64 B Ethernet frame)\n"
    "  -r, --rate PPS       offered datagrams per second (default 0 = as fast as possible)\n"
    "  -t, --duration SECS  sending time (default 5)\n"
    "      --drain SECS     time to wait for late replies after sending (default 0.5)\n"
    "  -b, --batch N        datagrams per sendmmsg (default 32, max %d)\n"
    "  -c, --cpu N          pin to this CPU\n"
    "      --json FILE|-    write the result as one JSON object\n"
    "  -h, --help           show this help\n"
    "\n"
    "Example: tapgen --dst 198.18.0.2 --flows 16 --rate 100000 --duration 10\n";

static int parse_args(int argc, char **argv, struct gen_opts *o)
{
	static const struct option longopts[] = {
		{ "dst", required_argument, NULL, 'd' },
		{ "port", required_argument, NULL, 'p' },
		{ "flows", required_argument, NULL, 'f' },
		{ "size", required_argument, NULL, 's' },
		{ "rate", required_argument, NULL, 'r' },
		{ "duration", required_argument, NULL, 't' },
		{ "drain", required_argument, NULL, 'D' },
		{ "batch", required_argument, NULL, 'b' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "json", required_argument, NULL, 'j' },
		{ "search", no_argument, NULL, 'S' },
		{ "icmp", no_argument, NULL, 'I' },
		{ "steps", required_argument, NULL, 'N' },
		{ "repeats", required_argument, NULL, 'R' },
		{ "pdr-loss", required_argument, NULL, 'L' },
		{ "max-rate", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *dst = NULL;
	int opt;

	*o = (struct gen_opts){ .port = 9000,
				.flows = 16,
				.payload = 18,
				.duration = 5,
				.drain = 0.5,
				.batch = 32,
				.cpu = -1,
				.steps = 8,
				.repeats = 3,
				.pdr_loss = 0.005 };
	while ((opt = getopt_long(argc, argv, "d:p:f:s:r:t:b:c:h", longopts, NULL)) != -1) {
		char *end = NULL;
		double v = 0;

		if (optarg) {
			errno = 0;
			v = strtod(optarg, &end);
			if (opt != 'd' && opt != 'j' && opt != 'S' && opt != 'I' &&
			    (errno || end == optarg || *end || v < 0)) {
				fprintf(stderr, "tapgen: bad value '%s' for -%c\n", optarg, opt);
				return -1;
			}
		}
		switch (opt) {
		case 'd':
			dst = optarg;
			break;
		case 'p':
			o->port = (unsigned int)v;
			break;
		case 'f':
			o->flows = (unsigned int)v;
			break;
		case 's':
			o->payload = (unsigned int)v;
			break;
		case 'r':
			o->rate = v;
			break;
		case 't':
			o->duration = v;
			break;
		case 'D':
			o->drain = v;
			break;
		case 'b':
			o->batch = (unsigned int)v;
			break;
		case 'c':
			o->cpu = (int)v;
			break;
		case 'j':
			o->json_path = optarg;
			break;
		case 'S':
			o->search = true;
			break;
		case 'I':
			o->icmp = true;
			break;
		case 'N':
			o->steps = (unsigned int)v;
			break;
		case 'R':
			o->repeats = (unsigned int)v;
			break;
		case 'L':
			o->pdr_loss = v;
			break;
		case 'M':
			o->max_rate = v;
			break;
		case 'h':
			printf(usage_text, MIN_PAYLOAD, MAX_PAYLOAD, MAX_BATCH);
			exit(0);
		default:
			fprintf(stderr, "Try 'tapgen --help'.\n");
			return -1;
		}
	}
	if (!dst) {
		fprintf(stderr, "tapgen: --dst is required\nTry 'tapgen --help'.\n");
		return -1;
	}
	if (o->flows < 1 || o->port < 1 || o->port + o->flows - 1 > 65535 ||
	    o->payload < MIN_PAYLOAD || o->payload > MAX_PAYLOAD || o->batch < 1 ||
	    o->batch > MAX_BATCH || o->duration <= 0 || o->steps < 1 || o->steps > 30 ||
	    o->repeats < 1 || o->repeats > 9 || o->pdr_loss >= 1) {
		fprintf(stderr, "tapgen: a value is out of range (see --help)\n");
		return -1;
	}
	memset(&o->dst, 0, sizeof(o->dst));
	{
		struct sockaddr_in *s4 = (struct sockaddr_in *)&o->dst;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&o->dst;

		if (inet_pton(AF_INET, dst, &s4->sin_addr) == 1) {
			s4->sin_family = AF_INET;
			o->dst_len = sizeof(*s4);
		} else if (inet_pton(AF_INET6, dst, &s6->sin6_addr) == 1) {
			s6->sin6_family = AF_INET6;
			o->dst_len = sizeof(*s6);
		} else {
			fprintf(stderr, "tapgen: bad --dst '%s': an IPv4 or IPv6 address\n", dst);
			return -1;
		}
	}
	o->progress = isatty(STDERR_FILENO);
	return 0;
}

static void set_port(struct sockaddr_storage *ss, unsigned int port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

static void mark_seen(struct gen_stats *s, uint64_t seq)
{
	uint64_t idx;
	size_t byte;

	if (seq < s->base_seq) {
		s->late++; /* a straggler from an earlier trial */
		return;
	}
	idx = seq - s->base_seq;
	byte = idx / 8;
	if (idx >= s->sent) {
		s->foreign++; /* not a sequence number this trial sent */
		return;
	}
	if (byte >= s->seen_bytes) {
		size_t n = s->seen_bytes ? s->seen_bytes : 1 << 16;
		uint8_t *p;

		while (n <= byte)
			n *= 2;
		p = realloc(s->seen, n);
		if (!p) {
			s->foreign++;
			return;
		}
		memset(p + s->seen_bytes, 0, n - s->seen_bytes);
		s->seen = p;
		s->seen_bytes = n;
	}
	if (s->seen[byte] & (1u << (idx % 8))) {
		s->duplicates++;
		return;
	}
	s->seen[byte] |= (uint8_t)(1u << (idx % 8));
	s->unique++;
	if (idx < s->max_seq_seen)
		s->reordered++;
	else
		s->max_seq_seen = idx;
}

/* Where our sequence number and timestamp start in a received datagram, or -1 if it is not ours. */
static int reply_offset(const struct gen_opts *o, const uint8_t *p, size_t len)
{
	size_t off = 0;
	uint16_t id;

	if (!o->icmp)
		return len == o->payload ? 0 : -1;
	if (o->dst.ss_family == AF_INET) {
		/* IPv4 raw sockets hand over the IP header too. */
		if (len < 20 || (p[0] >> 4) != 4)
			return -1;
		off = (size_t)(p[0] & 15) * 4;
	}
	if (len < off + ICMP_HLEN || len - off - ICMP_HLEN != o->payload)
		return -1;
	if (p[off] != (o->dst.ss_family == AF_INET ? 0 : 129)) /* echo reply */
		return -1;
	id = (uint16_t)(p[off + 4] << 8 | p[off + 5]);
	if ((uint16_t)(id - o->icmp_id) >= o->flows)
		return -1;
	return (int)(off + ICMP_HLEN);
}

static void receive_some(int fd, struct gen_stats *s, const struct gen_opts *o)
{
	static uint8_t bufs[MAX_BATCH][2048];
	struct mmsghdr msgs[MAX_BATCH];
	struct iovec iov[MAX_BATCH];
	int n;

	for (;;) {
		for (int i = 0; i < MAX_BATCH; i++) {
			iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
			msgs[i] =
			    (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
		}
		n = recvmmsg(fd, msgs, MAX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		uint64_t t = now_ns();
		for (int i = 0; i < n; i++) {
			int off = reply_offset(o, bufs[i], msgs[i].msg_len);
			uint64_t seq, ts, rtt;

			if (off < 0) {
				/* A raw ICMP socket also sees others' ICMP: not ours, not counted. */
				if (!o->icmp)
					s->foreign++;
				continue;
			}
			s->received++;
			memcpy(&seq, bufs[i] + off, 8);
			memcpy(&ts, bufs[i] + off + 8, 8);
			mark_seen(s, seq);
			rtt = t > ts ? t - ts : 0;
			if (rtt < s->rtt_min_ns || s->rtt_min_ns == 0)
				s->rtt_min_ns = rtt;
			if (rtt > s->rtt_max_ns)
				s->rtt_max_ns = rtt;
			s->rtt_hist[rtt / 1000 < RTT_BUCKETS ? rtt / 1000 : RTT_BUCKETS - 1]++;
		}
	}
}

static double rtt_percentile_us(const struct gen_stats *s, double p)
{
	uint64_t total = 0, want, acc = 0;

	for (int i = 0; i < RTT_BUCKETS; i++)
		total += s->rtt_hist[i];
	if (!total)
		return 0;
	want = (uint64_t)ceil(p / 100.0 * (double)total);
	if (want == 0)
		want = 1;
	for (int i = 0; i < RTT_BUCKETS; i++) {
		acc += s->rtt_hist[i];
		if (acc >= want)
			return i + 0.5;
	}
	return RTT_BUCKETS;
}

struct trial {
	double rate; /* target; 0 = unlimited */
	double elapsed; /* sending time */
	struct gen_stats st;
};

static double loss_ratio(const struct trial *t)
{
	return t->st.sent ? (double)(t->st.sent - t->st.unique) / (double)t->st.sent : 1.0;
}

/*
 * One trial at `rate` for `duration` seconds, then up to --drain seconds for
 * late replies.  *seq carries the sequence numbers across trials, so that a
 * late reply from an earlier trial is never counted in this one.
 */
static int run_trial(int fd, const struct gen_opts *o, double rate, double duration, uint64_t *seq,
		     struct trial *t)
{
	static uint8_t payloads[MAX_BATCH][MAX_PAYLOAD];
	static struct sockaddr_storage names[MAX_BATCH];
	static struct mmsghdr msgs[MAX_BATCH];
	static struct iovec iov[MAX_BATCH];
	uint64_t start, end, next, interval_ns = 0, last_progress, last_sent = 0, last_recv = 0;
	unsigned int batch = o->batch, flow = 0;
	uint32_t *hist = t->st.rtt_hist;
	uint8_t *seen = t->st.seen;
	size_t seen_bytes = t->st.seen_bytes;

	memset(hist, 0, RTT_BUCKETS * sizeof(*hist));
	if (seen)
		memset(seen, 0, seen_bytes);
	t->st = (struct gen_stats){
		.base_seq = *seq, .rtt_hist = hist, .seen = seen, .seen_bytes = seen_bytes
	};
	t->rate = rate;
	if (rate > 0) {
		/* Keep bursts at most about 50 us apart at this rate. */
		unsigned int max_batch = (unsigned int)(rate / 20000) + 1;

		if (batch > max_batch)
			batch = max_batch;
		interval_ns = (uint64_t)(1e9 * batch / rate);
	}
	size_t hlen = o->icmp ? ICMP_HLEN : 0; /* our data follows the ICMP header */

	for (unsigned int i = 0; i < batch; i++) {
		iov[i] = (struct iovec){ payloads[i], hlen + o->payload };
		msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &names[i],
							 .msg_namelen = o->dst_len,
							 .msg_iov = &iov[i],
							 .msg_iovlen = 1 } };
		names[i] = o->dst;
		for (unsigned int b = 16; b < o->payload; b++)
			payloads[i][hlen + b] = (uint8_t)(b * 7 + 1);
	}

	start = now_ns();
	end = start + (uint64_t)(duration * 1e9);
	next = start;
	last_progress = start;
	while (!interrupted) {
		uint64_t now = now_ns();
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
			uint64_t s = *seq + i;

			memcpy(payloads[i] + hlen, &s, 8);
			memcpy(payloads[i] + hlen + 8, &now, 8);
			if (o->icmp) {
				uint8_t *h = payloads[i];
				uint16_t id = (uint16_t)(o->icmp_id + flow), check;

				h[0] = o->dst.ss_family == AF_INET ? 8 : 128; /* echo request */
				h[1] = 0;
				h[2] = h[3] = 0;
				h[4] = (uint8_t)(id >> 8);
				h[5] = (uint8_t)id;
				h[6] = (uint8_t)(s >> 8);
				h[7] = (uint8_t)s;
				/* IPv4 only: the kernel fills in ICMPv6 checksums. */
				if (o->dst.ss_family == AF_INET) {
					check = trf_csum_fold(
					    trf_csum_partial(h, hlen + o->payload, 0));
					memcpy(h + 2, &check, 2);
				}
			} else {
				set_port(&names[i], o->port + flow);
			}
			flow = flow + 1 == o->flows ? 0 : flow + 1;
		}
		n = sendmmsg(fd, msgs, batch, 0);
		if (n < 0) {
			t->st.send_errors++;
			n = 0;
		}
		t->st.sent += (unsigned int)n;
		*seq += (unsigned int)n;
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
	t->elapsed = (double)(now_ns() - start) / 1e9;
	{
		uint64_t drain_end = now_ns() + (uint64_t)(o->drain * 1e9);

		while (now_ns() < drain_end && t->st.unique < t->st.sent) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };

			poll(&pfd, 1, 10);
			receive_some(fd, &t->st, o);
		}
	}
	if (o->progress && !o->search)
		fputs("\n", stderr);
	return interrupted ? -EINTR : 0;
}

static void print_trial(FILE *f, const struct gen_opts *o, const struct trial *t)
{
	const struct gen_stats *s = &t->st;

	fprintf(f,
		"tapgen: %u %s flow(s), %u B payload, %.2f s: sent %" PRIu64
		" (%.0f pps), reflected %" PRIu64 " (%.0f pps), lost %" PRIu64
		" (%.4f%%), duplicates %" PRIu64 ", reordered %" PRIu64 "\n",
		o->flows, o->icmp ? "ICMP echo" : "UDP", o->payload, t->elapsed, s->sent,
		(double)s->sent / t->elapsed, s->unique, (double)s->unique / t->elapsed,
		s->sent - s->unique, loss_ratio(t) * 100, s->duplicates, s->reordered);
	fprintf(f, "tapgen: rtt us: min %.1f p50 %.1f p90 %.1f p99 %.1f p99.9 %.1f max %.1f\n",
		(double)s->rtt_min_ns / 1e3, rtt_percentile_us(s, 50), rtt_percentile_us(s, 90),
		rtt_percentile_us(s, 99), rtt_percentile_us(s, 99.9), (double)s->rtt_max_ns / 1e3);
}

static void json_trial(FILE *f, const struct gen_opts *o, const struct trial *t)
{
	const struct gen_stats *s = &t->st;

	fprintf(
	    f,
	    "\"proto\":\"%s\",\"flows\":%u,\"payload\":%u,\"rate_target\":%.0f,\"duration_s\":%.3f,"
	    "\"sent\":%" PRIu64 ",\"send_errors\":%" PRIu64 ",\"received\":%" PRIu64
	    ",\"reflected\":%" PRIu64 ",\"lost\":%" PRIu64
	    ",\"loss_ratio\":%.6f,\"duplicates\":%" PRIu64 ",\"reordered\":%" PRIu64
	    ",\"foreign\":%" PRIu64 ",\"late\":%" PRIu64
	    ",\"offered_pps\":%.0f,\"reflected_pps\":%.0f,"
	    "\"rtt_us\":{\"min\":%.1f,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,"
	    "\"max\":%.1f}",
	    o->icmp ? "icmp" : "udp", o->flows, o->payload, t->rate, t->elapsed, s->sent,
	    s->send_errors, s->received, s->unique, s->sent - s->unique, loss_ratio(t),
	    s->duplicates, s->reordered, s->foreign, s->late, (double)s->sent / t->elapsed,
	    (double)s->unique / t->elapsed, (double)s->rtt_min_ns / 1e3, rtt_percentile_us(s, 50),
	    rtt_percentile_us(s, 90), rtt_percentile_us(s, 99), rtt_percentile_us(s, 99.9),
	    (double)s->rtt_max_ns / 1e3);
}

/*
 * Does `rate` pass with loss <= allowed?  Up to --repeats trials, stopping as
 * soon as a majority agrees: one sporadic loss on a noisy VM does not fail a
 * rate, and one lucky trial does not pass it.
 */
static int rate_passes(int fd, const struct gen_opts *o, double rate, double allowed, uint64_t *seq,
		       struct trial *t, FILE *trace, const char *what, unsigned int step)
{
	unsigned int pass = 0, fail = 0, need = o->repeats / 2 + 1;

	while (pass < need && fail < need) {
		if (run_trial(fd, o, rate, o->duration, seq, t) < 0)
			return -EINTR;
		if (loss_ratio(t) <= allowed)
			pass++;
		else
			fail++;
		fprintf(trace,
			"tapgen: %s step %u: %9.0f pps offered %9.0f, loss %.4f%% -> %s (%u/%u)\n",
			what, step, rate, (double)t->st.sent / t->elapsed, loss_ratio(t) * 100,
			loss_ratio(t) <= allowed ? "pass" : "fail", pass, pass + fail);
		fflush(trace);
	}
	return pass >= need;
}

/* Binary search between lo (known good, may be 0) and hi for the highest passing rate. */
static int search_rate(int fd, const struct gen_opts *o, double lo, double hi, double allowed,
		       uint64_t *seq, struct trial *t, FILE *trace, const char *what, double *found)
{
	for (unsigned int step = 1; step <= o->steps; step++) {
		double mid = (lo + hi) / 2;
		int ok = rate_passes(fd, o, mid, allowed, seq, t, trace, what, step);

		if (ok < 0)
			return ok;
		if (ok)
			lo = mid;
		else
			hi = mid;
	}
	*found = lo;
	return 0;
}

int main(int argc, char **argv)
{
	struct gen_opts o;
	struct trial t = { 0 };
	uint64_t seq = 0;
	int fd, rcvbuf = 8 << 20, ret = 0;
	FILE *json = NULL;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	if (o.cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(o.cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0) {
			fprintf(stderr, "tapgen: cannot pin to CPU %d: %s\n", o.cpu,
				strerror(errno));
			return 1;
		}
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	t.st.rtt_hist = calloc(RTT_BUCKETS, sizeof(*t.st.rtt_hist));
	if (o.icmp) {
		fd = socket(o.dst.ss_family, SOCK_RAW | SOCK_CLOEXEC,
			    o.dst.ss_family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6);
		o.icmp_id = (uint16_t)(getpid() << 4);
	} else {
		fd = socket(o.dst.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	}
	if (fd < 0 || !t.st.rtt_hist) {
		fprintf(stderr, "tapgen: cannot open a %s socket: %s%s\n",
			o.icmp ? "raw ICMP" : "UDP", strerror(errno),
			o.icmp && errno == EPERM ? " — --icmp needs root (CAP_NET_RAW)" : "");
		return 1;
	}
	/* Replies arrive in bursts while we are busy sending: give them room. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (o.json_path) {
		json = strcmp(o.json_path, "-") == 0 ? stdout : fopen(o.json_path, "w");
		if (!json) {
			fprintf(stderr, "tapgen: cannot write %s: %s\n", o.json_path,
				strerror(errno));
			return 1;
		}
	}

	if (!o.search) {
		if (run_trial(fd, &o, o.rate, o.duration, &seq, &t) == 0 || t.st.sent) {
			print_trial(json == stdout ? stderr : stdout, &o, &t);
			if (json) {
				fputs("{\"type\":\"tapgen\",", json);
				json_trial(json, &o, &t);
				fputs("}\n", json);
			}
		}
	} else {
		FILE *trace = json == stdout ? stderr : stdout;
		double ceiling = o.max_rate, ndr = 0, pdr = 0;

		if (ceiling <= 0) {
			if (run_trial(fd, &o, 0, o.duration, &seq, &t) < 0)
				goto out;
			ceiling = (double)t.st.sent / t.elapsed;
			fprintf(trace,
				"tapgen: ceiling: unlimited trial offered %.0f pps, reflected %.0f "
				"pps\n",
				ceiling, (double)t.st.unique / t.elapsed);
		}
		ret = search_rate(fd, &o, 0, ceiling, 0, &seq, &t, trace, "NDR", &ndr);
		if (ret == 0)
			ret = search_rate(fd, &o, ndr, ceiling, o.pdr_loss, &seq, &t, trace, "PDR",
					  &pdr);
		if (ret < 0)
			goto out;
		fprintf(trace,
			"tapgen: NDR %.0f pps (no loss), PDR %.0f pps (loss <= %.2f%%), ceiling "
			"%.0f pps, "
			"%u steps, majority of %u trials of %.1f s per rate\n",
			ndr, pdr, o.pdr_loss * 100, ceiling, o.steps, o.repeats, o.duration);
		if (json)
			fprintf(
			    json,
			    "{\"type\":\"search\",\"flows\":%u,\"payload\":%u,\"ndr_pps\":%.0f,"
			    "\"pdr_pps\":%.0f,\"pdr_loss\":%.4f,\"ceiling_pps\":%.0f,\"steps\":%u,"
			    "\"repeats\":%u,\"trial_s\":%.2f}\n",
			    o.flows, o.payload, ndr, pdr, o.pdr_loss, ceiling, o.steps, o.repeats,
			    o.duration);
	}
out:
	if (json && json != stdout)
		fclose(json);
	close(fd);
	free(t.st.seen);
	free(t.st.rtt_hist);
	if (interrupted)
		return 130;
	return ret < 0 ? 1 : 0;
}
