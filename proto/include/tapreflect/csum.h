/* SPDX-License-Identifier: MIT */
/*
 * Internet checksum helpers.
 *
 * All 16-bit values are taken exactly as they are stored in the frame
 * (network byte order, loaded with memcpy).  The one's complement sum is
 * byte-order independent (RFC 1071 §2(B)), so no byte swapping is needed as
 * long as every operand is treated the same way.
 */
#ifndef TAPREFLECT_CSUM_H
#define TAPREFLECT_CSUM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Add the 16-bit words of data[0..len) to a running 32-bit partial sum. */
uint32_t trf_csum_partial(const void *data, size_t len, uint32_t sum);

/* Fold a partial sum to 16 bits with end-around carry and complement it. */
uint16_t trf_csum_fold(uint32_t sum);

/*
 * RFC 1624 eqn. 3: the checksum after one 16-bit field changes from old_word
 * to new_word, HC' = ~(~HC + ~m + m').  Unlike RFC 1141's form it never
 * produces 0xFFFF where a full recomputation produces 0x0000.
 */
static inline uint16_t trf_csum_update16(uint16_t check, uint16_t old_word, uint16_t new_word)
{
	uint32_t sum = (uint16_t)~check;

	sum += (uint16_t)~old_word;
	sum += new_word;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

#ifdef __cplusplus
}
#endif

#endif /* TAPREFLECT_CSUM_H */
