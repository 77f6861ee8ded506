/* SPDX-License-Identifier: MIT */
/*
 * --ready-fd N: a tool tells whoever started it that it is ready with one
 * JSON line on a descriptor that caller opened for it, then closes it.  A
 * caller waits on that data (or on EOF: the tool died first) instead of
 * polling for a message meant for people.
 *
 * Kept in a header, as static inline functions: each tool uses it where it
 * parses its options and where it reports, and the unit tests link no more
 * than the option tables.
 */
#ifndef TRF_TOOLS_READY_H
#define TRF_TOOLS_READY_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

/* s as a JSON string, quotes included: a device or user name may hold any byte but NUL. */
static inline void trf_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
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

#endif /* TRF_TOOLS_READY_H */
