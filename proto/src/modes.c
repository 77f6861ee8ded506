// SPDX-License-Identifier: MIT
/*
 * The table of reflect modes and the names of the drop reasons.  A new mode
 * is a file that ends in its descriptor, plus a line here and in modes.h.
 */
#include <string.h>

#include "modes.h"

const struct trf_reflect_mode *const trf_reflect_modes[] = {
	&trf_reflect_mode_respond,
	&trf_reflect_mode_macswap,
	&trf_reflect_mode_sockperf,
	&trf_reflect_mode_iperf2,
	NULL,
};

/* clang-format off */
static const char *const drop_names[TRF_DROP__COUNT] = {
	[TRF_DROP_NONE] = "none",
#define TRF_DROP_NAME_(id, name, help) [TRF_DROP_##id] = name,
	TRF_DROP_REASONS(TRF_DROP_NAME_)
#undef TRF_DROP_NAME_
};

static const char *const drop_helps[TRF_DROP__COUNT] = {
	[TRF_DROP_NONE] = "reflected",
#define TRF_DROP_HELP_(id, name, help) [TRF_DROP_##id] = help,
	TRF_DROP_REASONS(TRF_DROP_HELP_)
#undef TRF_DROP_HELP_
};
/* clang-format on */

const char *trf_drop_name(enum trf_drop reason)
{
	return (unsigned int)reason < TRF_DROP__COUNT ? drop_names[reason] : "?";
}

const char *trf_drop_help(enum trf_drop reason)
{
	return (unsigned int)reason < TRF_DROP__COUNT ? drop_helps[reason] : "?";
}

const struct trf_reflect_mode *trf_reflect_mode_find(const char *name)
{
	for (const struct trf_reflect_mode *const *m = trf_reflect_modes; *m; m++)
		if (strcmp((*m)->name, name) == 0)
			return *m;
	return NULL;
}
