/* SPDX-License-Identifier: MIT */
/*
 * What every JSON record of the tools is made with: jansson values (keys
 * stay in the order they are set, strings are escaped by the library),
 * numbers rounded as the records document them, one compact line per
 * record.  Static inline, as ready.h: the option tables' unit tests include
 * it and call nothing of jansson.
 */
#ifndef TRF_TOOLS_JSON_H
#define TRF_TOOLS_JSON_H

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Compact, and reals in at most 15 significant digits: a value rounded to
 * its documented decimals (trf_json_fixed) prints as that decimal (0.2, not
 * 0.20000000000000001).
 */
#define TRF_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

/*
 * A string value.  A device or user name may hold any byte but NUL, and
 * jansson takes UTF-8 only: a name that is not is written with '?' for
 * each byte of 0x80 and above.
 */
static inline json_t *trf_json_text(const char *s)
{
	json_t *v = json_string(s);
	char *ascii;

	if (v || !s)
		return v;
	ascii = strdup(s);
	if (!ascii)
		return NULL;
	for (char *p = ascii; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	v = json_string(ascii);
	free(ascii);
	return v;
}

/* v rounded to `decimals` places, as "%.Nf" would print it; null where v is not finite. */
static inline json_t *trf_json_fixed(double v, unsigned int decimals)
{
	double scale = 1;

	if (!isfinite(v))
		return json_null();
	for (unsigned int i = 0; i < decimals; i++)
		scale *= 10;
	return json_real(round(v * scale) / scale);
}

/* A rate or target that is documented as a whole number ("%.0f"): an integer. */
static inline json_t *trf_json_whole(double v)
{
	if (!isfinite(v) || fabs(v) >= 9e18)
		return json_null();
	return json_integer((json_int_t)llround(v));
}

static inline json_t *trf_json_count(uint64_t n)
{
	return json_integer(n > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)n);
}

/*
 * The record as one line, "\n" included, in memory that the caller frees;
 * NULL when out of memory (a value that could not be made leaves the
 * record without its key, which the schemas then refuse).
 */
static inline char *trf_json_line(const json_t *rec, size_t *len)
{
	size_t n = rec ? json_dumpb(rec, NULL, 0, TRF_JSON_FLAGS) : 0;
	char *line;

	if (!n)
		return NULL;
	line = malloc(n + 1);
	if (!line)
		return NULL;
	if (json_dumpb(rec, line, n, TRF_JSON_FLAGS) != n) {
		free(line);
		return NULL;
	}
	line[n] = '\n';
	*len = n + 1;
	return line;
}

/*
 * Write rec as one line to f and flush, and drop the caller's reference.
 * Returns 0, or -1 when it could not be made or written.
 */
static inline int trf_json_write(FILE *f, json_t *rec)
{
	size_t len = 0;
	char *line = trf_json_line(rec, &len);
	int ret = -1;

	if (line && fwrite(line, 1, len, f) == len && fflush(f) == 0)
		ret = 0;
	free(line);
	json_decref(rec);
	return ret;
}

#endif /* TRF_TOOLS_JSON_H */
