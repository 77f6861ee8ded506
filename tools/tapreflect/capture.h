/* SPDX-License-Identifier: MIT */
/*
 * tapreflect --capture-drops: the writer thread that takes dropped frames
 * from the engine (trf_engine_capture_drain) every 10 ms and writes them with
 * libpcap, one file per drop reason, each made when its first frame comes.
 */
#ifndef TRF_TAPREFLECT_CAPTURE_H
#define TRF_TAPREFLECT_CAPTURE_H

#include <stdint.h>

#include "metrics.h"
#include "tapreflect/tapreflect.h"

struct capture;

/*
 * Before the device is touched: whether files can be made where path says
 * (its directory exists and is writable, by --user's user when cfg runs as
 * one, since the files are made after the change).  0, or -1 with why on
 * stderr.
 */
int capture_check(const char *path, const struct trf_config *cfg);

/*
 * The file of a reason: path with ".REASON" before its extension
 * (drops.pcap: drops.malformed.pcap), or ".REASON.pcap" after a path without
 * one.  -1 when it would not fit len.
 */
int capture_file_name(const char *path, const char *reason, char *buf, size_t len);

/* Once the engine runs: start the writer; NULL with why on stderr. */
struct capture *capture_start(struct trf_engine *eng, const char *path);

/* After trf_engine_stop(): end the writer, take what is left, close the files; NULL is fine. */
void capture_stop(struct capture *c);

/* After capture_stop() and after anything that reads it (scrapes); NULL is fine. */
void capture_free(struct capture *c);

/* What the writer did with the frames of one drop reason (index into drops[]). */
struct capture_reason {
	const char *file; /* where its frames go */
	uint64_t captured; /* written to the file, and flushed */
	/* Handed to the writer but not in the file: it could not be made or written. */
	uint64_t file_errors;
};

/* As the writer counted so far (any thread: relaxed loads); reason < TRF_STAT_DROPS. */
void capture_reason(const struct capture *c, unsigned int reason, struct capture_reason *out);

/* The path --capture-drops gave. */
const char *capture_path(const struct capture *c);

/* --metrics' extra families (telemetry_extra_fn): captured frames, and those lost to a file. */
void capture_prom(void *arg, struct trf_prom *p, const char *dev);

#endif
