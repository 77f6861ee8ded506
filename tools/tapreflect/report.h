/* SPDX-License-Identifier: MIT */
/* tapreflect's reports: start line, live line, JSON records, summary. */
#ifndef TRF_TAPREFLECT_REPORT_H
#define TRF_TAPREFLECT_REPORT_H

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "options.h"
#include "tapreflect/tapreflect.h"

/*
 * Of the JSON records (docs/schemas/): a field is only ever added within one
 * version.  2: per_queue says what is in force on each queue (the start
 * record has it too), link (was mode), dev in the start record too (was
 * device), steering plus steering_why.
 */
#define REPORT_SCHEMA_VERSION 2

struct sample {
	double t; /* seconds since start */
	double cpu_s; /* process user + system time */
	struct trf_queue_stats *queues;
	struct trf_queue_stats total;
};

struct capture; /* capture.h */

struct report {
	const struct opts *o;
	struct trf_engine *eng;
	unsigned int nq;
	FILE *json;
	FILE *human;
	bool live_tty;
	bool live;
	struct timespec start;
	double cpu_start;
	uint64_t kernel_drops_start;
	struct trf_link_info link; /* as last seen: a change is said once */
	bool link_known;
	bool link_gone; /* the device could not be asked: deleted */
	bool *failed_said; /* by queue: its end was said */
	unsigned int nfailed_said;
	bool deleted_said; /* the device's deletion was told (once for all queues) */
	bool degraded; /* a queue ended while the others went on */
	const struct capture *cap; /* --capture-drops' writer, or NULL */
	struct sample prev, cur;
};

/* Seconds since start (CLOCK_MONOTONIC). */
double report_elapsed(const struct timespec *start);

/* This process's user + system CPU time. */
double report_cpu_seconds(void);

/* Every queue's counters and their total into s. */
void report_sample(struct report *r, struct sample *s);

/* Look at the device's link state and MTU; say a change once, on stderr. */
void report_watch_link(struct report *r);

/* The live line and the JSON interval record for r->prev .. r->cur (link state as last watched). */
void report_interval(struct report *r);

/* The summary of r->cur; returns whether the accounting holds on every queue. */
bool report_summary(struct report *r, int exit_code);

/*
 * The start line: device, queues, CPUs, engine, reflect mode, what a
 * syscall costs (the configuration's syscall_ns, 0: unknown); then, where the queues differ in
 * what is in force, a line for each.
 */
void report_start_line(const struct trf_engine *eng, FILE *f);

/*
 * The ready record (--ready-fd): one JSON line of what is in force, with
 * the summary's fields of the whole engine (and syscall_ns) and its
 * per_queue entries' of what is in force on each queue, and where --metrics
 * listens ("ADDR:PORT", or NULL), written to fd, which is then closed.  A
 * failed write is said and not fatal.
 */
void report_ready(const struct trf_engine *eng, int fd, const char *metrics);

#endif
