/* SPDX-License-Identifier: MIT */
/*
 * tapreflect --metrics: what a Prometheus scrape of the reflector reads
 * (docs/metrics.md lists the families).  The server is bound before the
 * device is touched; the engine is handed to it once it runs, and taken
 * back before it is destroyed.
 */
#ifndef TRF_TAPREFLECT_TELEMETRY_H
#define TRF_TAPREFLECT_TELEMETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "metrics.h"
#include "tapreflect/tapreflect.h"

struct telemetry;

/* What the scrape adds beyond the engine's counters: captured frames by drop reason. */
typedef void (*telemetry_extra_fn)(void *arg, struct trf_prom *p, const char *dev);

/* Bind --metrics; NULL with why on stderr (the caller exits before the device is touched). */
struct telemetry *telemetry_listen(const struct trf_metrics_listen *where);

/* "ADDR:PORT" it listens on (the port the kernel chose, when 0 was asked). */
const char *telemetry_address(const struct telemetry *t);

/*
 * The engine runs: scrapes read it from now on.  cpu_start and
 * kernel_drops_start are the summary's, so that both count from the same
 * moment.
 */
void telemetry_attach(struct telemetry *t, struct trf_engine *eng, double cpu_start,
		      uint64_t kernel_drops_start, telemetry_extra_fn extra, void *extra_arg);

/* Stop serving (before the engine is destroyed); NULL is fine. */
void telemetry_stop(struct telemetry *t);

#endif
