// SPDX-License-Identifier: MIT
/*
 * tapreflect: the command-line front end of the engine.  Parses options
 * (options.c), starts the engine, waits for a signal, a failure or the end,
 * and has the counters sampled off the data path and reported (report.c).
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "capture.h"
#include "options.h"
#include "report.h"
#include "tapreflect/syscost.h"
#include "telemetry.h"

/* How often the device's link state and MTU are looked at without --stats ticks. */
#define LINK_WATCH_S 1.0

/*
 * Say each queue that has ended, once.  A deleted device, or every queue
 * gone, ends the run (EXIT_RUNTIME); otherwise the others go on, and the run
 * ends with EXIT_RUNTIME when it stops.  Returns 0 to go on.
 */
static int queues_ended(struct report *r)
{
	unsigned int nfailed = trf_engine_check_queues(r->eng);
	struct trf_err err;

	bool gone;

	if (nfailed == r->nfailed_said)
		return 0;
	/* A deleted device ends every queue with the same story: told once. */
	gone = !trf_engine_device_present(r->eng);
	for (unsigned int q = 0; q < r->nq; q++) {
		if (r->failed_said[q] || !trf_engine_queue_failed(r->eng, q, &err))
			continue;
		if (!gone || !r->deleted_said)
			fprintf(stderr, "tapreflect: %s\n", err.msg);
		r->deleted_said = gone;
		r->failed_said[q] = true;
		r->nfailed_said++;
	}
	r->degraded = true;
	if (gone || r->nfailed_said == r->nq)
		return EXIT_RUNTIME;
	fprintf(stderr, "tapreflect: %u of %u queue(s) go on; the run will end with status %d\n",
		r->nq - r->nfailed_said, r->nq, EXIT_RUNTIME);
	return 0;
}

/* Wait for a signal, a worker failure, the next tick or the end. */
static int run_loop(struct report *r, int sfd)
{
	const struct opts *o = r->o;
	double tick = o->stats_interval > 0 ? o->stats_interval : LINK_WATCH_S;
	double next_tick = tick;
	int ret;

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = trf_engine_failure_fd(r->eng), .events = POLLIN },
		};
		double now = report_elapsed(&r->start), until = -1;
		int timeout_ms = -1;

		if (o->duration > 0)
			until = o->duration;
		if (until < 0 || next_tick < until)
			until = next_tick;
		if (until >= 0)
			/* poll() takes an int of ms (24.8 days): wait in steps, the loop goes on. */
			timeout_ms = until <= now ? 0
				     : (until - now) * 1000 >= INT_MAX
					 ? INT_MAX
					 : (int)((until - now) * 1000) + 1;
		if (poll(pfd, 2, timeout_ms) < 0 && errno != EINTR) {
			fprintf(stderr, "tapreflect: poll: %s\n", strerror(errno));
			return EXIT_RUNTIME;
		}
		if (pfd[1].revents && (ret = queues_ended(r)) != 0)
			return ret;
		if (pfd[0].revents) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si))
				return 0;
		}
		now = report_elapsed(&r->start);
		if (now >= next_tick) {
			ret = queues_ended(r);
			if (ret)
				return ret;
			report_watch_link(r);
			if (o->stats_interval > 0) {
				struct sample tmp;

				report_sample(r, &r->cur);
				report_interval(r);
				tmp = r->prev;
				r->prev = r->cur;
				r->cur = tmp;
			}
			next_tick += tick;
			if (next_tick <= now)
				next_tick = now + tick;
		}
		if (o->duration > 0 && now >= o->duration)
			return 0;
	}
}

/*
 * --metrics-linger: the engine has stopped and its counters are final (what
 * the summary said); serve them this long, or until the next signal.
 */
static void linger(int sfd, double seconds)
{
	struct timespec start;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		double left = seconds - report_elapsed(&start);
		struct pollfd pfd = { .fd = sfd, .events = POLLIN };
		int ms;

		if (left <= 0)
			return;
		ms = left * 1000 >= INT_MAX ? INT_MAX : (int)(left * 1000) + 1;
		if (poll(&pfd, 1, ms) < 0 && errno != EINTR)
			return;
		if (pfd.revents)
			return;
	}
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct report r = { 0 };
	struct trf_engine *eng = NULL;
	struct telemetry *tel = NULL;
	struct capture *cap = NULL;
	struct trf_err err = { { 0 } };
	sigset_t sigs;
	int ret, sfd, code = EXIT_RUNTIME;
	bool exact;

	ret = tapreflect_parse_args(argc, argv, &o);
	if (ret)
		return ret > 0 ? 0 : EXIT_USAGE;

	/* Workers inherit this mask: only the main thread takes SIGINT/SIGTERM. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* The stop interrupts a worker's blocking read() with this signal (sync, --poll hybrid). */
	trf_engine_sync_wake_handler(o.cfg.wake_signal);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sfd < 0) {
		fprintf(stderr, "tapreflect: signalfd: %s\n", strerror(errno));
		return EXIT_RUNTIME;
	}

	r.o = &o;
	r.human = stdout;
	if (o.json_path) {
		if (strcmp(o.json_path, "-") == 0) {
			r.json = stdout;
			r.human = stderr;
		} else {
			r.json = fopen(o.json_path, "we");
			if (!r.json) {
				fprintf(stderr, "tapreflect: cannot write --json %s: %s\n",
					o.json_path, strerror(errno));
				goto close_sfd;
			}
		}
	}
	r.live_tty = isatty(fileno(r.human));
	r.live = o.stats_interval > 0 && (r.live_tty || o.stats_given);
	/*
	 * Which engine wins here depends on it; measured (about 1 ms) before any
	 * thread of ours starts, the metrics server's or the workers, so that
	 * none competes with it for the CPU.
	 */
	if (!o.cfg.syscall_ns_given) /* --poll hybrid goes by it, the reports say it */
		o.cfg.syscall_ns = trf_syscall_cost_ns();
	/* Before the device is touched: a directory the files cannot be made in fails here. */
	if (o.capture_path && capture_check(o.capture_path, &o.cfg) < 0)
		goto close_json;
	/* Bound before the device is touched: a port that is taken fails here, with nothing undone. */
	if (o.metrics_given && !(tel = telemetry_listen(&o.metrics)))
		goto close_json;

	if (trf_engine_create(&o.cfg, &eng, &err) < 0) {
		fprintf(stderr, "tapreflect: %s\n", err.msg);
		goto close_json;
	}
	if (trf_engine_start(eng, &err) < 0) {
		fprintf(stderr, "tapreflect: %s\n", err.msg);
		goto destroy_engine;
	}
	r.eng = eng;
	r.nq = o.cfg.queues;
	r.failed_said = calloc(r.nq, sizeof(bool));
	r.prev.queues = calloc(r.nq, sizeof(struct trf_queue_stats));
	r.cur.queues = calloc(r.nq, sizeof(struct trf_queue_stats));
	if (!r.prev.queues || !r.cur.queues || !r.failed_said) {
		fprintf(stderr, "tapreflect: out of memory\n");
		goto free_samples;
	}
	/* The workers run: what they drop waits in their rings until the writer takes it. */
	if (o.capture_path && !(cap = capture_start(eng, o.capture_path)))
		goto free_samples;
	r.cap = cap;
	clock_gettime(CLOCK_MONOTONIC, &r.start);
	r.cpu_start = report_cpu_seconds();
	{
		struct trf_engine_info info;

		trf_engine_info(eng, &info);
		trf_netcfg_tx_dropped(info.dev, &r.kernel_drops_start);
	}
	if (tel)
		telemetry_attach(tel, eng, r.cpu_start, r.kernel_drops_start,
				 cap ? capture_prom : NULL, cap);
	report_start_line(eng, stderr);
	if (tel)
		fprintf(stderr, "tapreflect: metrics at http://%s/metrics\n",
			telemetry_address(tel));
	/* After the start line, so that a caller woken by the record finds it written too. */
	if (o.ready_fd >= 0)
		report_ready(eng, o.ready_fd, tel ? telemetry_address(tel) : NULL);
	report_watch_link(&r);

	code = run_loop(&r, sfd);
	trf_engine_stop(eng);
	/* The workers' last drops, then the files closed: the summary counts them all. */
	capture_stop(cap);
	/* What failed while draining is said too; a run that lost a queue is not clean. */
	queues_ended(&r);
	if (r.degraded && code == 0)
		code = EXIT_RUNTIME;
	report_sample(&r, &r.cur);
	exact = report_summary(&r, code);
	if (!exact && code == 0)
		code = EXIT_RUNTIME;
	if (tel && o.metrics_linger > 0) {
		/* The reports are whole before the wait: a reader need not wait for it. */
		fflush(stdout);
		if (r.json)
			fflush(r.json);
		linger(sfd, o.metrics_linger);
	}

free_samples:
	free(r.prev.queues);
	free(r.cur.queues);
	free(r.failed_said);
destroy_engine:
	/* Scrapes read the engine: they end first. */
	telemetry_stop(tel);
	tel = NULL;
	capture_free(cap);
	trf_engine_destroy(eng);
close_json:
	telemetry_stop(tel); /* bound, and the engine never made */
	if (r.json && r.json != stdout)
		fclose(r.json);
close_sfd:
	close(sfd);
	return code;
}
