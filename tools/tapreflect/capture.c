// SPDX-License-Identifier: MIT
/*
 * tapreflect --capture-drops: a thread of its own takes the frames the
 * workers dropped out of the engine's capture rings every 10 ms (a timed
 * sleep: the workers never signal it) and writes them with libpcap, one file
 * per drop reason, each made when its reason's first frame comes: with
 * --user that is after the change of user, so the files are the user's.
 *
 * Nothing is lost silently: a frame is either in its file (captured, counted
 * once the file has been flushed) or counted as a file error, here, and
 * what the workers could not hand over is counted by the engine
 * (capture_limited, capture_full).  A file that cannot be made or written is
 * said once on stderr, and its reason's frames from then on, with those not
 * yet flushed into it, are file errors; the file is cut back to what its last
 * good flush held (removed if that is nothing), so that it holds exactly the
 * frames counted as captured, every record whole.
 */
#include "capture.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DRAIN_PERIOD_NS (10 * 1000 * 1000L)
/*
 * Every frame whole: a superpacket (offloads) is up to 64 KiB plus its
 * headers, more than 65535, and 262144 is libpcap's largest snapshot.
 */
#define SNAPLEN 262144

_Static_assert(TRF_MAX_FRAME_SIZE <= SNAPLEN, "no frame is ever cut in its file");

struct capture_file {
	char path[PATH_MAX];
	pcap_dumper_t *dumper;
	bool failed; /* could not be made or written: said once */
	uint64_t pending; /* dumped since the last flush that held */
	int64_t good_bytes; /* the file's size at that flush */
	/* Written by the writer (relaxed stores), read by the reports and scrapes. */
	uint64_t captured;
	uint64_t file_errors;
};

struct capture {
	struct trf_engine *eng;
	const char *path;
	pcap_t *dead; /* the files' link type, snapshot length and timestamp precision */
	pthread_t thread;
	bool running;
	int stop; /* set once, with release */
	/* By drop reason; [TRF_DROP_NONE]'s file_errors: records of no reason (never made). */
	struct capture_file files[TRF_STAT_DROPS];
};

static void count(uint64_t *field, uint64_t n)
{
	__atomic_store_n(field, *field + n, __ATOMIC_RELAXED);
}

int capture_file_name(const char *path, const char *reason, char *buf, size_t len)
{
	const char *base = strrchr(path, '/'), *dot;
	int n;

	base = base ? base + 1 : path;
	dot = strrchr(base, '.');
	/* A name that only starts with a dot (".drops") has no extension. */
	if (!dot || dot == base)
		n = snprintf(buf, len, "%s.%s.pcap", path, reason);
	else
		n = snprintf(buf, len, "%.*s.%s%s", (int)(dot - path), path, reason, dot);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/*
 * Whether user uid/gid could make files in dir: asked of the kernel by a
 * child that becomes that user, as the process will, so that ACLs and the
 * like count as they will then.  0, or the errno of the answer.
 */
static int writable_as(const char *dir, uid_t uid, gid_t gid)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return errno;
	if (pid == 0) {
		/* Only async-signal-safe calls in the child. */
		if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
			_exit(errno & 0xff ? errno & 0xff : EPERM);
		_exit(access(dir, W_OK | X_OK) < 0 ? (errno & 0xff ? errno & 0xff : EACCES) : 0);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : ECHILD;
}

int capture_check(const char *path, const struct trf_config *cfg)
{
	char dir[PATH_MAX], longest[PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct stat st;
	int err;

	if (!*path || (slash && !slash[1])) {
		fprintf(stderr,
			"tapreflect: --capture-drops '%s': give a file name, e.g. %sdrops.pcap (a "
			"file per drop reason is made next to it)\n",
			path, path);
		return -1;
	}
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		fprintf(stderr,
			"tapreflect: --capture-drops '%s' is a directory: give a file name in it, "
			"e.g. %s/drops.pcap\n",
			path, path);
		return -1;
	}
	/* Every reason's file name must fit, the longest too. */
	for (unsigned int d = 1; d < TRF_STAT_DROPS; d++) {
		if (capture_file_name(path, trf_stat_drop_name(d), longest, sizeof(longest)) < 0) {
			fprintf(stderr,
				"tapreflect: --capture-drops '%.64s...': the name is too long\n",
				path);
			return -1;
		}
	}
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (stat(dir, &st) < 0) {
		fprintf(stderr,
			"tapreflect: --capture-drops %s: cannot use the directory %s: %s%s\n", path,
			dir, strerror(errno), errno == ENOENT ? ": create it first" : "");
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "tapreflect: --capture-drops %s: %s is not a directory\n", path,
			dir);
		return -1;
	}
	if (cfg->run_as)
		err = writable_as(dir, cfg->run_uid, cfg->run_gid);
	else
		err = faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) < 0 ? errno : 0;
	if (err) {
		if (cfg->run_as)
			fprintf(
			    stderr,
			    "tapreflect: --capture-drops %s: user %s cannot make files in %s (%s): "
			    "the files are made after --user takes effect; give it a directory "
			    "it may write to\n",
			    path, cfg->run_user, dir, strerror(err));
		else
			fprintf(stderr,
				"tapreflect: --capture-drops %s: cannot make files in %s: %s\n",
				path, dir, strerror(err));
		return -1;
	}
	return 0;
}

/* Said once per file; its frames not yet flushed are not in it: file errors. */
static void file_failed(struct capture_file *f, unsigned int reason, const char *what,
			const char *why)
{
	fprintf(stderr,
		"tapreflect: --capture-drops: cannot %s %s: %s; frames dropped as %s are not "
		"captured from here on (the summary counts them)\n",
		what, f->path, why, trf_stat_drop_name(reason));
	f->failed = true;
	count(&f->file_errors, f->pending);
	f->pending = 0;
	if (f->dumper) {
		FILE *stream = pcap_dump_file(f->dumper);

		/* What did not make it is dropped unwritten, and a record cut short cut off. */
		__fpurge(stream);
		if (f->good_bytes > 0 && ftruncate(fileno(stream), f->good_bytes) < 0)
			fprintf(stderr, "tapreflect: --capture-drops: cannot cut %s back: %s\n",
				f->path, strerror(errno));
		pcap_dump_close(f->dumper);
		f->dumper = NULL;
		if (f->good_bytes <= 0)
			unlink(f->path);
	}
}

/*
 * Made with O_NOFOLLOW: a root reflector writing into a shared directory
 * must not be led by a planted link to truncate another file.
 */
static void file_open(struct capture *c, struct capture_file *f, unsigned int reason)
{
	int fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0666);
	FILE *stream;

	if (fd < 0) {
		file_failed(f, reason, "create", strerror(errno));
		return;
	}
	stream = fdopen(fd, "w");
	if (!stream) {
		close(fd);
		unlink(f->path);
		file_failed(f, reason, "create", strerror(errno));
		return;
	}
	f->dumper = pcap_dump_fopen(c->dead, stream);
	if (!f->dumper) {
		fclose(stream);
		unlink(f->path);
		file_failed(f, reason, "create", pcap_geterr(c->dead));
	}
}

static void on_frame(void *arg, const struct trf_captured *cap)
{
	struct capture *c = arg;
	struct capture_file *f;
	struct pcap_pkthdr h;

	if (cap->reason >= TRF_STAT_DROPS || cap->reason == TRF_DROP_NONE) {
		count(&c->files[TRF_DROP_NONE].file_errors, 1);
		return;
	}
	f = &c->files[cap->reason];
	if (!f->dumper && !f->failed)
		file_open(c, f, cap->reason);
	if (f->failed) {
		count(&f->file_errors, 1);
		return;
	}
	/* Nanosecond precision (the file's magic says so): tv_usec holds nanoseconds. */
	h = (struct pcap_pkthdr){
		.ts = { .tv_sec = cap->ts.tv_sec, .tv_usec = (suseconds_t)cap->ts.tv_nsec },
		.caplen = cap->len < SNAPLEN ? cap->len : SNAPLEN,
		.len = cap->len,
	};
	errno = 0;
	pcap_dump((u_char *)f->dumper, &h, cap->data);
	f->pending++;
	/* A frame larger than the stream's buffer is written at once: its error is known now. */
	if (ferror(pcap_dump_file(f->dumper)))
		file_failed(f, cap->reason, "write", strerror(errno ? errno : EIO));
}

/* A frame counts as captured once the file has taken it: flushed without an error. */
static void flush_files(struct capture *c)
{
	for (unsigned int d = 1; d < TRF_STAT_DROPS; d++) {
		struct capture_file *f = &c->files[d];

		if (!f->dumper || !f->pending)
			continue;
		errno = 0;
		if (pcap_dump_flush(f->dumper) < 0 || ferror(pcap_dump_file(f->dumper))) {
			file_failed(f, d, "write", strerror(errno ? errno : EIO));
			continue;
		}
		count(&f->captured, f->pending);
		f->pending = 0;
		f->good_bytes = pcap_dump_ftell64(f->dumper);
	}
}

static void drain(struct capture *c)
{
	if (trf_engine_capture_drain(c->eng, on_frame, c) > 0)
		flush_files(c);
}

static void *writer_main(void *arg)
{
	struct capture *c = arg;
	struct timespec next, now;

	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		drain(c);
		next.tv_nsec += DRAIN_PERIOD_NS;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000L;
		}
		/* Behind (a slow disk): the next pass starts now, not in a burst of them. */
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > next.tv_sec ||
		    (now.tv_sec == next.tv_sec && now.tv_nsec > next.tv_nsec))
			next = now;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
	}
	return NULL;
}

struct capture *capture_start(struct trf_engine *eng, const char *path)
{
	const struct trf_config *cfg = trf_engine_config(eng);
	struct capture *c = calloc(1, sizeof(*c));
	int ret;

	if (!c) {
		fprintf(stderr, "tapreflect: --capture-drops: out of memory\n");
		return NULL;
	}
	c->eng = eng;
	c->path = path;
	for (unsigned int d = 1; d < TRF_STAT_DROPS; d++)
		/* capture_check() made sure every name fits. */
		capture_file_name(path, trf_stat_drop_name(d), c->files[d].path,
				  sizeof(c->files[d].path));
	c->dead = pcap_open_dead_with_tstamp_precision(
	    cfg->link == TRF_LINK_TAP ? DLT_EN10MB : DLT_RAW, SNAPLEN, PCAP_TSTAMP_PRECISION_NANO);
	if (!c->dead) {
		fprintf(stderr, "tapreflect: --capture-drops: libpcap: out of memory\n");
		free(c);
		return NULL;
	}
	ret = pthread_create(&c->thread, NULL, writer_main, c);
	if (ret) {
		fprintf(stderr, "tapreflect: --capture-drops: cannot start the writer thread: %s\n",
			strerror(ret));
		pcap_close(c->dead);
		free(c);
		return NULL;
	}
	c->running = true;
	return c;
}

void capture_stop(struct capture *c)
{
	if (!c || !c->running)
		return;
	__atomic_store_n(&c->stop, 1, __ATOMIC_RELEASE);
	pthread_join(c->thread, NULL);
	c->running = false;
	/* What the workers dropped last: the engine has stopped, nothing comes after this. */
	drain(c);
	for (unsigned int d = 1; d < TRF_STAT_DROPS; d++) {
		struct capture_file *f = &c->files[d];

		if (f->dumper) {
			pcap_dump_close(f->dumper);
			f->dumper = NULL;
		}
	}
}

void capture_free(struct capture *c)
{
	if (!c)
		return;
	capture_stop(c);
	pcap_close(c->dead);
	free(c);
}

void capture_reason(const struct capture *c, unsigned int reason, struct capture_reason *out)
{
	const struct capture_file *f = &c->files[reason < TRF_STAT_DROPS ? reason : 0];

	*out = (struct capture_reason){
		.file = f->path,
		.captured = __atomic_load_n(&f->captured, __ATOMIC_RELAXED),
		.file_errors = __atomic_load_n(&f->file_errors, __ATOMIC_RELAXED),
	};
}

const char *capture_path(const struct capture *c)
{
	return c->path;
}

static const struct trf_prom_family
    fam_captured = { "tapreflect_captured_frames", TRF_PROM_COUNTER, NULL,
		     "--capture-drops: dropped frames written to the reason's pcap file" },
    fam_file_errors = { "tapreflect_capture_file_error_frames", TRF_PROM_COUNTER, NULL,
			"--capture-drops: dropped frames handed to the writer that are not in "
			"their file: it could not be made or written" };

void capture_prom(void *arg, struct trf_prom *p, const char *dev)
{
	const struct capture *c = arg;
	struct capture_reason cr;

	trf_prom_head(p, &fam_captured);
	for (unsigned int d = 1; d < TRF_DROP__COUNT; d++) {
		capture_reason(c, d, &cr);
		trf_prom_u64(
		    p, &fam_captured,
		    (trf_prom_labels){ "device", dev, "reason", trf_stat_drop_name(d), NULL },
		    cr.captured);
	}
	trf_prom_head(p, &fam_file_errors);
	for (unsigned int d = 1; d < TRF_DROP__COUNT; d++) {
		capture_reason(c, d, &cr);
		trf_prom_u64(
		    p, &fam_file_errors,
		    (trf_prom_labels){ "device", dev, "reason", trf_stat_drop_name(d), NULL },
		    cr.file_errors);
	}
}
