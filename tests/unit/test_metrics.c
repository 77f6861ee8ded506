// SPDX-License-Identifier: MIT
/*
 * --metrics (tools/common/metrics.c): the exposition writers in both formats
 * (a counter's _total and # lines, an info, a histogram's cumulative buckets,
 * escaping), the listen-address parser, and the server on a real socket:
 * status and content type by Accept header, 404, 405, and a port that is
 * taken.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "metrics.h"

static const struct trf_prom_family fam_counter = { "t_frames", TRF_PROM_COUNTER, NULL,
						    "frames seen" },
				    fam_bytes = { "t_read_bytes", TRF_PROM_COUNTER, "bytes",
						  "bytes read" },
				    fam_info = { "t", TRF_PROM_INFO, NULL, "what runs" },
				    fam_gauge = { "t_rate", TRF_PROM_GAUGE, NULL,
						  "back\\slash and\nnewline" },
				    fam_hist = { "t_rtt_seconds", TRF_PROM_HISTOGRAM, "seconds",
						 "round trips" };

/* What fn writes, in the text format (openmetrics false) or OpenMetrics. */
static char *render(bool openmetrics, void (*fn)(struct trf_prom *p))
{
	struct trf_prom p = { .openmetrics = openmetrics };
	char *buf = NULL;
	size_t len = 0;

	p.f = open_memstream(&buf, &len);
	assert_non_null(p.f);
	fn(&p);
	assert_int_equal(fclose(p.f), 0);
	return buf;
}

static void assert_text(char *got, const char *want)
{
	if (strcmp(got, want) != 0)
		fail_msg("got:\n%s\nwanted:\n%s", got, want);
	free(got);
}

static void write_counters(struct trf_prom *p)
{
	trf_prom_head(p, &fam_counter);
	trf_prom_u64(p, &fam_counter, (trf_prom_labels){ "queue", "0", NULL }, 42);
	trf_prom_head(p, &fam_bytes);
	trf_prom_u64(p, &fam_bytes, NULL, 7);
}

static void write_counter(struct trf_prom *p)
{
	write_counters(p);
	trf_prom_end(p);
}

static void counter(void **state)
{
	(void)state;
	/* The text format names the samples (x_total) on its # lines, and has no UNIT or EOF. */
	assert_text(render(false, write_counter), "# HELP t_frames_total frames seen\n"
						  "# TYPE t_frames_total counter\n"
						  "t_frames_total{queue=\"0\"} 42\n"
						  "# HELP t_read_bytes_total bytes read\n"
						  "# TYPE t_read_bytes_total counter\n"
						  "t_read_bytes_total 7\n");
	/* OpenMetrics names the family, says its unit, and ends with # EOF. */
	assert_text(render(true, write_counter), "# HELP t_frames frames seen\n"
						 "# TYPE t_frames counter\n"
						 "t_frames_total{queue=\"0\"} 42\n"
						 "# HELP t_read_bytes bytes read\n"
						 "# TYPE t_read_bytes counter\n"
						 "# UNIT t_read_bytes bytes\n"
						 "t_read_bytes_total 7\n"
						 "# EOF\n");
}

static void write_info(struct trf_prom *p)
{
	trf_prom_head(p, &fam_info);
	trf_prom_u64(p, &fam_info, (trf_prom_labels){ "version", "1.2", "proto", "udp", NULL }, 99);
}

static void info(void **state)
{
	(void)state;
	/* A gauge of 1 in the text format, an info in OpenMetrics; the value is always 1. */
	assert_text(render(false, write_info), "# HELP t_info what runs\n"
					       "# TYPE t_info gauge\n"
					       "t_info{version=\"1.2\",proto=\"udp\"} 1\n");
	assert_text(render(true, write_info), "# HELP t what runs\n"
					      "# TYPE t info\n"
					      "t_info{version=\"1.2\",proto=\"udp\"} 1\n");
}

static void write_histogram(struct trf_prom *p)
{
	static const double bounds[] = { 1e-6, 0.1, 2 };
	static const uint64_t counts[] = { 1, 0, 2, 3 }; /* the last: above 2 */

	trf_prom_head(p, &fam_hist);
	trf_prom_histogram(p, &fam_hist, (trf_prom_labels){ "proto", "udp", NULL }, bounds, counts,
			   3, 12.5);
}

static void histogram(void **state)
{
	(void)state;
	/* Cumulative buckets, +Inf = _count; bounds as written (1e-06, 0.1: not %.17g's digits). */
	assert_text(render(false, write_histogram),
		    "# HELP t_rtt_seconds round trips\n"
		    "# TYPE t_rtt_seconds histogram\n"
		    "t_rtt_seconds_bucket{proto=\"udp\",le=\"1e-06\"} 1\n"
		    "t_rtt_seconds_bucket{proto=\"udp\",le=\"0.1\"} 1\n"
		    "t_rtt_seconds_bucket{proto=\"udp\",le=\"2\"} 3\n"
		    "t_rtt_seconds_bucket{proto=\"udp\",le=\"+Inf\"} 6\n"
		    "t_rtt_seconds_count{proto=\"udp\"} 6\n"
		    "t_rtt_seconds_sum{proto=\"udp\"} 12.5\n");
	assert_text(render(true, write_histogram),
		    "# HELP t_rtt_seconds round trips\n"
		    "# TYPE t_rtt_seconds histogram\n"
		    "# UNIT t_rtt_seconds seconds\n"
		    "t_rtt_seconds_bucket{proto=\"udp\",le=\"1e-06\"} 1\n"
		    "t_rtt_seconds_bucket{proto=\"udp\",le=\"0.1\"} 1\n"
		    "t_rtt_seconds_bucket{proto=\"udp\",le=\"2\"} 3\n"
		    "t_rtt_seconds_bucket{proto=\"udp\",le=\"+Inf\"} 6\n"
		    "t_rtt_seconds_count{proto=\"udp\"} 6\n"
		    "t_rtt_seconds_sum{proto=\"udp\"} 12.5\n");
}

static void write_escapes(struct trf_prom *p)
{
	trf_prom_head(p, &fam_gauge);
	trf_prom_f64(p, &fam_gauge, (trf_prom_labels){ "dev", "a\"b\\c\nd", NULL }, 0.25);
}

static void escaping(void **state)
{
	(void)state;
	/* A label value escapes ", \ and newline; HELP escapes \ and newline. */
	assert_text(render(false, write_escapes), "# HELP t_rate back\\\\slash and\\nnewline\n"
						  "# TYPE t_rate gauge\n"
						  "t_rate{dev=\"a\\\"b\\\\c\\nd\"} 0.25\n");
}

static void parse_good(void **state)
{
	static const struct {
		const char *spec, *text;
		int family;
		unsigned int port;
	} good[] = {
		{ "9100", "127.0.0.1:9100", AF_INET, 9100 },
		{ "0", "127.0.0.1:0", AF_INET, 0 },
		{ "0.0.0.0:9100", "0.0.0.0:9100", AF_INET, 9100 },
		{ "[::1]:9100", "[::1]:9100", AF_INET6, 9100 },
		{ "[::]:65535", "[::]:65535", AF_INET6, 65535 },
	};
	struct trf_metrics_listen l;
	char err[200];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		unsigned int port;

		if (trf_metrics_parse_listen(good[i].spec, &l, err, sizeof(err)) != 0)
			fail_msg("'%s' refused: %s", good[i].spec, err);
		assert_string_equal(l.text, good[i].text);
		assert_int_equal(l.ss.ss_family, good[i].family);
		port = ntohs(good[i].family == AF_INET ? ((struct sockaddr_in *)&l.ss)->sin_port
						       : ((struct sockaddr_in6 *)&l.ss)->sin6_port);
		assert_int_equal(port, good[i].port);
		assert_int_equal(l.len, good[i].family == AF_INET ? sizeof(struct sockaddr_in)
								  : sizeof(struct sockaddr_in6));
	}
}

static void parse_bad(void **state)
{
	static const char *const bad[] = { "99999",	"abc",	      "::1:9100", "1.2.3:80",
					   "",		"127.0.0.1:", ":9100",	  "[::1]",
					   "[::1]9100", "-1",	      "+80",	  "9100 " };
	struct trf_metrics_listen l;
	char err[200];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (trf_metrics_parse_listen(bad[i], &l, err, sizeof(err)) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		/* Each refusal names what was given. */
		if (!strstr(err, "'"))
			fail_msg("'%s': no reason given: %s", bad[i], err);
	}
}

/* ---- the server, on a real socket ---- */

static void render_fixed(void *arg, struct trf_prom *p)
{
	(void)arg;
	write_counters(p); /* the server ends the exposition */
}

/* One request on a fresh connection (HTTP/1.0: the server closes after the answer). */
static char *http(unsigned int port, const char *request)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	size_t len = 0, cap = 1 << 16;
	char *buf = calloc(1, cap);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = { .tv_sec = 5 };
	ssize_t n;

	assert_non_null(buf);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(write(fd, request, strlen(request)), (ssize_t)strlen(request));
	while ((n = read(fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	assert_true(n == 0); /* end of file, not the time-out */
	close(fd);
	buf[len] = '\0';
	return buf;
}

static void assert_has(const char *resp, const char *want)
{
	if (!strstr(resp, want))
		fail_msg("no '%s' in:\n%s", want, resp);
}

static void server(void **state)
{
	struct trf_metrics_listen l;
	struct trf_metrics_server *s, *again;
	char err[256], spec[32], portstr[16], *r;
	unsigned int port;

	(void)state;
	assert_int_equal(trf_metrics_parse_listen("127.0.0.1:0", &l, err, sizeof(err)), 0);
	s = trf_metrics_start(&l, render_fixed, NULL, err, sizeof(err));
	if (!s)
		fail_msg("start: %s", err);
	port = trf_metrics_port(s);
	assert_true(port > 0); /* 0 asked: the one chosen */

	r = http(port, "GET /metrics HTTP/1.0\r\n\r\n");
	assert_true(strncmp(r, "HTTP/1.1 200", 12) == 0 || strncmp(r, "HTTP/1.0 200", 12) == 0);
	assert_has(r, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n");
	assert_has(r, "\r\n\r\n# HELP t_frames_total frames seen\n");
	assert_true(strstr(r, "# EOF") == NULL);
	free(r);

	/* Prometheus's own Accept header: OpenMetrics first, weighted. */
	r = http(port, "GET /metrics HTTP/1.0\r\nAccept: application/openmetrics-text;"
		       "version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
		       "text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n\r\n");
	assert_has(r, " 200 ");
	assert_has(r,
		   "Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\n");
	assert_has(r, "# TYPE t_frames counter\n");
	assert_true(strlen(r) > 6 && strcmp(r + strlen(r) - 6, "# EOF\n") == 0);
	free(r);

	/* OpenMetrics refused (q=0): text. */
	r = http(port, "GET /metrics HTTP/1.0\r\nAccept: application/openmetrics-text;q=0,"
		       "text/plain\r\n\r\n");
	assert_has(r, "Content-Type: text/plain; version=0.0.4");
	free(r);

	r = http(port, "GET /other HTTP/1.0\r\n\r\n");
	assert_has(r, " 404 ");
	free(r);
	r = http(port, "POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
	assert_has(r, " 405 ");
	assert_has(r, "Allow: GET, HEAD\r\n");
	free(r);
	r = http(port, "HEAD /metrics HTTP/1.0\r\n\r\n");
	assert_has(r, " 200 ");
	assert_true(strstr(r, "# HELP") == NULL); /* no body */
	free(r);
	assert_true(trf_metrics_scrapes(s) >= 3);

	/* The same port again: refused, and the error names it. */
	snprintf(portstr, sizeof(portstr), ":%u", port);
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", port);
	assert_int_equal(trf_metrics_parse_listen(spec, &l, err, sizeof(err)), 0);
	err[0] = '\0';
	again = trf_metrics_start(&l, render_fixed, NULL, err, sizeof(err));
	assert_null(again);
	assert_has(err, portstr);
	assert_has(err, "Address already in use");

	trf_metrics_stop(s);
	/* Stopped: the port is free again (the listening socket was closed). */
	again = trf_metrics_start(&l, render_fixed, NULL, err, sizeof(err));
	if (!again)
		fail_msg("the port is still taken after stop: %s", err);
	trf_metrics_stop(again);
	trf_metrics_stop(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(counter),    cmocka_unit_test(info),
		cmocka_unit_test(histogram),  cmocka_unit_test(escaping),
		cmocka_unit_test(parse_good), cmocka_unit_test(parse_bad),
		cmocka_unit_test(server),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
