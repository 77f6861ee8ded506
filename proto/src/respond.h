/* SPDX-License-Identifier: MIT */
/* The respond mode's engine, for modes that answer UDP their own way. */
#ifndef TRF_PROTO_RESPOND_H
#define TRF_PROTO_RESPOND_H

#include <stdbool.h>
#include <stdint.h>

#include "tapreflect/reflect.h"

/*
 * What a mode does with a UDP datagram instead of swapping its ports.  udp
 * points at the UDP header, l4len bytes of datagram follow it (at least the
 * header: respond checked that); ip at its IPv4 or IPv6 header (the version
 * nibble says which; the pseudo-header's addresses, and on IPv4 a checksum of
 * zero means "none"); superpacket says that a virtio-net header makes it
 * several datagrams (UDP segmentation).  Arguments, not a struct: they stay
 * in registers.  Like every reflect function it checks before its first
 * store, and leaves a dropped or consumed datagram untouched; respond swaps
 * the IP addresses (and the Ethernet ones on TAP) after it returns
 * TRF_DROP_NONE.
 */
typedef enum trf_drop (*trf_udp_fn)(const struct trf_reflect_ctx *ctx, uint8_t *ip, uint8_t *udp,
				    uint32_t l4len, bool superpacket);

/* trf_respond_frame() and trf_respond_vnet_frame() with UDP handed to udp. */
enum trf_drop trf_respond_frame_with(const struct trf_reflect_ctx *ctx, uint8_t *frame,
				     uint32_t len, uint32_t *out_len, trf_udp_fn udp);
enum trf_drop trf_respond_vnet_frame_with(const struct trf_reflect_ctx *ctx, uint8_t *buf,
					  uint32_t len, uint32_t *out_len, trf_udp_fn udp);

#endif /* TRF_PROTO_RESPOND_H */
