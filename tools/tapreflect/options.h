/* SPDX-License-Identifier: MIT */
/* tapreflect's command line: the option table and what it fills in. */
#ifndef TRF_TAPREFLECT_OPTIONS_H
#define TRF_TAPREFLECT_OPTIONS_H

#include <stdbool.h>

#include "metrics.h"
#include "opttab.h"
#include "tapreflect/tapreflect.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

struct opts {
	struct trf_config cfg;
	double stats_interval;
	bool stats_given;
	bool iperf2_ports_given;
	bool workers_given;
	double duration;
	const char *json_path;
	const char *capture_path; /* --capture-drops, or NULL */
	bool capture_limit_given;
	int ready_fd; /* --ready-fd, or -1 */
	bool metrics_given;
	struct trf_metrics_listen metrics; /* --metrics */
	double metrics_linger; /* --metrics-linger: seconds to serve the final values */
	bool metrics_linger_given;
	/* while parsing */
	unsigned int queues; /* --queues, when queues_given */
	bool queues_given;
	int ncpus;
};

extern const struct trf_opt_tool tapreflect_tool;

/* 0 to run, 1 to exit 0 (help, version), -EINVAL after a usage error was printed. */
int tapreflect_parse_args(int argc, char **argv, struct opts *o);

#endif
