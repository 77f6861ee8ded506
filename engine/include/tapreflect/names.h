/* SPDX-License-Identifier: MIT */
/*
 * The names of the configuration's enums, declared once: each table is what
 * the command line accepts (parsing, --help, the man page and the bash
 * completion are made from it) and what the reports print.
 */
#ifndef TAPREFLECT_NAMES_H
#define TAPREFLECT_NAMES_H

#ifdef __cplusplus
extern "C" {
#endif

/* One value of an enum; a table of them ends with a NULL name. */
struct trf_name {
	const char *name;
	int value;
	const char *help; /* one line of --help (\n breaks it further), or NULL */
};

extern const struct trf_name trf_link_names[]; /* --mode: enum trf_link */
extern const struct trf_name trf_io_names[]; /* --io: enum trf_io */
extern const struct trf_name trf_read_names[]; /* --read: enum trf_read */
extern const struct trf_name trf_workers_names[]; /* --workers: enum trf_workers */
extern const struct trf_name trf_poll_names[]; /* --poll: 0 wait, 1 busy (busy_poll), 2 hybrid */
extern const struct trf_name trf_offload_names[]; /* --offload: enum trf_offload */
extern const struct trf_name trf_steering_names[]; /* --steering: enum trf_steering */

/* The name of value in table, or NULL if it has none. */
const char *trf_name_of(const struct trf_name *table, int value);

/* The entry called name in table, or NULL. */
const struct trf_name *trf_name_find(const struct trf_name *table, const char *name);

#ifdef __cplusplus
}
#endif

#endif /* TAPREFLECT_NAMES_H */
