/* SPDX-License-Identifier: MIT */
/*
 * Which queue of a multi-queue device a frame from the kernel goes to.
 *
 * Left to itself, tun learns it: every frame a queue writes is hashed (a
 * flow dissection and a SipHash) and the hash recorded in a flow table, so
 * that the kernel's frames of that flow go back to the queue that wrote it.
 * That is work on tapreflect's CPU for every frame it writes, and a
 * reflector gains nothing from it: any queue answers any flow.  An eBPF
 * steering program (TUNSETSTEERINGEBPF) replaces the table: tun then skips
 * the hashing of written frames, and asks the program for each outgoing
 * frame's queue instead.
 *
 * The program is engine/bpf/steer.bpf.c (what it hashes is said there),
 * compiled by clang at build time and embedded here as a libbpf skeleton
 * (steer.skel.h, made by bpftool): loading needs no file at run time.  Each
 * attach loads it afresh; the device keeps its own reference, so the
 * program lives as long as it is attached, and the skeleton goes at once.
 *
 * libbpf prints its warnings to stderr unless told otherwise: here they go
 * nowhere but into the error message, when a load fails for a reason of
 * libbpf's own.
 */
#include <errno.h>
#include <linux/if_tun.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "steer.skel.h"

#ifndef TUNSETSTEERINGEBPF
#define TUNSETSTEERINGEBPF _IOR('T', 224, int)
#endif

/* The last warning libbpf gave this thread (its calls print on the caller's thread). */
static _Thread_local char libbpf_said[160];

__attribute__((format(printf, 2, 0))) static int libbpf_print(enum libbpf_print_level level,
							      const char *fmt, va_list ap)
{
	size_t len;

	if (level != LIBBPF_WARN)
		return 0;
	vsnprintf(libbpf_said, sizeof(libbpf_said), fmt, ap);
	len = strcspn(libbpf_said, "\n");
	libbpf_said[len] = '\0';
	return 0;
}

/*
 * The verifier's reason: the last line of its log but the statistics
 * ("processed N insns ...") that close it; the lines before trace the
 * program.
 */
static const char *verifier_reason(char *log)
{
	char *end = log + strlen(log), *line;

	for (;;) {
		while (end > log && end[-1] == '\n')
			*--end = '\0';
		line = memrchr(log, '\n', (size_t)(end - log));
		line = line ? line + 1 : log;
		if (line == log || strncmp(line, "processed ", 10) != 0)
			return line;
		end = line;
	}
}

static int load_failed(int ret, const char *log, struct trf_err *err)
{
	if (log[0]) /* only the verifier writes the log */
		return trf_errf(err, ret, "the kernel refused the steering program: %s (%.200s)",
				strerror(-ret), log);
	if (ret == -EPERM)
		return trf_errf(err, ret,
				"cannot load the steering program: %s (needs CAP_BPF, or root)",
				strerror(-ret));
	if (libbpf_said[0])
		return trf_errf(err, ret, "cannot load the steering program: %s (%.200s)",
				strerror(-ret), libbpf_said);
	return trf_errf(err, ret, "cannot load the steering program: %s", strerror(-ret));
}

int trf_steer_attach(int queue_fd, struct trf_err *err)
{
	char log[2048] = "";
	struct rlimit memlock;
	struct steer_bpf *skel;
	bool have_memlock;
	int prog, ret;

	libbpf_set_print(libbpf_print);
	libbpf_said[0] = '\0';
	skel = steer_bpf__open();
	if (!skel)
		return load_failed(-errno, "", err);
	/* libbpf asks for the log only when a load fails, and then once more with it */
	bpf_program__set_log_buf(skel->progs.trf_steer, log, sizeof(log));
	/*
	 * Where the kernel charges BPF memory to RLIMIT_MEMLOCK (before 5.11),
	 * libbpf raises the limit to infinity for the whole process, and libbpf
	 * 1.1 exports no way to stop it.  The limit is tapreflect's to keep (it
	 * is what bounds the buffers after --user), so it is put back.
	 */
	have_memlock = getrlimit(RLIMIT_MEMLOCK, &memlock) == 0;
	ret = steer_bpf__load(skel);
	if (have_memlock)
		setrlimit(RLIMIT_MEMLOCK, &memlock);
	if (ret < 0) {
		ret = load_failed(ret, verifier_reason(log), err);
		goto end_destroy;
	}
	prog = bpf_program__fd(skel->progs.trf_steer);
	ret = ioctl(queue_fd, TUNSETSTEERINGEBPF, &prog) < 0 ? -errno : 0;
	if (ret < 0)
		trf_errf(err, ret, "TUNSETSTEERINGEBPF: %s", strerror(-ret));
end_destroy:
	steer_bpf__destroy(skel); /* closes our fd: the device holds its own reference */
	return ret;
}

void trf_steer_detach(int queue_fd)
{
	int none = -1;

	ioctl(queue_fd, TUNSETSTEERINGEBPF, &none);
}
