/* SPDX-License-Identifier: MIT */
/* Descriptors of the reflect modes, one per file, listed in reflect.c. */
#ifndef TRF_REFLECT_MODES_H
#define TRF_REFLECT_MODES_H

#include "tapreflect/reflect.h"

extern const struct trf_reflect_mode trf_reflect_mode_respond;
extern const struct trf_reflect_mode trf_reflect_mode_macswap;
extern const struct trf_reflect_mode trf_reflect_mode_sockperf;
extern const struct trf_reflect_mode trf_reflect_mode_iperf2;

#endif /* TRF_REFLECT_MODES_H */
