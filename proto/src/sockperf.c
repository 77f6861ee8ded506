// SPDX-License-Identifier: MIT
/*
 * The `sockperf` mode: respond, with UDP answered as a sockperf server would,
 * so that an unmodified `sockperf ping-pong` or `under-load` client measures
 * latency against the reflector.
 *
 * A sockperf message starts with a 14-byte header (sequence number, flags,
 * length, big-endian).  A server answers only a client's request for a reply
 * that is not a warm-up message, and clears the client flag in its answer.
 */
#include "modes.h"
#include "parse.h"
#include "respond.h"
#include "tapreflect/reflect.h"
#include "wire.h"

static enum trf_drop sockperf_udp(const struct trf_reflect_ctx *ctx, uint8_t *ip, uint8_t *udp,
				  uint32_t l4len, bool superpacket)
{
	uint8_t *msg = udp + TRF_UDP_HLEN;
	uint16_t flags, check;

	if (l4len < TRF_UDP_HLEN + TRF_SOCKPERF_HLEN)
		return TRF_DROP_SOCKPERF_IGNORED;
	flags = trf_load_be16(msg + 8);
	if (!(flags & TRF_SOCKPERF_CLIENT) || !(flags & TRF_SOCKPERF_PONG_REQUEST) ||
	    (flags & TRF_SOCKPERF_WARMUP))
		return TRF_DROP_SOCKPERF_IGNORED;

	memcpy(&check, udp + 6, 2);
	(void)ctx;
	(void)superpacket;
	/* On IPv4 a checksum of zero means none, and stays so. */
	if (check == 0 && (ip[0] >> 4) == 4) {
		trf_store_be16(msg + 8, (uint16_t)(flags & ~TRF_SOCKPERF_CLIENT));
	} else {
		trf_set_word(msg + 8, udp + 6, (uint16_t)(flags & ~TRF_SOCKPERF_CLIENT));
	}
	trf_swap_bytes(udp, udp + 2, 2);
	return TRF_DROP_NONE;
}

enum trf_drop trf_sockperf_frame(const struct trf_reflect_ctx *ctx, uint8_t *frame, uint32_t len,
				 uint32_t *out_len)
{
	return trf_respond_frame_with(ctx, frame, len, out_len, sockperf_udp);
}

enum trf_drop trf_sockperf_vnet_frame(const struct trf_reflect_ctx *ctx, uint8_t *buf, uint32_t len,
				      uint32_t *out_len)
{
	return trf_respond_vnet_frame_with(ctx, buf, len, out_len, sockperf_udp);
}

static void sockperf_burst(const struct trf_reflect_ctx *ctx, struct trf_frame *frames,
			   unsigned int count)
{
	if (ctx->vnet_hdr) {
		for (unsigned int i = 0; i < count; i++) {
			struct trf_frame *f = &frames[i];

			f->verdict =
			    (uint16_t)trf_sockperf_vnet_frame(ctx, f->data, f->len, &f->len);
		}
		return;
	}
	for (unsigned int i = 0; i < count; i++) {
		struct trf_frame *f = &frames[i];

		f->verdict = (uint16_t)trf_sockperf_frame(ctx, f->data, f->len, &f->len);
	}
}

const struct trf_reflect_mode trf_reflect_mode_sockperf = {
	.name = "sockperf",
	.help = "respond, and answer UDP as a sockperf server (ping-pong, under-load)",
	.links = TRF_LINK_TAP | TRF_LINK_TUN,
	.burst = sockperf_burst,
};
