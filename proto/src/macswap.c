// SPDX-License-Identifier: MIT
/*
 * The `macswap` mode (TAP only): swap the Ethernet addresses of every frame
 * and touch nothing else, for L2 benchmarks that must see their own frames
 * come back byte for byte beyond the Ethernet header.
 */
#include "modes.h"
#include "parse.h"
#include "tapreflect/reflect.h"
#include "vnet.h"
#include "wire.h"

enum trf_drop trf_macswap_frame(const struct trf_reflect_ctx *ctx, uint8_t *frame, uint32_t len,
				uint32_t *out_len)
{
	if (len < TRF_ETH_HLEN)
		return TRF_DROP_RUNT;
	if (trf_mac_is_group(frame + TRF_ETH_ALEN) || trf_mac_is_zero(frame + TRF_ETH_ALEN))
		return TRF_DROP_SRC_NOT_UNICAST;
	trf_swap_ether(ctx, frame);
	*out_len = len;
	return TRF_DROP_NONE;
}

/*
 * Behind a virtio-net header: nothing the header refers to changes, so it
 * stays valid if it was; only what no frame can satisfy is refused.
 */
enum trf_drop trf_macswap_vnet_frame(const struct trf_reflect_ctx *ctx, uint8_t *buf, uint32_t len,
				     uint32_t *out_len)
{
	struct trf_vnet vn;
	enum trf_drop drop;

	if (len < TRF_VNET_HDR_LEN)
		return TRF_DROP_RUNT;
	trf_vnet_load(&vn, buf);
	drop = trf_vnet_check(&vn, len - TRF_VNET_HDR_LEN);
	if (drop != TRF_DROP_NONE)
		return drop;
	drop = trf_macswap_frame(ctx, buf + TRF_VNET_HDR_LEN, len - TRF_VNET_HDR_LEN, out_len);
	if (drop == TRF_DROP_NONE)
		*out_len += TRF_VNET_HDR_LEN;
	return drop;
}

static void macswap_burst(const struct trf_reflect_ctx *ctx, struct trf_frame *frames,
			  unsigned int count)
{
	if (ctx->vnet_hdr) {
		for (unsigned int i = 0; i < count; i++) {
			struct trf_frame *f = &frames[i];

			f->verdict =
			    (uint16_t)trf_macswap_vnet_frame(ctx, f->data, f->len, &f->len);
		}
		return;
	}
	for (unsigned int i = 0; i < count; i++) {
		struct trf_frame *f = &frames[i];

		f->verdict = (uint16_t)trf_macswap_frame(ctx, f->data, f->len, &f->len);
	}
}

const struct trf_reflect_mode trf_reflect_mode_macswap = {
	.name = "macswap",
	.help = "swap the Ethernet addresses of every frame, touch nothing else (L2 benchmarks)",
	.links = TRF_LINK_TAP,
	.burst = macswap_burst,
};
