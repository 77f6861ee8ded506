// SPDX-License-Identifier: MIT
/*
 * Option tables: getopt_long() arguments, --help, the man page's options and
 * the bash completion from one declaration.
 */
#include "opttab.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tapreflect/names.h"

#define HELP_COLUMN 25 /* where the explanations start */
#define VAL_BASE 256 /* getopt values of long-only options: VAL_BASE + table index */

/* The tool whose command line is parsed, for trf_usage_error(). */
static const struct trf_opt_tool *parsing;

unsigned int trf_opt_count(const struct trf_opt *opts)
{
	unsigned int n = 0;

	while (opts[n].name)
		n++;
	return n;
}

static bool takes_value(const struct trf_opt *o)
{
	return o->arg || o->names;
}

/* "auto|multishot|fixed": an enum's placeholder. */
static void put_names(const struct trf_name *names, const char *sep, FILE *f)
{
	for (const struct trf_name *n = names; n->name; n++)
		fprintf(f, "%s%s", n == names ? "" : sep, n->name);
}

static int names_width(const struct trf_name *names)
{
	int width = 0;

	for (const struct trf_name *n = names; n->name; n++)
		if ((int)strlen(n->name) > width)
			width = (int)strlen(n->name);
	return width;
}

/* Write text's lines, the first where the cursor is, each later one indented to column. */
static void put_lines(const char *text, int column, FILE *f)
{
	for (;;) {
		const char *nl = strchr(text, '\n');

		if (!nl) {
			fprintf(f, "%s\n", text);
			return;
		}
		fprintf(f, "%.*s\n%*s", (int)(nl - text), text, column, "");
		text = nl + 1;
	}
}

void trf_opt_help(const struct trf_opt_tool *tool, FILE *f)
{
	fputs(tool->usage, f);
	for (const struct trf_opt *o = tool->opts; o->name; o++) {
		char *head = NULL;
		size_t size = 0;
		FILE *h = open_memstream(&head, &size);
		int len = 0;

		if (o->group)
			fprintf(f, "\n%s\n", o->group);
		/* "  -d, --dev NAME", or "      --addr CIDR" without a short form. */
		if (h) {
			fprintf(h, "  %c%c%c --%s", o->short_name ? '-' : ' ',
				o->short_name ? o->short_name : ' ', o->short_name ? ',' : ' ',
				o->name);
			if (o->arg)
				fprintf(h, " %s", o->arg);
			else if (o->names) {
				fputs(o->value_optional ? " [" : " ", h);
				put_names(o->names, "|", h);
				if (o->value_optional)
					fputc(']', h);
			}
			if (fclose(h) == 0) {
				fputs(head, f);
				len = (int)size;
			}
			free(head);
		}
		/* A long head gets its explanation on the next line. */
		if (len >= HELP_COLUMN)
			fprintf(f, "\n%*s", HELP_COLUMN, "");
		else
			fprintf(f, "%*s", HELP_COLUMN - len, "");
		put_lines(o->help, HELP_COLUMN, f);
		if (o->names) {
			/* Each value on a line of its own, its explanation beside it. */
			int width = names_width(o->names) + 2;

			for (const struct trf_name *n = o->names; n->name; n++) {
				fprintf(f, "%*s%-*s", HELP_COLUMN + 2, "", width, n->name);
				put_lines(n->help ? n->help : "", HELP_COLUMN + 2 + width, f);
			}
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

/* The help's line breaks are --help's layout: in a man page, one paragraph. */
static void man_paragraph(const char *text, FILE *f)
{
	for (const char *p = text; *p; p++) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		trf_roff_escape(p, len, f);
		fputc('\n', f);
		p += len;
		if (!*p)
			break;
	}
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
		} else if (o->names) {
			fputs(o->value_optional ? " [" : " ", f);
			for (const struct trf_name *n = o->names; n->name; n++) {
				fputs(n == o->names ? "\\fI" : "\\fR|\\fI", f);
				trf_roff_puts(n->name, f);
			}
			fputs(o->value_optional ? "\\fR]" : "\\fR", f);
		}
		fputc('\n', f);
		man_paragraph(o->help, f);
		if (o->names) {
			fputs(".RS\n", f);
			for (const struct trf_name *n = o->names; n->name; n++) {
				fputs(".TP\n\\fB", f);
				trf_roff_puts(n->name, f);
				fputs("\\fR\n", f);
				man_paragraph(n->help ? n->help : "", f);
			}
			fputs(".RE\n", f);
		}
	}
}

static int verror(const char *prog, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", prog);
	return -EINVAL;
}

int trf_opt_error(const struct trf_opt_tool *tool, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = verror(tool->prog, fmt, ap);
	va_end(ap);
	return ret;
}

int trf_usage_error(const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = verror(parsing ? parsing->prog : program_invocation_short_name, fmt, ap);
	va_end(ap);
	return ret;
}

static const struct trf_name *find_name(const struct trf_name *names, const char *name)
{
	for (const struct trf_name *n = names; n->name; n++)
		if (strcmp(n->name, name) == 0)
			return n;
	return NULL;
}

/* An enum option's value: its entry's value to set(), or the names it takes. */
static int parse_enum(const struct trf_opt_tool *tool, const struct trf_opt *o, void *ctx,
		      const char *value)
{
	const struct trf_name *n = find_name(o->names, value);
	char *list = NULL;
	size_t size = 0;
	FILE *f;
	int ret;

	if (n)
		return o->set(ctx, n->value);
	/* "expected auto, multishot or fixed" */
	f = open_memstream(&list, &size);
	if (!f)
		return trf_opt_error(tool, "bad --%s '%s'", o->name, value);
	for (const struct trf_name *p = o->names; p->name; p++)
		fprintf(f, "%s%s", p == o->names ? "" : p[1].name ? ", " : " or ", p->name);
	fclose(f);
	ret = trf_opt_error(tool, "bad --%s '%s': expected %s", o->name, value, list);
	free(list);
	return ret;
}

int trf_opt_parse(const struct trf_opt_tool *tool, int argc, char **argv, void *ctx, int *first)
{
	unsigned int n = trf_opt_count(tool->opts);
	struct option *longopts = calloc(n + 1, sizeof(*longopts));
	char *shortopts = malloc(3 * n + 2);
	size_t s = 0;
	int opt, ret = 0;

	parsing = tool;
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
			.has_arg = o->value_optional ? optional_argument
				   : takes_value(o)  ? required_argument
						     : no_argument,
			.val = o->short_name ? o->short_name : VAL_BASE + (int)i,
		};
		if (o->short_name) {
			shortopts[s++] = o->short_name;
			if (takes_value(o))
				shortopts[s++] = ':';
			if (o->value_optional)
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
		/* "--search mlr" as well as "--search=mlr": the next word, if it is a value. */
		if (o->value_optional && !optarg && optind < argc &&
		    find_name(o->names, argv[optind]))
			optarg = argv[optind++];
		if (o->value_optional && !optarg)
			ret = o->set(ctx, o->names[0].value);
		else if (o->names)
			ret = parse_enum(tool, o, ctx, optarg);
		else
			ret = o->parse(ctx, o->arg ? optarg : NULL);
	}
	*first = optind;
	free(longopts);
	free(shortopts);
	return ret;
}

/* "--mode | -m": an option's spellings, as a case pattern. */
static void put_spellings(const struct trf_opt *o, FILE *f)
{
	fprintf(f, "--%s", o->name);
	if (o->short_name)
		fprintf(f, " | -%c", o->short_name);
}

/* The words the completion offers for an option's value: an enum's names, then word()'s. */
static bool put_words(const struct trf_opt *o, FILE *f)
{
	bool any = false;

	for (const struct trf_name *n = o->names; n && n->name; n++, any = true)
		fprintf(f, "%s%s", any ? " " : "", n->name);
	for (unsigned int i = 0; o->word && o->word(i); i++, any = true)
		fprintf(f, "%s%s", any ? " " : "", o->word(i));
	return any;
}

void trf_opt_bash(const struct trf_opt_tool *tool, FILE *f)
{
	static const char *const actions[] = {
		[TRF_COMPLETE_FILE] = "_filedir",
		[TRF_COMPLETE_USER] = "COMPREPLY=($(compgen -u -- \"$cur\"))",
		[TRF_COMPLETE_NETDEV] = "_available_interfaces -a",
	};
	bool first = true;
	char func[64];

	/* "_tapreflect": a shell name from the program's. */
	snprintf(func, sizeof(func), "_%s", tool->prog);
	for (char *c = func; *c; c++)
		if (*c == '-')
			*c = '_';
	fprintf(f,
		"# SPDX-License-Identifier: MIT\n"
		"# bash completion for %s, made at build time from the option table it\n"
		"# parses with (trf-mangen --completion): it offers what %s accepts.\n"
		"\n"
		"%s()\n"
		"{\n"
		"\tlocal cur prev words cword split\n"
		"\t_init_completion -s || return\n"
		"\n"
		"\tcase $prev in\n",
		tool->prog, tool->prog, func);
	for (const struct trf_opt *o = tool->opts; o->name; o++) {
		if (!takes_value(o))
			continue;
		if (o->names || o->word) {
			fputc('\t', f);
			put_spellings(o, f);
			fputs(")\n\t\t", f);
			/*
			 * A value that may be left out: the next option may
			 * come instead, unless the value is being given after
			 * "=" ($split).
			 */
			if (o->value_optional) {
				fputs("$split || { COMPREPLY=($(compgen -W '", f);
				put_words(o, f);
				for (const struct trf_opt *p = tool->opts; p->name; p++)
					fprintf(f, " --%s", p->name);
				fputs("' -- \"$cur\")); return; }\n\t\t", f);
			}
			fputs("COMPREPLY=($(compgen -W '", f);
			put_words(o, f);
			fputs("' -- \"$cur\"))\n\t\treturn ;;\n", f);
		} else if (o->complete != TRF_COMPLETE_NONE) {
			fputc('\t', f);
			put_spellings(o, f);
			fprintf(f, ")\n\t\t%s\n\t\treturn ;;\n", actions[o->complete]);
		}
	}
	/* The other options with a value: nothing to offer but not an option either. */
	for (const struct trf_opt *o = tool->opts; o->name; o++) {
		if (!takes_value(o) || o->names || o->word || o->complete != TRF_COMPLETE_NONE)
			continue;
		fputs(first ? "\t" : " | ", f);
		put_spellings(o, f);
		first = false;
	}
	if (!first)
		fputs(")\n\t\treturn ;;\n", f);
	fputs("\tesac\n"
	      "\t$split && return\n"
	      "\tCOMPREPLY=($(compgen -W '",
	      f);
	for (const struct trf_opt *o = tool->opts; o->name; o++) {
		fprintf(f, "%s--%s", o == tool->opts ? "" : " ", o->name);
		if (o->short_name)
			fprintf(f, " -%c", o->short_name);
	}
	fprintf(f,
		"' -- \"$cur\"))\n"
		"} && complete -F %s %s\n",
		func, tool->prog);
}

void trf_opt_list(const struct trf_opt_tool *tool, FILE *f)
{
	for (const struct trf_opt *o = tool->opts; o->name; o++) {
		fprintf(f, "--%s\t", o->name);
		if (o->short_name)
			fprintf(f, "-%c", o->short_name);
		else
			fputc('-', f);
		fputc('\t', f);
		for (const struct trf_name *n = o->names; n && n->name; n++)
			fprintf(f, "%s%s", n == o->names ? "" : " ", n->name);
		fputc('\t', f);
		for (unsigned int i = 0; o->word && o->word(i); i++)
			fprintf(f, "%s%s", i ? " " : "", o->word(i));
		fputc('\n', f);
	}
}
