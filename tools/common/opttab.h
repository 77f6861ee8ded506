/* SPDX-License-Identifier: MIT */
/*
 * Command-line options declared once, in a table per tool, from which both
 * the getopt_long() arguments and the --help text are made: help cannot
 * drift from what is accepted.
 */
#ifndef TRF_TOOLS_OPTTAB_H
#define TRF_TOOLS_OPTTAB_H

#include <stdbool.h>
#include <stdio.h>

/* Returned by a handler after it printed what was asked (--help, --version): exit 0. */
#define TRF_OPT_DONE 1

struct trf_name; /* tapreflect/names.h: one value of an enum, by name */

/* What the bash completion offers for an option's value, beyond an enum's names. */
enum trf_opt_complete {
	TRF_COMPLETE_NONE, /* a number, an address, a list: nothing to offer */
	TRF_COMPLETE_FILE,
	TRF_COMPLETE_USER,
	TRF_COMPLETE_NETDEV, /* the network devices */
};

/*
 * One option.  Either it has a handler of its own (parse), or it is an enum
 * (names): its value is looked up in that table, a name it does not hold is
 * refused with the list of those it does, and set() stores the entry's value.
 * The table also makes the placeholder ("tap|tun") and the values' lines of
 * --help and the man page, and the values the completion offers.
 */
struct trf_opt {
	const char *name; /* long name without "--"; NULL ends the table */
	char short_name; /* 0: none */
	const char *arg; /* the value's placeholder in --help; NULL: none (or made from names) */
	const char *help; /* lines separated by \n; an enum's value lines follow them */
	const char *group; /* starts a section of --help (NULL: same section as before) */
	/*
	 * Takes the value (NULL for an option without one).  Returns 0,
	 * TRF_OPT_DONE, or a negative number after printing a usage error.
	 */
	int (*parse)(void *ctx, const char *value);
	const struct trf_name *names; /* an enum option: the names it takes */
	/*
	 * An enum whose value may be left out ("--search" or "--search mlr"):
	 * the next word is its value only when it is one of the names; without
	 * one, set() gets the first name's value.
	 */
	bool value_optional;
	int (*set)(void *ctx, int value); /* an enum option: store the value of the name given */
	enum trf_opt_complete complete;
	/* Words the completion offers for the value: the i-th, NULL past the last. */
	const char *(*word)(unsigned int i);
};

struct trf_opt_tool {
	const char *prog; /* for error messages: "prog: ..." */
	const char *usage; /* the text before the options */
	const char *epilogue; /* the text after them */
	const struct trf_opt *opts;
};

/* Write --help: usage, the options by section, the epilogue. */
void trf_opt_help(const struct trf_opt_tool *tool, FILE *f);

/*
 * Write the options as a man(7) OPTIONS section body: a .SS per group, a .TP
 * per option, the help text escaped for roff.  The man pages are made from
 * this at build time, so they cannot drift from what is accepted.
 */
void trf_opt_man(const struct trf_opt_tool *tool, FILE *f);

/* Write TEXT escaped for roff: backslashes, dashes, and leading dots/quotes. */
void trf_roff_escape(const char *text, size_t len, FILE *f);

/* The same for a whole NUL-terminated string. */
void trf_roff_puts(const char *text, FILE *f);

/* Print "prog: MESSAGE" and the pointer to --help on stderr; returns -EINVAL. */
int trf_opt_error(const struct trf_opt_tool *tool, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The same for the tool whose command line trf_opt_parse() took last: the tools' usage errors. */
int trf_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Write a bash completion for the tool: its options, and the values of those
 * that take a known set (an enum's names, word(), files, users, devices).
 * Made at build time, so it cannot drift from what is accepted.
 */
void trf_opt_bash(const struct trf_opt_tool *tool, FILE *f);

/*
 * Write one line per option for the tests that check --help, the man page and
 * the completion against the table: "--name TAB -s TAB values TAB words", the
 * short name "-" when there is none, the enum's names and the completion's
 * other words separated by spaces.
 */
void trf_opt_list(const struct trf_opt_tool *tool, FILE *f);

/*
 * Parse argv with the table.  Returns 0 when every option was taken (*first
 * then indexes the first operand), TRF_OPT_DONE when a handler asked to exit
 * 0, or a negative number after a usage error was printed.
 */
int trf_opt_parse(const struct trf_opt_tool *tool, int argc, char **argv, void *ctx, int *first);

/* Number of options in a table. */
unsigned int trf_opt_count(const struct trf_opt *opts);

#endif /* TRF_TOOLS_OPTTAB_H */
