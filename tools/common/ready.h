/* SPDX-License-Identifier: MIT */
/*
 * --ready-fd N: a tool tells whoever started it that it is ready with one
 * JSON line on a descriptor that caller opened for it, then closes it.  A
 * caller waits on that data (or on EOF: the tool died first) instead of
 * polling for a message meant for people.  And what every JSON record of
 * the tools is made with: jansson values (keys stay in the order they are
 * set, strings are escaped by the library), numbers rounded as the records
 * document them, one compact line per record.
 *
 * Kept in a header, as static inline functions: each tool uses it where it
 * parses its options and where it reports, and the unit tests link no more
 * than the option tables (nothing of jansson is called from those).
 */
#ifndef TRF_TOOLS_READY_H
#define TRF_TOOLS_READY_H

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * The value of --ready-fd: a descriptor number of 3 or more (0, 1 and 2 carry
 * the tool's own input and output) that is open for writing now.  Returns 0,
 * or -EINVAL with why (for "bad --ready-fd 'V': WHY") in msg.
 */
static inline int trf_ready_fd_parse(const char *v, int *fd, char *msg, size_t msg_len)
{
	char *end;
	long n;
	int flags;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < 0 || n > INT_MAX) {
		snprintf(msg, msg_len, "a file descriptor number, 3 or more");
		return -EINVAL;
	}
	if (n <= 2) {
		snprintf(msg, msg_len,
			 "0, 1 and 2 are standard input, output and error: "
			 "give the record a descriptor of its own, e.g. --ready-fd 3 3>FILE");
		return -EINVAL;
	}
	flags = fcntl((int)n, F_GETFL);
	if (flags < 0) {
		snprintf(msg, msg_len, "descriptor %ld is not open (%s): open it, e.g. %ld>FILE", n,
			 strerror(errno), n);
		return -EINVAL;
	}
	if ((flags & O_ACCMODE) == O_RDONLY) {
		snprintf(msg, msg_len,
			 "descriptor %ld is open for reading only: the record is written to it", n);
		return -EINVAL;
	}
	*fd = (int)n;
	return 0;
}

/*
 * Compact, and reals in at most 15 significant digits: a value rounded to
 * its documented decimals (trf_json_fixed) prints as that decimal (0.2, not
 * 0.20000000000000001).
 */
#define TRF_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

/*
 * A string value.  A device or user name may hold any byte but NUL, and
 * jansson takes UTF-8 only: a name that is not is written with '?' for
 * each byte of 0x80 and above.
 */
static inline json_t *trf_json_text(const char *s)
{
	json_t *v = json_string(s);
	char *ascii;

	if (v || !s)
		return v;
	ascii = strdup(s);
	if (!ascii)
		return NULL;
	for (char *p = ascii; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	v = json_string(ascii);
	free(ascii);
	return v;
}

/* v rounded to `decimals` places, as "%.Nf" would print it; null where v is not finite. */
static inline json_t *trf_json_fixed(double v, unsigned int decimals)
{
	double scale = 1;

	if (!isfinite(v))
		return json_null();
	for (unsigned int i = 0; i < decimals; i++)
		scale *= 10;
	return json_real(round(v * scale) / scale);
}

/* A rate or target that is documented as a whole number ("%.0f"): an integer. */
static inline json_t *trf_json_whole(double v)
{
	if (!isfinite(v) || fabs(v) >= 9e18)
		return json_null();
	return json_integer((json_int_t)llround(v));
}

static inline json_t *trf_json_count(uint64_t n)
{
	return json_integer(n > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)n);
}

/*
 * The record as one line, "\n" included, in memory that the caller frees;
 * NULL when out of memory (a value that could not be made leaves the
 * record without its key, which the schemas then refuse).
 */
static inline char *trf_json_line(const json_t *rec, size_t *len)
{
	size_t n = rec ? json_dumpb(rec, NULL, 0, TRF_JSON_FLAGS) : 0;
	char *line;

	if (!n)
		return NULL;
	line = malloc(n + 1);
	if (!line)
		return NULL;
	if (json_dumpb(rec, line, n, TRF_JSON_FLAGS) != n) {
		free(line);
		return NULL;
	}
	line[n] = '\n';
	*len = n + 1;
	return line;
}

/*
 * Write rec as one line to f and flush, and drop the caller's reference.
 * Returns 0, or -1 when it could not be made or written.
 */
static inline int trf_json_write(FILE *f, json_t *rec)
{
	size_t len = 0;
	char *line = trf_json_line(rec, &len);
	int ret = -1;

	if (line && fwrite(line, 1, len, f) == len && fflush(f) == 0)
		ret = 0;
	free(line);
	json_decref(rec);
	return ret;
}

/*
 * Write the record (one line, "\n" included) to fd in one write where it
 * can, so that a reader of a pipe gets it whole, and close fd.  A reader
 * that went away (EPIPE: SIGPIPE must be ignored) or any other failure is
 * said once on stderr and is not fatal: the tool runs on.
 */
static inline void trf_ready_send(const char *prog, int fd, const char *line, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, line + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr,
				"%s: --ready-fd %d: cannot write the ready record: %s (going on)\n",
				prog, fd, n < 0 ? strerror(errno) : "nothing written");
			break;
		}
		done += (size_t)n;
	}
	close(fd);
}

/* The start record rec through trf_ready_send(); drops the caller's reference. */
static inline void trf_ready_send_record(const char *prog, int fd, json_t *rec)
{
	size_t len = 0;
	char *line = trf_json_line(rec, &len);

	json_decref(rec);
	if (!line) {
		fprintf(stderr, "%s: --ready-fd %d: out of memory (going on)\n", prog, fd);
		close(fd);
		return;
	}
	trf_ready_send(prog, fd, line, len);
	free(line);
}

#endif /* TRF_TOOLS_READY_H */
