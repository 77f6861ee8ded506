// SPDX-License-Identifier: MIT
/*
 * The tools' option tables against what users read: every option accepted
 * (the table is what getopt_long is made from) is in --help and in
 * docs/cli.md, docs/cli.md names no option that does not exist, the
 * generated getopt arguments take each option, long and short, to its own
 * entry with its value, and an enum option takes exactly its table's names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "opttab.h"
#include "options.h" /* tapreflect */
#include "tapgen.h"
#include "tapreflect/names.h"

#define MAX_OPTS 64

/* The part of docs/cli.md that documents one tool: from its heading to the next tool's. */
static char *doc_section(const char *tool)
{
	FILE *f = fopen(TRF_CLI_MD, "re");
	char *text, *start, *end;
	long size;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)size + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	/* Each tool's part starts with a level-1 heading "# <tool> command line". */
	{
		char heading[64];

		snprintf(heading, sizeof(heading), "# %s command line\n", tool);
		start = strstr(text, heading);
		assert_non_null(start);
	}
	end = strstr(start + 1, "\n# ");
	if (end)
		end[1] = '\0';
	memmove(text, start, strlen(start) + 1);
	return text;
}

static char *help_text(const struct trf_opt_tool *tool)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	trf_opt_help(tool, f);
	fclose(f);
	return buf;
}

/* "--name" as a whole option name in text (not a prefix of a longer one). */
static int mentions(const char *text, const char *name)
{
	char needle[80];
	size_t n = (size_t)snprintf(needle, sizeof(needle), "--%s", name);

	for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle)) {
		char c = p[n];

		if (!(c >= 'a' && c <= 'z') && c != '-')
			return 1;
	}
	return 0;
}

static void check_tool(const struct trf_opt_tool *tool)
{
	char *help = help_text(tool), *doc = doc_section(tool->prog);
	unsigned int n = trf_opt_count(tool->opts);

	assert_true(n > 0 && n < MAX_OPTS);
	for (unsigned int i = 0; i < n; i++) {
		const struct trf_opt *o = &tool->opts[i];

		if (!mentions(help, o->name))
			fail_msg("%s --help does not list --%s", tool->prog, o->name);
		if (o->short_name) {
			char pair[80];

			snprintf(pair, sizeof(pair), "-%c, --%s", o->short_name, o->name);
			if (!strstr(help, pair))
				fail_msg("%s --help does not show %s", tool->prog, pair);
		}
		if (!mentions(doc, o->name))
			fail_msg("docs/cli.md does not document %s --%s", tool->prog, o->name);
		for (unsigned int j = 0; j < i; j++) {
			assert_string_not_equal(o->name, tool->opts[j].name);
			if (o->short_name)
				assert_int_not_equal(o->short_name, tool->opts[j].short_name);
		}
	}
	/* The other way round: every option in the doc's tables exists. */
	for (const char *line = doc; line && *line;
	     line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		const char *p, *eol = strchr(line, '\n');

		if (strncmp(line, "| `", 3) != 0)
			continue;
		for (p = strstr(line, "--"); p && (!eol || p < eol); p = strstr(p + 2, "--")) {
			char name[64];
			size_t len = strspn(p + 2, "abcdefghijklmnopqrstuvwxyz0123456789-");
			int found = 0;

			if (len == 0 || len >= sizeof(name))
				continue;
			memcpy(name, p + 2, len);
			name[len] = '\0';
			for (unsigned int i = 0; i < n && !found; i++)
				found = strcmp(tool->opts[i].name, name) == 0;
			if (!found)
				fail_msg("docs/cli.md documents %s --%s, which it does not accept",
					 tool->prog, name);
		}
		if (!eol)
			break;
	}
	free(help);
	free(doc);
}

static void tapreflect_options_documented(void **state)
{
	(void)state;
	check_tool(&tapreflect_tool);
}

static void tapgen_options_documented(void **state)
{
	(void)state;
	check_tool(&tapgen_tool);
}

/* A copy of a table whose handlers record which entry took what. */
struct record {
	int index;
	char value[32];
};

static struct record *recorded;

#define RECORDER(i)                                                                   \
	static int rec##i(void *ctx, const char *v)                                   \
	{                                                                             \
		(void)ctx;                                                            \
		recorded->index = i;                                                  \
		snprintf(recorded->value, sizeof(recorded->value), "%s", v ? v : ""); \
		return 0;                                                             \
	}
/* clang-format off */
RECORDER(0) RECORDER(1) RECORDER(2) RECORDER(3) RECORDER(4) RECORDER(5) RECORDER(6) RECORDER(7)
RECORDER(8) RECORDER(9) RECORDER(10) RECORDER(11) RECORDER(12) RECORDER(13) RECORDER(14)
RECORDER(15) RECORDER(16) RECORDER(17) RECORDER(18) RECORDER(19) RECORDER(20) RECORDER(21)
RECORDER(22) RECORDER(23) RECORDER(24) RECORDER(25) RECORDER(26) RECORDER(27) RECORDER(28)
RECORDER(29) RECORDER(30) RECORDER(31)
static int (*const recorders[])(void *, const char *) = {
	rec0, rec1, rec2, rec3, rec4, rec5, rec6, rec7, rec8, rec9, rec10, rec11, rec12, rec13,
	rec14, rec15, rec16, rec17, rec18, rec19, rec20, rec21, rec22, rec23, rec24, rec25,
	rec26, rec27, rec28, rec29, rec30, rec31,
};
/* clang-format on */

static void check_dispatch(const struct trf_opt_tool *tool)
{
	unsigned int n = trf_opt_count(tool->opts);
	struct trf_opt copy[MAX_OPTS];
	struct trf_opt_tool t = *tool;
	struct record rec;

	assert_true(n <= sizeof(recorders) / sizeof(recorders[0]));
	memcpy(copy, tool->opts, (n + 1) * sizeof(copy[0]));
	/* An enum option is dispatched as any other here (its names: enum_options_take_names). */
	for (unsigned int i = 0; i < n; i++) {
		if (copy[i].names) {
			copy[i].names = NULL;
			copy[i].value_optional = false;
			copy[i].arg = "VALUE";
		}
		copy[i].parse = recorders[i];
	}
	t.opts = copy;
	recorded = &rec;
	for (unsigned int i = 0; i < n; i++) {
		char prog[] = "prog", value[] = "v42", lopt[80],
		     sopt[3] = { '-', copy[i].short_name, 0 };
		char *argv[4] = { prog, lopt, value, NULL };
		int first = 0;

		snprintf(lopt, sizeof(lopt), "--%s", copy[i].name);
		rec = (struct record){ .index = -1 };
		assert_int_equal(trf_opt_parse(&t, copy[i].arg ? 3 : 2, argv, NULL, &first), 0);
		assert_int_equal(rec.index, (int)i);
		assert_string_equal(rec.value, copy[i].arg ? "v42" : "");
		assert_int_equal(first, copy[i].arg ? 3 : 2);
		if (copy[i].short_name) {
			argv[1] = sopt;
			rec = (struct record){ .index = -1 };
			assert_int_equal(trf_opt_parse(&t, copy[i].arg ? 3 : 2, argv, NULL, &first),
					 0);
			assert_int_equal(rec.index, (int)i);
		}
		if (copy[i].arg) {
			/* Without its value: a usage error, and no handler runs. */
			rec = (struct record){ .index = -1 };
			assert_true(trf_opt_parse(&t, 2, argv, NULL, &first) < 0);
			assert_int_equal(rec.index, -1);
		}
	}
	{
		char prog[] = "prog", bogus[] = "--no-such-option";
		char *argv[3] = { prog, bogus, NULL };
		int first;

		rec = (struct record){ .index = -1 };
		assert_true(trf_opt_parse(&t, 2, argv, NULL, &first) < 0);
		assert_int_equal(rec.index, -1);
	}
}

static void tapreflect_getopt_from_table(void **state)
{
	(void)state;
	check_dispatch(&tapreflect_tool);
}

static void tapgen_getopt_from_table(void **state)
{
	(void)state;
	check_dispatch(&tapgen_tool);
}

static int set_value;
static unsigned int set_calls;

static int record_set(void *ctx, int value)
{
	(void)ctx;
	set_value = value;
	set_calls++;
	return 0;
}

/* Every name of an enum option's table is taken, to its value; anything else is refused. */
static void check_enums(const struct trf_opt_tool *tool, unsigned int expected)
{
	unsigned int n = trf_opt_count(tool->opts), enums = 0;
	struct trf_opt copy[MAX_OPTS];
	struct trf_opt_tool t = *tool;

	memcpy(copy, tool->opts, (n + 1) * sizeof(copy[0]));
	t.opts = copy;
	for (unsigned int i = 0; i < n; i++) {
		char prog[] = "prog", lopt[80], value[64];
		char *argv[4] = { prog, lopt, value, NULL };
		int first;

		if (!copy[i].names)
			continue;
		assert_non_null(tool->opts[i].set);
		assert_null(tool->opts[i].parse);
		copy[i].set = record_set;
		enums++;
		snprintf(lopt, sizeof(lopt), "--%s", copy[i].name);
		for (const struct trf_name *nm = copy[i].names; nm->name; nm++) {
			snprintf(value, sizeof(value), "%s", nm->name);
			set_calls = 0;
			assert_int_equal(trf_opt_parse(&t, 3, argv, NULL, &first), 0);
			assert_int_equal(set_calls, 1);
			assert_int_equal(set_value, nm->value);
			/* The name back from the value: the tables have no two names for one value. */
			assert_string_equal(trf_name_of(copy[i].names, nm->value), nm->name);
		}
		snprintf(value, sizeof(value), "%s-not", copy[i].names[0].name);
		set_calls = 0;
		if (copy[i].value_optional) {
			/* A word that is no value is not taken: only "--opt=word" refuses it. */
			snprintf(lopt, sizeof(lopt), "--%s=%s", copy[i].name, value);
			assert_true(trf_opt_parse(&t, 2, argv, NULL, &first) < 0);
		} else {
			assert_true(trf_opt_parse(&t, 3, argv, NULL, &first) < 0);
		}
		assert_int_equal(set_calls, 0);
	}
	assert_int_equal(enums, expected);
}

/*
 * An enum whose value may be left out (tapgen's --search): alone, the first
 * name's value; the next word is taken only when it is a name; "=" works too.
 */
static void optional_enum_value(void **state)
{
	unsigned int n = trf_opt_count(tapgen_tool.opts), found = 0;
	struct trf_opt copy[MAX_OPTS];
	struct trf_opt_tool t = tapgen_tool;

	(void)state;
	memcpy(copy, tapgen_tool.opts, (n + 1) * sizeof(copy[0]));
	t.opts = copy;
	for (unsigned int i = 0; i < n; i++) {
		char prog[] = "prog", lopt[80], second[80], eq[80];
		char *argv[4] = { prog, lopt, second, NULL };
		const struct trf_name *last;
		int first;

		if (!copy[i].value_optional)
			continue;
		found++;
		copy[i].set = record_set;
		for (last = copy[i].names; last[1].name; last++)
			;
		assert_true(last != copy[i].names); /* a choice to make: two names at least */
		snprintf(lopt, sizeof(lopt), "--%s", copy[i].name);
		/* Alone, and last. */
		set_calls = 0;
		assert_int_equal(trf_opt_parse(&t, 2, argv, NULL, &first), 0);
		assert_int_equal(set_calls, 1);
		assert_int_equal(set_value, copy[i].names[0].value);
		assert_int_equal(first, 2);
		/* Followed by its last name: taken. */
		snprintf(second, sizeof(second), "%s", last->name);
		set_calls = 0;
		assert_int_equal(trf_opt_parse(&t, 3, argv, NULL, &first), 0);
		assert_int_equal(set_calls, 1);
		assert_int_equal(set_value, last->value);
		assert_int_equal(first, 3);
		/* Followed by a word that is no name: left for what comes after. */
		snprintf(second, sizeof(second), "%s-not", last->name);
		set_calls = 0;
		assert_int_equal(trf_opt_parse(&t, 3, argv, NULL, &first), 0);
		assert_int_equal(set_value, copy[i].names[0].value);
		assert_int_equal(first, 2);
		/* "--opt=name". */
		snprintf(eq, sizeof(eq), "--%s=%s", copy[i].name, last->name);
		argv[1] = eq;
		set_calls = 0;
		assert_int_equal(trf_opt_parse(&t, 2, argv, NULL, &first), 0);
		assert_int_equal(set_value, last->value);
	}
	assert_int_equal(found, 1);
}

static void enum_options_take_names(void **state)
{
	(void)state;
	/* --mode, --io, --read, --poll, --workers, --offload, --steering; tapgen has none. */
	check_enums(&tapreflect_tool, 7);
	check_enums(&tapgen_tool, 1);
	assert_string_equal(trf_link_name(TRF_LINK_TUN), "tun");
	assert_string_equal(trf_io_name(TRF_IO_SYNC), "sync");
	assert_string_equal(trf_read_name(TRF_READ_FIXED), "fixed");
	assert_string_equal(trf_offload_name(TRF_OFFLOAD_OFF), "off");
}

/* What a whole command line sets, and the ranges refused once, by trf_config_validate(). */
static void tapreflect_values(void **state)
{
	char prog[] = "tapreflect", mode[] = "--mode", tun[] = "tun", io[] = "--io",
	     sync[] = "sync", poll[] = "--poll", busy[] = "busy", mtu[] = "--mtu", small[] = "67",
	     ok[] = "9000", queues[] = "--queues", zero[] = "0", many[] = "257";
	struct opts o;

	(void)state;
	{
		char *argv[] = { prog, mode, tun, io, sync, mtu, ok, NULL };

		o = (struct opts){ 0 };
		assert_int_equal(tapreflect_parse_args(7, argv, &o), 0);
		assert_int_equal(o.cfg.link, TRF_LINK_TUN);
		assert_int_equal(o.cfg.io, TRF_IO_SYNC);
		assert_int_equal(o.cfg.mtu, 9000);
	}
	{
		char *argv[] = { prog, poll, busy, NULL };

		o = (struct opts){ 0 };
		assert_int_equal(tapreflect_parse_args(3, argv, &o), 0);
		assert_true(o.cfg.busy_poll);
	}
	{
		char *argv[] = { prog, mtu, small, NULL };

		o = (struct opts){ 0 };
		assert_true(tapreflect_parse_args(3, argv, &o) < 0);
	}
	{
		char *argv[] = { prog, queues, zero, NULL };

		o = (struct opts){ 0 };
		assert_true(tapreflect_parse_args(3, argv, &o) < 0);
		argv[2] = many;
		o = (struct opts){ 0 };
		assert_true(tapreflect_parse_args(3, argv, &o) < 0);
	}
}

/* Parse "--ready-fd VALUE" (after the options a tool needs): its status, and the descriptor taken. */
static int parse_ready_fd(bool tapgen, const char *value, int *fd)
{
	char prog[] = "tool", dst[] = "--dst", addr[] = "198.18.0.2", opt[] = "--ready-fd";
	char val[32];
	char *argv[6] = { prog, opt, val, NULL, NULL, NULL };
	int ret;

	snprintf(val, sizeof(val), "%s", value);
	if (tapgen) {
		struct gen_opts o;

		argv[3] = dst;
		argv[4] = addr;
		ret = tapgen_parse_args(5, argv, &o);
		*fd = o.ready_fd;
	} else {
		struct opts o = { 0 };

		ret = tapreflect_parse_args(3, argv, &o);
		*fd = o.ready_fd;
	}
	return ret;
}

/*
 * --ready-fd takes a descriptor of 3 or more that is open for writing now;
 * anything else is a usage error at start (exit 2), whichever tool.
 */
static void check_ready_fd(bool tapgen)
{
	static const char *const refused[] = {
		"0", "1", "2", "-1", "", "x", "3x", "1.5", "2147483648", "99999999999",
	};
	char num[16];
	int pipe_fds[2], fd = -7, closed;

	assert_int_equal(pipe(pipe_fds), 0);
	/* Taken: the write end, by number. */
	snprintf(num, sizeof(num), "%d", pipe_fds[1]);
	assert_int_equal(parse_ready_fd(tapgen, num, &fd), 0);
	assert_int_equal(fd, pipe_fds[1]);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (parse_ready_fd(tapgen, refused[i], &fd) >= 0)
			fail_msg("--ready-fd '%s' was accepted", refused[i]);
	/* The read end: open, but the record could not be written to it. */
	snprintf(num, sizeof(num), "%d", pipe_fds[0]);
	assert_true(parse_ready_fd(tapgen, num, &fd) < 0);
	/* A number that is no open descriptor (this one was just closed). */
	closed = dup(pipe_fds[1]);
	assert_true(closed > 2);
	assert_int_equal(close(closed), 0);
	snprintf(num, sizeof(num), "%d", closed);
	assert_true(parse_ready_fd(tapgen, num, &fd) < 0);
	close(pipe_fds[0]);
	close(pipe_fds[1]);
}

static void tapreflect_ready_fd(void **state)
{
	char prog[] = "tapreflect";
	char *argv[2] = { prog, NULL };
	struct opts o = { 0 };

	(void)state;
	/* Without the option, no record is written anywhere. */
	assert_int_equal(tapreflect_parse_args(1, argv, &o), 0);
	assert_int_equal(o.ready_fd, -1);
	check_ready_fd(false);
}

static void tapgen_ready_fd(void **state)
{
	char prog[] = "tapgen", dst[] = "--dst", addr[] = "198.18.0.2";
	char *argv[4] = { prog, dst, addr, NULL };
	struct gen_opts o;

	(void)state;
	assert_int_equal(tapgen_parse_args(3, argv, &o), 0);
	assert_int_equal(o.ready_fd, -1);
	check_ready_fd(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tapreflect_options_documented),
		cmocka_unit_test(tapgen_options_documented),
		cmocka_unit_test(tapreflect_getopt_from_table),
		cmocka_unit_test(tapgen_getopt_from_table),
		cmocka_unit_test(enum_options_take_names),
		cmocka_unit_test(optional_enum_value),
		cmocka_unit_test(tapreflect_values),
		cmocka_unit_test(tapreflect_ready_fd),
		cmocka_unit_test(tapgen_ready_fd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
