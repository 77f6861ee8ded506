/* SPDX-License-Identifier: MIT */
/*
 * --ready-fd N: a tool tells whoever started it that it is ready with one
 * JSON line on a descriptor that caller opened for it, then closes it.  A
 * caller waits on that data (or on EOF: the tool died first) instead of
 * polling for a message meant for people.
 *
 * Kept in a header, as static inline functions: each tool uses it where it
 * parses its options and where it reports, and the unit tests link no more
 * than the option tables (nothing of jansson is called from those).
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

#include "json.h"

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
