// SPDX-License-Identifier: MIT
/*
 * --metrics: the exposition writers and the HTTP server (libmicrohttpd).
 * See metrics.h.  The listening socket is ours: bound here, so that a port
 * that is taken says so, then handed to the library, which serves it from
 * its own thread with epoll, so that a slow scraper costs nothing but its
 * connection (closed after a timeout) and many are served in turn.
 */
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONNECTION_LIMIT 64
#define CONNECTION_TIMEOUT_S 10

#define CT_TEXT "text/plain; version=0.0.4; charset=utf-8"
#define CT_OPENMETRICS "application/openmetrics-text; version=1.0.0; charset=utf-8"

int trf_metrics_parse_listen(const char *spec, struct trf_metrics_listen *out, char *err,
			     size_t errlen)
{
	/* Room for any address of either family, and "[host]:port" still fits out->text. */
	char host[INET6_ADDRSTRLEN + 2] = TRF_METRICS_DEFAULT_ADDR;
	const char *port_s = spec, *colon;
	unsigned long port;
	char *end;

	memset(out, 0, sizeof(*out));
	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');

		if (!close || close[1] != ':' || (size_t)(close - spec - 1) >= sizeof(host)) {
			snprintf(err, errlen, "'%s': expected [IPV6]:PORT", spec);
			return -EINVAL;
		}
		memcpy(host, spec + 1, (size_t)(close - spec - 1));
		host[close - spec - 1] = '\0';
		port_s = close + 2;
	} else if ((colon = strrchr(spec, ':'))) {
		if (strchr(spec, ':') != colon) {
			snprintf(err, errlen, "'%s': an IPv6 address goes in brackets: [ADDR]:PORT",
				 spec);
			return -EINVAL;
		}
		if ((size_t)(colon - spec) >= sizeof(host) || colon == spec) {
			snprintf(err, errlen, "'%s': expected [ADDR:]PORT", spec);
			return -EINVAL;
		}
		memcpy(host, spec, (size_t)(colon - spec));
		host[colon - spec] = '\0';
		port_s = colon + 1;
	}
	errno = 0;
	port = strtoul(port_s, &end, 10);
	if (errno || end == port_s || *end || *port_s == '-' || *port_s == '+' || port > 65535) {
		snprintf(err, errlen, "'%s': the port must be a number 0..65535 (0: any free one)",
			 spec);
		return -EINVAL;
	}
	if (strchr(host, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out->ss;

		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1) {
			snprintf(err, errlen, "'%s': '%s' is not an IPv6 address", spec, host);
			return -EINVAL;
		}
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		out->len = sizeof(*s6);
		snprintf(out->text, sizeof(out->text), "[%s]:%lu", host, port);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&out->ss;

		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1) {
			snprintf(err, errlen,
				 "'%s': '%s' is not an IPv4 address (numeric, e.g. 0.0.0.0)", spec,
				 host);
			return -EINVAL;
		}
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		out->len = sizeof(*s4);
		snprintf(out->text, sizeof(out->text), "%s:%lu", host, port);
	}
	return 0;
}

/* ---- exposition ---- */

static const char *type_name(const struct trf_prom *p, enum trf_prom_type t)
{
	switch (t) {
	case TRF_PROM_COUNTER:
		return "counter";
	case TRF_PROM_HISTOGRAM:
		return "histogram";
	case TRF_PROM_INFO:
		return p->openmetrics ? "info" : "gauge";
	case TRF_PROM_GAUGE:
	default:
		return "gauge";
	}
}

/* The name of the family's samples, as the text format's # lines name it too. */
static const char *sample_suffix(const struct trf_prom_family *fam)
{
	switch (fam->type) {
	case TRF_PROM_COUNTER:
		return "_total";
	case TRF_PROM_INFO:
		return "_info";
	default:
		return "";
	}
}

/* HELP text: backslash and newline escaped. */
static void put_help(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

void trf_prom_head(struct trf_prom *p, const struct trf_prom_family *fam)
{
	/* OpenMetrics names the family; the text format names its samples (x_total). */
	const char *suffix = p->openmetrics ? "" : sample_suffix(fam);

	fprintf(p->f, "# HELP %s%s ", fam->name, suffix);
	put_help(p->f, fam->help);
	fprintf(p->f, "\n# TYPE %s%s %s\n", fam->name, suffix, type_name(p, fam->type));
	if (p->openmetrics && fam->unit)
		fprintf(p->f, "# UNIT %s %s\n", fam->name, fam->unit);
}

static void put_labels(FILE *f, const char *const *labels, const char *le)
{
	bool any = false;

	if ((!labels || !labels[0]) && !le)
		return;
	fputc('{', f);
	for (size_t i = 0; labels && labels[i] && labels[i + 1]; i += 2) {
		fprintf(f, "%s%s=\"", any ? "," : "", labels[i]);
		for (const char *v = labels[i + 1]; *v; v++) {
			if (*v == '\\' || *v == '"')
				fputc('\\', f);
			if (*v == '\n')
				fputs("\\n", f);
			else
				fputc(*v, f);
		}
		fputc('"', f);
		any = true;
	}
	if (le)
		fprintf(f, "%sle=\"%s\"", any ? "," : "", le);
	fputc('}', f);
}

void trf_prom_u64(struct trf_prom *p, const struct trf_prom_family *fam, const char *const *labels,
		  uint64_t v)
{
	fprintf(p->f, "%s%s", fam->name, sample_suffix(fam));
	put_labels(p->f, labels, NULL);
	fprintf(p->f, " %llu\n", fam->type == TRF_PROM_INFO ? 1ULL : (unsigned long long)v);
}

/*
 * A float as both formats read it back exactly: the shortest %g that does
 * (0.1, not %.17g's 0.10000000000000001, so that a bound reads as written
 * and le="0.1" selects it), never "inf" for a finite bound.
 */
static void fmt_double(char *buf, size_t len, double v)
{
	for (int prec = 1; prec < 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
	snprintf(buf, len, "%.17g", v);
}

static void put_double(FILE *f, double v)
{
	char buf[40];

	fmt_double(buf, sizeof(buf), v);
	fputs(buf, f);
}

void trf_prom_f64(struct trf_prom *p, const struct trf_prom_family *fam, const char *const *labels,
		  double v)
{
	fprintf(p->f, "%s%s", fam->name, sample_suffix(fam));
	put_labels(p->f, labels, NULL);
	fputc(' ', p->f);
	put_double(p->f, fam->type == TRF_PROM_INFO ? 1.0 : v);
	fputc('\n', p->f);
}

void trf_prom_histogram(struct trf_prom *p, const struct trf_prom_family *fam,
			const char *const *labels, const double *bounds, const uint64_t *counts,
			size_t nbounds, double sum)
{
	unsigned long long acc = 0;
	char le[40];

	for (size_t i = 0; i <= nbounds; i++) {
		acc += counts[i];
		if (i < nbounds)
			fmt_double(le, sizeof(le), bounds[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		fprintf(p->f, "%s_bucket", fam->name);
		put_labels(p->f, labels, le);
		fprintf(p->f, " %llu\n", acc);
	}
	fprintf(p->f, "%s_count", fam->name);
	put_labels(p->f, labels, NULL);
	fprintf(p->f, " %llu\n", acc);
	fprintf(p->f, "%s_sum", fam->name);
	put_labels(p->f, labels, NULL);
	fputc(' ', p->f);
	put_double(p->f, sum);
	fputc('\n', p->f);
}

void trf_prom_end(struct trf_prom *p)
{
	if (p->openmetrics)
		fputs("# EOF\n", p->f);
}

/* ---- server ---- */

struct trf_metrics_server {
	struct MHD_Daemon *daemon;
	int fd;
	unsigned int port;
	trf_metrics_render_fn render;
	void *arg;
	uint64_t scrapes; /* written by the server's thread, read with relaxed loads */
};

/* Does the Accept header ask for OpenMetrics (with a weight above 0)? */
static bool wants_openmetrics(const char *accept)
{
	const char *m;

	if (!accept)
		return false;
	for (m = strstr(accept, "application/openmetrics-text"); m;
	     m = strstr(m + 1, "application/openmetrics-text")) {
		const char *end = strchr(m, ',');
		const char *q = strstr(m, "q=");

		if (!q || (end && q > end) || strtod(q + 2, NULL) > 0)
			return true;
	}
	return false;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned int status,
				  const char *text)
{
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(strlen(text), (void *)(uintptr_t)text,
					    MHD_RESPMEM_PERSISTENT); /* PERSISTENT: only read */
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct trf_metrics_server *s = cls;
	struct MHD_Response *resp;
	struct trf_prom p = { 0 };
	enum MHD_Result ret;
	char *buf = NULL;
	size_t len = 0;

	(void)version;
	(void)upload;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
	/* A GET has no body: answer at the first call, and refuse one that sends a body. */
	if (*upload_size) {
		*upload_size = 0;
		return MHD_NO;
	}
	(void)con_cls;
	if (strcmp(url, "/") == 0)
		return reply_text(conn, MHD_HTTP_OK, "the metrics are at /metrics\n");
	if (strcmp(url, "/metrics") != 0)
		return reply_text(conn, MHD_HTTP_NOT_FOUND,
				  "not found: the metrics are at /metrics\n");

	p.openmetrics = wants_openmetrics(
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT));
	p.f = open_memstream(&buf, &len);
	if (!p.f)
		return MHD_NO;
	s->render(s->arg, &p);
	trf_prom_end(&p);
	if (fclose(p.f) != 0) {
		free(buf);
		return MHD_NO;
	}
	resp = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(buf);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				p.openmetrics ? CT_OPENMETRICS : CT_TEXT);
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	__atomic_store_n(&s->scrapes, s->scrapes + 1, __ATOMIC_RELAXED);
	return ret;
}

/* The library's own complaints go to stderr with our prefix. */
static void log_mhd(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	fputs("metrics: ", stderr);
	vfprintf(stderr, fmt, ap);
}

struct trf_metrics_server *trf_metrics_start(const struct trf_metrics_listen *where,
					     trf_metrics_render_fn render, void *arg, char *err,
					     size_t errlen)
{
	struct trf_metrics_server *s = calloc(1, sizeof(*s));
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	int one = 1;

	if (!s) {
		snprintf(err, errlen, "--metrics %s: out of memory", where->text);
		return NULL;
	}
	s->render = render;
	s->arg = arg;
	s->fd = socket(where->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->fd < 0) {
		snprintf(err, errlen, "--metrics %s: socket: %s", where->text, strerror(errno));
		goto fail;
	}
	setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (where->ss.ss_family == AF_INET6)
		setsockopt(s->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(s->fd, (const struct sockaddr *)&where->ss, where->len) < 0) {
		int e = errno;

		snprintf(err, errlen, "--metrics %s: cannot listen there: %s%s", where->text,
			 strerror(e),
			 e == EADDRINUSE      ? " (another program has that port: choose another)"
			 : e == EADDRNOTAVAIL ? " (no interface here has that address)"
			 : e == EACCES	      ? " (a port below 1024 needs CAP_NET_BIND_SERVICE)"
					      : "");
		goto fail;
	}
	if (listen(s->fd, CONNECTION_LIMIT) < 0) {
		snprintf(err, errlen, "--metrics %s: listen: %s", where->text, strerror(errno));
		goto fail;
	}
	if (getsockname(s->fd, (struct sockaddr *)&bound, &blen) == 0)
		s->port =
		    ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
						      : ((struct sockaddr_in *)&bound)->sin_port);
	/* The logger first: the library complains at start when it is not. */
	s->daemon =
	    MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
				 MHD_USE_ITC | /* MHD_quiesce_daemon() needs it */
				 (where->ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
			     0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, log_mhd,
			     NULL, MHD_OPTION_LISTEN_SOCKET, s->fd, MHD_OPTION_CONNECTION_LIMIT,
			     (unsigned int)CONNECTION_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
			     (unsigned int)CONNECTION_TIMEOUT_S, MHD_OPTION_END);
	if (!s->daemon) {
		snprintf(err, errlen, "--metrics %s: the HTTP server (libmicrohttpd) did not start",
			 where->text);
		goto fail;
	}
	return s;
fail:
	if (s->fd >= 0)
		close(s->fd);
	free(s);
	return NULL;
}

unsigned int trf_metrics_port(const struct trf_metrics_server *s)
{
	return s->port;
}

uint64_t trf_metrics_scrapes(const struct trf_metrics_server *s)
{
	return __atomic_load_n(&s->scrapes, __ATOMIC_RELAXED);
}

void trf_metrics_stop(struct trf_metrics_server *s)
{
	if (!s)
		return;
	/*
	 * Take the listening socket back first: it is ours to close.  Should the
	 * library refuse, it closes the socket itself when it stops, and closing
	 * it again here could close another thread's new descriptor.
	 */
	bool ours = MHD_quiesce_daemon(s->daemon) != MHD_INVALID_SOCKET;

	MHD_stop_daemon(s->daemon);
	if (ours)
		close(s->fd);
	free(s);
}
