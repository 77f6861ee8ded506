// SPDX-License-Identifier: MIT
/*
 * tapgen --tcp: TCP streams through the reflector.  Behind a reflector that
 * swaps the 5-tuple, a connection to ADDR:PORT is a connection to itself
 * (the SYN comes back as the peer's SYN: a simultaneous open), so every byte
 * written comes back on the same socket.  Each flow writes a known pattern
 * and checks every byte it reads against it: goodput counts verified bytes
 * only, and a wrong byte ends the run with exit status 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ready.h"
#include "tapgen.h"

#define PERIOD \
	65521 /* the pattern repeats after this many bytes (prime: no alignment hides a shift) */
#define CHUNK 65536 /* bytes per write and per read at most */
#define CONNECT_TIMEOUT_MS 3000
#define MAX_FLOWS 256

struct flow {
	int fd;
	uint64_t sent, verified;
	bool write_done; /* FIN sent */
	bool eof;
};

static uint8_t pattern[PERIOD + CHUNK];

/* Byte k of every stream is pattern[k % PERIOD]; any window of CHUNK bytes is contiguous here. */
static void make_pattern(void)
{
	uint32_t x = 0x9e3779b9;

	for (size_t i = 0; i < PERIOD; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		pattern[i] = (uint8_t)x;
	}
	for (size_t i = PERIOD; i < sizeof(pattern); i++)
		pattern[i] = pattern[i - PERIOD];
}

static int connect_flow(const struct gen_opts *o, unsigned int i, struct flow *fl)
{
	struct sockaddr_storage dst = o->dst;
	struct pollfd pfd;
	int one = 1, err = 0, ret;
	socklen_t len = sizeof(err);
	uint16_t port = htons((uint16_t)(o->port + i));

	if (dst.ss_family == AF_INET)
		((struct sockaddr_in *)&dst)->sin_port = port;
	else
		((struct sockaddr_in6 *)&dst)->sin6_port = port;
	fl->fd = socket(dst.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fl->fd < 0) {
		fprintf(stderr, "tapgen: cannot open a TCP socket: %s\n", strerror(errno));
		return -1;
	}
	setsockopt(fl->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ret = connect(fl->fd, (struct sockaddr *)&dst, o->dst_len);
	if (ret < 0 && errno != EINPROGRESS) {
		fprintf(stderr, "tapgen: cannot connect flow %u: %s\n", i, strerror(errno));
		return -1;
	}
	pfd = (struct pollfd){ .fd = fl->fd, .events = POLLOUT };
	ret = poll(&pfd, 1, CONNECT_TIMEOUT_MS);
	if (ret == 0) {
		fprintf(stderr,
			"tapgen: flow %u: no answer to the connection within %d ms — is a "
			"reflector running behind the address (its SYN must come back)?\n",
			i, CONNECT_TIMEOUT_MS);
		return -1;
	}
	if (ret < 0 || getsockopt(fl->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
		fprintf(stderr, "tapgen: flow %u: connection failed: %s\n", i,
			strerror(err ? err : errno));
		return -1;
	}
	return 0;
}

/* Read what is there and check it; returns -1 on a wrong byte or a reset. */
static int drain_flow(struct flow *fl, unsigned int i, uint8_t *buf)
{
	for (;;) {
		ssize_t n = recv(fl->fd, buf, CHUNK, MSG_DONTWAIT);

		if (n == 0) {
			fl->eof = true;
			return 0;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			fprintf(stderr, "tapgen: flow %u: %s\n", i, strerror(errno));
			return -1;
		}
		if (fl->verified + (uint64_t)n > fl->sent ||
		    memcmp(buf, pattern + fl->verified % PERIOD, (size_t)n) != 0) {
			size_t at = 0;

			while (at < (size_t)n && buf[at] == pattern[(fl->verified + at) % PERIOD])
				at++;
			fprintf(stderr,
				"tapgen: flow %u: byte %" PRIu64 " of the stream came back wrong "
				"(%zu of %zd in this read verified)\n",
				i, fl->verified + at, at, n);
			return -1;
		}
		fl->verified += (uint64_t)n;
	}
}

static uint32_t retransmissions(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return 0;
	return ti.tcpi_total_retrans;
}

int tapgen_run_tcp(const struct gen_opts *o, FILE *text, FILE *json)
{
	static uint8_t buf[CHUNK];
	struct flow flows[MAX_FLOWS];
	struct pollfd pfds[MAX_FLOWS];
	uint64_t start, end, drain_end, last_progress, last_verified = 0, sent = 0, verified = 0;
	uint32_t retrans = 0;
	unsigned int nflows = o->flows, open_flows;
	double elapsed;
	int ret = 0;

	if (nflows > MAX_FLOWS) {
		fprintf(stderr, "tapgen: --tcp takes at most %d flows\n", MAX_FLOWS);
		return 2;
	}
	make_pattern();
	memset(flows, 0, sizeof(flows));
	for (unsigned int i = 0; i < nflows; i++) {
		flows[i].fd = -1;
		if (connect_flow(o, i, &flows[i]) < 0) {
			ret = 1;
			goto close_flows;
		}
	}
	/* Every connection made: what comes next is the load. */
	if (o->ready_fd >= 0)
		tapgen_ready(o);

	start = tapgen_now_ns();
	end = start + (uint64_t)(o->duration * 1e9);
	drain_end = 0;
	last_progress = start;
	open_flows = nflows;
	while (open_flows && !tapgen_interrupted) {
		uint64_t now = tapgen_now_ns();

		if (!drain_end && o->tcp_bytes) {
			uint64_t all = 0;

			for (unsigned int i = 0; i < nflows; i++)
				all += flows[i].sent;
			if (all >= o->tcp_bytes)
				end = now;
		}
		if (now >= end && !drain_end) {
			/* Stop writing: the FIN comes back after the last byte. */
			for (unsigned int i = 0; i < nflows; i++) {
				shutdown(flows[i].fd, SHUT_WR);
				flows[i].write_done = true;
			}
			drain_end = now + (uint64_t)((o->drain > 2 ? o->drain : 2) * 1e9);
		}
		if (drain_end && now >= drain_end)
			break;
		for (unsigned int i = 0; i < nflows; i++) {
			pfds[i] = (struct pollfd){
				.fd = flows[i].eof ? -1 : flows[i].fd,
				.events = (short)(POLLIN | (flows[i].write_done ? 0 : POLLOUT))
			};
		}
		if (poll(pfds, nflows, 100) < 0 && errno != EINTR) {
			ret = 1;
			break;
		}
		for (unsigned int i = 0; i < nflows; i++) {
			struct flow *fl = &flows[i];

			if (pfds[i].revents & (POLLIN | POLLERR | POLLHUP)) {
				if (drain_flow(fl, i, buf) < 0) {
					ret = 1;
					goto report;
				}
				if (fl->eof)
					open_flows--;
			}
			if (!fl->write_done && (pfds[i].revents & POLLOUT)) {
				size_t want = CHUNK;
				ssize_t n;

				/* With --bytes, each flow writes its share and no more. */
				if (o->tcp_bytes) {
					uint64_t share = (o->tcp_bytes + nflows - 1) / nflows;

					if (fl->sent >= share) {
						shutdown(fl->fd, SHUT_WR);
						fl->write_done = true;
						continue;
					}
					if (share - fl->sent < want)
						want = (size_t)(share - fl->sent);
				}
				n = send(fl->fd, pattern + fl->sent % PERIOD, want,
					 MSG_DONTWAIT | MSG_NOSIGNAL);

				if (n > 0)
					fl->sent += (uint64_t)n;
				else if (n < 0 && errno != EAGAIN && errno != EINTR) {
					fprintf(stderr, "tapgen: flow %u: %s\n", i,
						strerror(errno));
					ret = 1;
					goto report;
				}
			}
		}
		if (o->live) {
			uint64_t s_all = 0, v_all = 0;

			/* Once per poll round, for the metrics' thread. */
			for (unsigned int i = 0; i < nflows; i++) {
				s_all += flows[i].sent;
				v_all += flows[i].verified;
			}
			tapgen_live_tcp(o->live, s_all, v_all, 0);
		}
		now = tapgen_now_ns();
		if (o->progress && now - last_progress >= 1000000000ull) {
			uint64_t v = 0;

			for (unsigned int i = 0; i < nflows; i++)
				v += flows[i].verified;
			fprintf(stderr, "\r[%5.1fs] %8.3f Gbit/s verified\033[K",
				(double)(now - start) / 1e9,
				(double)(v - last_verified) * 8 / ((double)(now - last_progress)));
			last_verified = v;
			last_progress = now;
		}
	}
report:
	/* Goodput: what came back verified, over the time until it had. */
	elapsed = (double)(tapgen_now_ns() - start) / 1e9;
	for (unsigned int i = 0; i < nflows; i++) {
		sent += flows[i].sent;
		verified += flows[i].verified;
		retrans += retransmissions(flows[i].fd);
	}
	if (o->live)
		tapgen_live_tcp(o->live, sent, verified, retrans);
	if (ret == 0 && verified != sent) {
		fprintf(stderr, "tapgen: %" PRIu64 " of %" PRIu64 " bytes did not come back\n",
			sent - verified, sent);
		ret = 1;
	}
	if (o->progress)
		fputs("\n", stderr);
	fprintf(text,
		"tapgen: %u TCP flow(s), %.2f s: sent %" PRIu64 " B, verified %" PRIu64
		" B, %.3f Gbit/s goodput, %" PRIu32 " retransmission(s)\n",
		nflows, elapsed, sent, verified,
		elapsed > 0 ? (double)verified * 8 / elapsed / 1e9 : 0.0, retrans);
	if (json) {
		json_t *rec = tapgen_record("tapgen");

		json_object_set_new(rec, "proto", json_string("tcp"));
		json_object_set_new(rec, "flows", json_integer(nflows));
		json_object_set_new(rec, "duration_s", trf_json_fixed(elapsed, 3));
		json_object_set_new(rec, "bytes_sent", trf_json_count(sent));
		json_object_set_new(rec, "bytes_verified", trf_json_count(verified));
		json_object_set_new(
		    rec, "goodput_gbps",
		    trf_json_fixed(elapsed > 0 ? (double)verified * 8 / elapsed / 1e9 : 0.0, 4));
		json_object_set_new(rec, "retransmissions", json_integer(retrans));
		json_object_set_new(rec, "ok", json_boolean(ret == 0));
		trf_json_write(json, rec);
	}
close_flows:
	for (unsigned int i = 0; i < nflows; i++)
		if (flows[i].fd >= 0)
			close(flows[i].fd);
	return ret;
}
