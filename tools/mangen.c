// SPDX-License-Identifier: MIT
/*
 * trf-mangen: make a man page from its template and the tool's option table,
 * or the tool's bash completion, or the list of its options and their values.
 *
 *   trf-mangen tapreflect|tapgen TEMPLATE OUTPUT VERSION
 *   trf-mangen --completion tapreflect|tapgen OUTPUT
 *   trf-mangen --list tapreflect|tapgen
 *
 * The template is man(7) source in which a line holding only @OPTIONS@ is
 * replaced by the tool's options (every one, by section), @DROPS@ by the drop
 * reasons with their explanations, @MODES@ by the reflect modes, and
 * @VERSION@ anywhere by VERSION.  The page and the completion are made at
 * build time from the tables the program itself parses with, so they cannot
 * drift from them; the list (one line per option: trf_opt_list()) is what
 * tools.cli_outputs checks --help, the page and the completion against.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "tapgen.h"
#include "tapreflect/reflect.h"
#include "tapreflect/stats.h"

static void drops(FILE *f)
{
	for (unsigned int i = 1; i < TRF_STAT_DROPS; i++) {
		fputs(".TP\n\\fB", f);
		trf_roff_puts(trf_stat_drop_name(i), f);
		fputs("\\fR\n", f);
		trf_roff_puts(trf_stat_drop_help(i), f);
		fputc('\n', f);
	}
}

static void modes(FILE *f)
{
	for (const struct trf_reflect_mode *const *m = trf_reflect_modes; *m; m++) {
		fputs(".TP\n\\fB", f);
		trf_roff_puts((*m)->name, f);
		fputs("\\fR\n", f);
		trf_roff_puts((*m)->help, f);
		fputc('\n', f);
	}
}

/* Copy line to f with every @VERSION@ replaced. */
static void put_line(const char *line, const char *version, FILE *f)
{
	static const char key[] = "@VERSION@";
	const char *at;

	while ((at = strstr(line, key))) {
		fwrite(line, 1, (size_t)(at - line), f);
		fputs(version, f);
		line = at + sizeof(key) - 1;
	}
	fputs(line, f);
}

static const struct trf_opt_tool *find_tool(const char *name)
{
	if (!strcmp(name, "tapreflect"))
		return &tapreflect_tool;
	if (!strcmp(name, "tapgen"))
		return &tapgen_tool;
	fprintf(stderr, "trf-mangen: unknown tool %s\n", name);
	return NULL;
}

static int usage(void)
{
	fprintf(stderr, "usage: trf-mangen tapreflect|tapgen TEMPLATE OUTPUT VERSION\n"
			"       trf-mangen --completion tapreflect|tapgen OUTPUT\n"
			"       trf-mangen --list tapreflect|tapgen\n");
	return 2;
}

static int completion(const struct trf_opt_tool *tool, const char *path)
{
	FILE *out = fopen(path, "w");

	if (!out) {
		perror(path);
		return 1;
	}
	trf_opt_bash(tool, out);
	if (fclose(out)) {
		fprintf(stderr, "trf-mangen: %s: write failed\n", path);
		remove(path);
		return 1;
	}
	return 0;
}

static int man_page(const struct trf_opt_tool *tool, const char *template, const char *path,
		    const char *version)
{
	char line[4096];
	FILE *in, *out;
	int placed = 0;

	in = fopen(template, "r");
	if (!in) {
		perror(template);
		return 1;
	}
	out = fopen(path, "w");
	if (!out) {
		perror(path);
		fclose(in);
		return 1;
	}
	while (fgets(line, sizeof(line), in)) {
		if (!strcmp(line, "@OPTIONS@\n")) {
			trf_opt_man(tool, out);
			placed = 1;
		} else if (!strcmp(line, "@DROPS@\n")) {
			drops(out);
		} else if (!strcmp(line, "@MODES@\n")) {
			modes(out);
		} else {
			put_line(line, version, out);
		}
	}
	fclose(in);
	if (fclose(out) || !placed) {
		fprintf(stderr, "trf-mangen: %s: %s\n", path,
			placed ? "write failed" : "the template has no @OPTIONS@ line");
		remove(path);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const struct trf_opt_tool *tool;

	if (argc == 4 && !strcmp(argv[1], "--completion")) {
		tool = find_tool(argv[2]);
		return tool ? completion(tool, argv[3]) : 2;
	}
	if (argc == 3 && !strcmp(argv[1], "--list")) {
		tool = find_tool(argv[2]);
		if (!tool)
			return 2;
		trf_opt_list(tool, stdout);
		return fflush(stdout) ? 1 : 0;
	}
	if (argc != 5 || argv[1][0] == '-')
		return usage();
	tool = find_tool(argv[1]);
	return tool ? man_page(tool, argv[2], argv[3], argv[4]) : 2;
}
