// SPDX-License-Identifier: MIT
/* Configuration defaults, command-line value parsers and validation. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tapreflect/iperf2.h"
#include "tapreflect/tapreflect.h"

int trf_errf(struct trf_err *err, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return ret;
}

void trf_config_init(struct trf_config *cfg)
{
	static const uint8_t mac[6] = TRF_DEFAULT_MAC;

	*cfg = (struct trf_config){ 0 };
	snprintf(cfg->dev, sizeof(cfg->dev), "%s", TRF_DEFAULT_DEV);
	cfg->link = TRF_LINK_TAP;
	cfg->io = TRF_IO_URING;
	cfg->read = TRF_READ_AUTO;
	cfg->fixed_reads = TRF_DEFAULT_FIXED_READS;
	cfg->hybrid = true;
	cfg->buffers = TRF_DEFAULT_BUFFERS;
	cfg->frame_size = TRF_DEFAULT_FRAME_SIZE;
	cfg->reflect_mode = trf_reflect_modes[0];
	cfg->reflect.link = TRF_LINK_TAP;
	memcpy(cfg->reflect.mac, mac, sizeof(mac));
	cfg->reflect.iperf2_port_lo = TRF_IPERF2_DEFAULT_PORT;
	cfg->reflect.iperf2_port_hi = TRF_IPERF2_DEFAULT_PORT;
	cfg->wake_signal = SIGUSR1;
	cfg->capture_queue_bytes = TRF_DEFAULT_CAPTURE_QUEUE_BYTES;
}

int trf_config_default_cpus(struct trf_config *cfg, struct trf_err *err)
{
	cpu_set_t set;
	unsigned int n = 0;

	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return trf_errf(err, -errno, "cannot read the CPU affinity: %s", strerror(errno));
	for (int cpu = 0; cpu < CPU_SETSIZE && n < TRF_MAX_QUEUES; cpu++)
		if (CPU_ISSET(cpu, &set))
			cfg->cpus[n++] = cpu;
	if (n == 0)
		return trf_errf(err, -EINVAL, "no CPU is available to this process");
	cfg->queues = n;
	return 0;
}

int trf_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* "0-3,6,8-9" → 0 1 2 3 6 8 9, in the order given.  Returns the count. */
int trf_parse_cpulist(const char *s, int *cpus, unsigned int max, struct trf_err *err)
{
	unsigned int n = 0;
	const char *p = s;

	if (!s || !*s)
		return trf_errf(err, -EINVAL, "empty CPU list");
	while (*p) {
		char *end;
		long lo, hi;

		if (!isdigit((unsigned char)*p))
			goto bad;
		lo = strtol(p, &end, 10);
		hi = lo;
		p = end;
		if (*p == '-') {
			p++;
			if (!isdigit((unsigned char)*p))
				goto bad;
			hi = strtol(p, &end, 10);
			p = end;
		}
		if (lo > hi || hi >= CPU_SETSIZE)
			goto bad;
		for (long c = lo; c <= hi; c++) {
			if (n == max)
				return trf_errf(err, -EINVAL,
						"CPU list '%s' names more than %u CPUs", s, max);
			cpus[n++] = (int)c;
		}
		if (*p == ',')
			p++;
		else if (*p)
			goto bad;
	}
	return (int)n;
bad:
	return trf_errf(err, -EINVAL,
			"bad CPU list '%s': expected numbers and ranges such as 0-3,6", s);
}

int trf_parse_addr(const char *s, struct trf_addr *addr, struct trf_err *err)
{
	char buf[INET6_ADDRSTRLEN + 8];
	char *slash;
	unsigned long prefix;

	if (strlen(s) >= sizeof(buf))
		goto bad;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	*addr = (struct trf_addr){ 0 };
	if (inet_pton(AF_INET, buf, &addr->u.v4) == 1) {
		addr->family = AF_INET;
		addr->prefix = 32;
	} else if (inet_pton(AF_INET6, buf, &addr->u.v6) == 1) {
		addr->family = AF_INET6;
		addr->prefix = 128;
	} else {
		goto bad;
	}
	/*
	 * No default: a lone /32 or /128 leaves every peer off-link ("Network
	 * is unreachable"), and any other guess could be wrong.
	 */
	if (!slash)
		return trf_errf(err, -EINVAL,
				"address '%s' has no prefix length: say which network it is on, "
				"e.g. %s/%s (or /%u for the address alone)",
				s, s, addr->family == AF_INET ? "24" : "64", addr->prefix);
	if (trf_parse_uint(slash, 0, addr->prefix, &prefix) < 0)
		goto bad;
	addr->prefix = (unsigned int)prefix;
	return 0;
bad:
	return trf_errf(
	    err, -EINVAL,
	    "bad address '%s': expected ADDR/PREFIX, e.g. 198.18.0.1/24 or 2001:db8::1/64", s);
}

int trf_parse_mac(const char *s, uint8_t mac[6], struct trf_err *err)
{
	unsigned int b[6];
	char tail;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6 ||
	    strlen(s) != 17)
		return trf_errf(err, -EINVAL,
				"bad MAC '%s': expected six hex bytes, e.g. 02:00:00:00:00:01", s);
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	if (mac[0] & 1)
		return trf_errf(err, -EINVAL,
				"MAC '%s' is a multicast address; a reflector needs a unicast one",
				s);
	return 0;
}

/*
 * The one place where the values of a configuration are checked against
 * their ranges: the command line only parses their syntax, so that each
 * rule has one message, whichever program fills the configuration.
 */
int trf_config_validate(const struct trf_config *cfg, struct trf_err *err)
{
	cpu_set_t allowed;

	if (cfg->queues < 1 || cfg->queues > TRF_MAX_QUEUES)
		return trf_errf(err, -EINVAL, "bad --queues '%u': expected 1..%d", cfg->queues,
				TRF_MAX_QUEUES);
	if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0)
		return trf_errf(err, -errno, "cannot read the CPU affinity: %s", strerror(errno));
	for (unsigned int q = 0; q < cfg->queues; q++) {
		int cpu = cfg->cpus[q];

		if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &allowed))
			return trf_errf(err, -EINVAL,
					"CPU %d (for queue %u) is not one this process may run on; "
					"see `taskset -p $$` or nproc",
					cpu, q);
	}
	if (cfg->buffers < 2 || cfg->buffers > TRF_MAX_BUFFERS ||
	    (cfg->buffers & (cfg->buffers - 1)))
		return trf_errf(err, -EINVAL, "bad --buffers '%u': a power of two in 2..%d",
				cfg->buffers, TRF_MAX_BUFFERS);
	if (cfg->frame_size < 128 || cfg->frame_size > TRF_MAX_FRAME_SIZE)
		return trf_errf(err, -EINVAL, "bad --frame-size '%u': expected 128..%d bytes",
				cfg->frame_size, TRF_MAX_FRAME_SIZE);
	if (cfg->offload == TRF_OFFLOAD_ON && cfg->frame_size_set &&
	    cfg->frame_size < TRF_VNET_FRAME_SIZE)
		return trf_errf(err, -EINVAL,
				"--offload on needs --frame-size %d or more: a superpacket is up "
				"to 64 KiB plus its headers (leave --frame-size out to get that)",
				TRF_VNET_FRAME_SIZE);
	if ((uint64_t)cfg->buffers * cfg->frame_size > (1ull << 30))
		return trf_errf(
		    err, -EINVAL,
		    "--buffers x --frame-size is over 1 GiB per queue, more than io_uring "
		    "can register");
	/* A round never takes more buffers than are free, so any count runs with any --buffers. */
	if (cfg->syscall_ns_given && (cfg->syscall_ns < 1 || cfg->syscall_ns > TRF_MAX_SYSCALL_NS))
		return trf_errf(err, -EINVAL, "bad --syscall-ns '%u': expected 1..%d ns",
				cfg->syscall_ns, TRF_MAX_SYSCALL_NS);
	if (cfg->fixed_reads < 1 || cfg->fixed_reads > TRF_MAX_FIXED_READS)
		return trf_errf(err, -EINVAL, "bad --fixed-reads '%u': expected 1..%d",
				cfg->fixed_reads, TRF_MAX_FIXED_READS);
	if (!(cfg->reflect_mode->links & cfg->link))
		return trf_errf(err, -EINVAL, "reflect mode '%s' does not work in %s mode",
				cfg->reflect_mode->name, trf_link_name(cfg->link));
	if (cfg->coalesce_usec > TRF_MAX_COALESCE_USEC)
		return trf_errf(err, -EINVAL,
				"bad --coalesce '%u': expected 0..%d microseconds (0 = off)",
				cfg->coalesce_usec, TRF_MAX_COALESCE_USEC);
	if (cfg->io == TRF_IO_SYNC && (cfg->coalesce_usec || cfg->busy_poll))
		return trf_errf(err, -EINVAL,
				"--coalesce and --poll busy are for --io uring: the sync engine "
				"blocks in read()");
	if (cfg->busy_poll && cfg->coalesce_usec)
		return trf_errf(err, -EINVAL,
				"--coalesce waits and --poll busy never waits: choose one");
	if (cfg->mtu && (cfg->mtu < 68 || cfg->mtu > 65535))
		return trf_errf(err, -EINVAL, "bad --mtu '%u': expected 68..65535 bytes", cfg->mtu);
	if (cfg->capture_limit > TRF_MAX_CAPTURE_LIMIT)
		return trf_errf(err, -EINVAL,
				"bad --capture-limit '%u': expected 1..%d frames per second",
				cfg->capture_limit, TRF_MAX_CAPTURE_LIMIT);
	/* The smallest ring holds two of the largest frames (a superpacket) with their records. */
	if (cfg->capture_limit && (cfg->capture_queue_bytes < TRF_MIN_CAPTURE_QUEUE_BYTES ||
				   cfg->capture_queue_bytes > TRF_MAX_CAPTURE_QUEUE_BYTES ||
				   (cfg->capture_queue_bytes & (cfg->capture_queue_bytes - 1))))
		return trf_errf(err, -EINVAL,
				"bad capture queue size %u B: a power of two from %u KiB to %u MiB",
				cfg->capture_queue_bytes, TRF_MIN_CAPTURE_QUEUE_BYTES >> 10,
				TRF_MAX_CAPTURE_QUEUE_BYTES >> 20);
	return 0;
}

const char *trf_offloads_describe(unsigned int offloads, char *buf, size_t len)
{
	static const struct {
		unsigned int bit;
		const char *name;
	} names[] = {
		{ TRF_TUN_F_CSUM, "csum" }, { TRF_TUN_F_TSO4, "tso4" },
		{ TRF_TUN_F_TSO6, "tso6" }, { TRF_TUN_F_TSO_ECN, "tso_ecn" },
		{ TRF_TUN_F_USO4, "uso4" }, { TRF_TUN_F_USO6, "uso6" },
	};
	size_t used = 0;

	if (len)
		buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(offloads & names[i].bit) || used >= len)
			continue;
		used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? "," : "",
					 names[i].name);
	}
	if (!used && len)
		snprintf(buf, len, "none");
	return buf;
}
