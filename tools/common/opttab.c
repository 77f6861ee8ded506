// SPDX-License-Identifier: MIT
/* Option tables: getopt_long() arguments and --help text from one declaration. */
#include "opttab.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define HELP_COLUMN 25 /* where the explanations start */
#define VAL_BASE 256 /* getopt values of long-only options: VAL_BASE + table index */

unsigned int trf_opt_count(const struct trf_opt *opts)
{
	unsigned int n = 0;

	while (opts[n].name)
		n++;
	return n;
}

void trf_opt_help(const struct trf_opt_tool *tool, FILE *f)
{
	fputs(tool->usage, f);
	for (const struct trf_opt *o = tool->opts; o->name; o++) {
		char head[96];
		const char *line = o->help;
		int len;

		if (o->group)
			fprintf(f, "\n%s\n", o->group);
		/* "  -d, --dev NAME", or "      --addr CIDR" without a short form. */
		len = snprintf(head, sizeof(head), "  %c%c%c --%s%s%s", o->short_name ? '-' : ' ',
			       o->short_name ? o->short_name : ' ', o->short_name ? ',' : ' ',
			       o->name, o->arg ? " " : "", o->arg ? o->arg : "");
		fputs(head, f);
		/* A long head gets its explanation on the next line. */
		if (len >= HELP_COLUMN)
			fprintf(f, "\n%*s", HELP_COLUMN, "");
		else
			fprintf(f, "%*s", HELP_COLUMN - len, "");
		for (;;) {
			const char *nl = strchr(line, '\n');

			if (!nl) {
				fprintf(f, "%s\n", line);
				break;
			}
			fprintf(f, "%.*s\n%*s", (int)(nl - line), line, HELP_COLUMN, "");
			line = nl + 1;
		}
	}
	if (tool->epilogue)
		fprintf(f, "\n%s", tool->epilogue);
}

void trf_roff_escape(const char *text, size_t len, FILE *f)
{
	bool line_start = true;

	for (size_t i = 0; i < len; i++) {
		char c = text[i];

		if (line_start && (c == '.' || c == '\''))
			fputs("\\&", f);
		line_start = c == '\n';
		if (c == '\\')
			fputs("\\e", f);
		else if (c == '-')
			fputs("\\-", f);
		else
			fputc(c, f);
	}
}

void trf_roff_puts(const char *text, FILE *f)
{
	trf_roff_escape(text, strlen(text), f);
}

void trf_opt_man(const struct trf_opt_tool *tool, FILE *f)
{
	for (const struct trf_opt *o = tool->opts; o->name; o++) {
		if (o->group) {
			size_t n = strlen(o->group);

			fputs(".SS ", f);
			/* "Device:" becomes the subsection "Device". */
			trf_roff_escape(o->group, n && o->group[n - 1] == ':' ? n - 1 : n, f);
			fputc('\n', f);
		}
		fputs(".TP\n", f);
		if (o->short_name)
			fprintf(f, "\\fB\\-%c\\fR, ", o->short_name);
		fputs("\\fB\\-\\-", f);
		trf_roff_puts(o->name, f);
		fputs("\\fR", f);
		if (o->arg) {
			fputs(" \\fI", f);
			trf_roff_puts(o->arg, f);
			fputs("\\fR", f);
		}
		fputc('\n', f);
		/* The help's line breaks are --help's layout: in a man page, one paragraph. */
		for (const char *p = o->help; *p; p++) {
			const char *nl = strchr(p, '\n');
			size_t len = nl ? (size_t)(nl - p) : strlen(p);

			trf_roff_escape(p, len, f);
			fputc('\n', f);
			p += len;
			if (!*p)
				break;
		}
	}
}

int trf_opt_error(const struct trf_opt_tool *tool, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", tool->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", tool->prog);
	return -EINVAL;
}

int trf_opt_parse(const struct trf_opt_tool *tool, int argc, char **argv, void *ctx, int *first)
{
	unsigned int n = trf_opt_count(tool->opts);
	struct option *longopts = calloc(n + 1, sizeof(*longopts));
	char *shortopts = malloc(3 * n + 2);
	size_t s = 0;
	int opt, ret = 0;

	if (!longopts || !shortopts) {
		free(longopts);
		free(shortopts);
		return trf_opt_error(tool, "out of memory");
	}
	/* Leading ':' : a missing value is reported as ':' rather than '?'. */
	shortopts[s++] = ':';
	for (unsigned int i = 0; i < n; i++) {
		const struct trf_opt *o = &tool->opts[i];

		longopts[i] = (struct option){
			.name = o->name,
			.has_arg = o->arg ? required_argument : no_argument,
			.val = o->short_name ? o->short_name : VAL_BASE + (int)i,
		};
		if (o->short_name) {
			shortopts[s++] = o->short_name;
			if (o->arg)
				shortopts[s++] = ':';
		}
	}
	shortopts[s] = '\0';

	opterr = 0;
	optind = 1;
	while (ret == 0 && (opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		const struct trf_opt *o = NULL;

		if (opt == ':') {
			ret = trf_opt_error(tool, "option '%s' needs a value", argv[optind - 1]);
			break;
		}
		if (opt >= VAL_BASE && opt < VAL_BASE + (int)n) {
			o = &tool->opts[opt - VAL_BASE];
		} else {
			for (unsigned int i = 0; i < n && !o; i++)
				if (opt != '?' && tool->opts[i].short_name == opt)
					o = &tool->opts[i];
		}
		if (!o) {
			ret = trf_opt_error(tool, "unknown option '%s'", argv[optind - 1]);
			break;
		}
		ret = o->parse(ctx, o->arg ? optarg : NULL);
	}
	*first = optind;
	free(longopts);
	free(shortopts);
	return ret;
}
