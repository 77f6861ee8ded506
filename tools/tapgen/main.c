// SPDX-License-Identifier: MIT
/*
 * tapgen: a UDP load generator for reflectors.  Sends sequence-numbered,
 * timestamped datagrams over many flows (one destination port per flow) at a
 * fixed rate or as fast as it can, receives the reflections on the same
 * socket, and reports offered and reflected rate, loss, duplicates,
 * reordering and round-trip times; or searches for the NDR and PDR.
 */
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ready.h"
#include "tapgen.h"

static void on_signal(int sig)
{
	(void)sig;
	tapgen_interrupted = 1;
}

int main(int argc, char **argv)
{
	struct gen_opts o;
	struct trial t = { 0 };
	uint64_t seq = 0;
	int fd, rcvbuf = 8 << 20, ret = 0;
	FILE *json = NULL;
	struct trf_metrics_server *metrics = NULL;
	int status = 1;

	ret = tapgen_parse_args(argc, argv, &o);
	if (ret)
		return ret > 0 ? 0 : 2;
	/*
	 * Bound first, so that a taken port fails before anything else is done;
	 * and before --cpu pins this thread, so that the server's thread does
	 * not share the generator's CPU.
	 */
	if (o.metrics && !(metrics = tapgen_metrics_start(&o)))
		return 1;
	if (o.cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(o.cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0) {
			fprintf(stderr, "tapgen: cannot pin to CPU %d: %s\n", o.cpu,
				strerror(errno));
			goto stop;
		}
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	/* A reader of --ready-fd, --json or stdout that went away is an error to say, not a death. */
	signal(SIGPIPE, SIG_IGN);
	if (o.json_path) {
		json = strcmp(o.json_path, "-") == 0 ? stdout : fopen(o.json_path, "w");
		if (!json) {
			fprintf(stderr, "tapgen: cannot write %s: %s\n", o.json_path,
				strerror(errno));
			goto stop;
		}
	}
	if (o.tcp) {
		ret = tapgen_run_tcp(&o, json == stdout ? stderr : stdout, json);
		if (json && json != stdout)
			fclose(json);
		status = tapgen_interrupted ? 130 : ret;
		goto finish;
	}
	t.st.rtt = tapgen_hist_create(); /* 216 KiB, whatever the rate and duration */
	t.st.flow_top = calloc(o.flows, sizeof(*t.st.flow_top));
	/* --imix: a histogram more for each size, as fixed as the first. */
	if (o.imix)
		t.st.imix = tapgen_imix_stats_create(o.imix->n);
	if (!t.st.rtt || !t.st.flow_top || (o.imix && !t.st.imix)) {
		fprintf(stderr, "tapgen: out of memory\n");
		goto stop;
	}
	fd = o.traffic->open(&o);
	if (fd < 0)
		goto stop;
	/* Replies arrive in bursts while we are busy sending: give them room. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (o.ready_fd >= 0)
		tapgen_ready(&o);

	if (!o.search) {
		if (tapgen_run_trial(fd, &o, o.rate, o.duration, &seq, &t) == 0 || t.st.sent) {
			tapgen_print_trial(json == stdout ? stderr : stdout, &o, &t);
			if (json) {
				json_t *rec = tapgen_record("tapgen");

				tapgen_json_trial(rec, &o, &t);
				trf_json_write(json, rec);
			}
		}
	} else {
		ret = tapgen_search(fd, &o, &seq, &t, json == stdout ? stderr : stdout, json);
	}
	if (json && json != stdout)
		fclose(json);
	close(fd);
	free(t.st.seen);
	tapgen_hist_destroy(t.st.rtt);
	tapgen_imix_stats_destroy(t.st.imix);
	free(t.st.flow_top);
	status = tapgen_interrupted ? 130 : ret < 0 ? 1 : 0;
finish:
	/* The reports are written: the final values stay up --metrics-linger seconds. */
	tapgen_metrics_finish(&o, metrics);
	return status;
stop:
	/* Nothing was run: nothing to linger for. */
	trf_metrics_stop(metrics);
	return status;
}
