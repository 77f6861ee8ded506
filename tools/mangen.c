// SPDX-License-Identifier: MIT
/*
 * trf-mangen: make a man page from its template and the tool's option table.
 *
 *   trf-mangen tapreflect|tapgen TEMPLATE OUTPUT VERSION
 *
 * The template is man(7) source in which a line holding only @OPTIONS@ is
 * replaced by the tool's options (every one, by section), @DROPS@ by the drop
 * reasons with their explanations, @MODES@ by the reflect modes, and
 * @VERSION@ anywhere by VERSION.  The page is made at build time from the
 * tables the program itself parses with, so it cannot drift from them.
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

int main(int argc, char **argv)
{
	const struct trf_opt_tool *tool;
	char line[4096];
	FILE *in, *out;
	int placed = 0;

	if (argc != 5) {
		fprintf(stderr, "usage: trf-mangen tapreflect|tapgen TEMPLATE OUTPUT VERSION\n");
		return 2;
	}
	if (!strcmp(argv[1], "tapreflect"))
		tool = &tapreflect_tool;
	else if (!strcmp(argv[1], "tapgen"))
		tool = &tapgen_tool;
	else {
		fprintf(stderr, "trf-mangen: unknown tool %s\n", argv[1]);
		return 2;
	}
	in = fopen(argv[2], "r");
	if (!in) {
		perror(argv[2]);
		return 1;
	}
	out = fopen(argv[3], "w");
	if (!out) {
		perror(argv[3]);
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
			put_line(line, argv[4], out);
		}
	}
	fclose(in);
	if (fclose(out) || !placed) {
		fprintf(stderr, "trf-mangen: %s: %s\n", argv[3],
			placed ? "write failed" : "the template has no @OPTIONS@ line");
		remove(argv[3]);
		return 1;
	}
	return 0;
}
