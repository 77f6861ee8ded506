// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the iperf2 mode, which keeps state: an input is a
 * sequence of frames, each handled with the same per-queue state (fresh for
 * every input, so that a finding replays).  Record: one byte of clock step
 * (0..255 ms, 255 = a minute and more: flows go idle), two bytes of length
 * (big-endian), the frame.  Framing at build time: FUZZ_LINK.
 *
 * Invariants, beyond what ASan/UBSan catch (each frame is an exact-size heap
 * copy, so any overread is flagged):
 *  - the output is never longer, and a consumed or dropped frame is left
 *    exactly as it was;
 *  - a frame answered to an iperf2 port's final datagram (IPv4/IPv6 without
 *    extension headers) carries a report a client can read, when the datagram
 *    had room for one, and a UDP checksum that verifies (or none, on IPv4,
 *    when it came without one);
 *  - the flow table never follows more flows than it has places for.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tapreflect/csum.h"
#include "tapreflect/iperf2.h"
#include "tapreflect/reflect.h"

#define CHECK(cond)                       \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

static uint64_t now_us;

static uint64_t fuzz_clock(void *arg)
{
	(void)arg;
	return now_us;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The UDP datagram at l4 (l4len bytes) of the packet at ip verifies. */
static bool udp_ok(const uint8_t *ip, bool v6, const uint8_t *l4, uint32_t l4len)
{
	uint8_t tail[4] = { 0, 17, (uint8_t)(l4len >> 8), (uint8_t)l4len };
	uint32_t sum = v6 ? trf_csum_partial(ip + 8, 32, 0) : trf_csum_partial(ip + 12, 8, 0);

	sum = trf_csum_partial(tail, 4, sum);
	return trf_csum_fold(trf_csum_partial(l4, l4len, sum)) == 0;
}

/* Where an answer to a final datagram on port 5001 would be: UDP payload offset and length. */
static bool final_datagram(const uint8_t *f, uint32_t len, uint32_t *ip_off, bool *v6,
			   uint32_t *l4len)
{
	uint32_t l3 = FUZZ_LINK == TRF_LINK_TAP ? 14 : 0, total, hlen;
	const uint8_t *ip = f + l3;

	if (FUZZ_LINK == TRF_LINK_TAP && (len < 14 || be16(f + 12) != 0x0800) &&
	    (len < 14 || be16(f + 12) != 0x86dd))
		return false;
	if (len < l3 + 40)
		return false;
	if (ip[0] >> 4 == 4) {
		hlen = (uint32_t)(ip[0] & 15) * 4;
		total = be16(ip + 2);
		if (ip[9] != 17 || hlen < 20 || total < hlen + 8 || total > len - l3 ||
		    (be16(ip + 6) & 0x3fff))
			return false;
		*v6 = false;
	} else if (ip[0] >> 4 == 6) {
		hlen = 40;
		total = 40 + be16(ip + 4);
		if (ip[6] != 17 || total < hlen + 8 || total > len - l3)
			return false;
		*v6 = true;
	} else {
		return false;
	}
	*ip_off = l3;
	*l4len = total - hlen;
	return be16(ip + hlen + 2) == 5001 && *l4len >= 8 + TRF_IPERF2_HDR_LEN &&
	       (ip[hlen + 8 + 12] & 0x80); /* the high word of the sequence: negative */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct trf_iperf2_state *state;
	const struct trf_reflect_mode *mode = trf_reflect_mode_find("iperf2");
	struct trf_reflect_ctx ctx = { .link = FUZZ_LINK,
				       .mac = { 0x02, 0x74, 0x72, 0x66, 0x00, 0x01 },
				       .iperf2_port_lo = 5001,
				       .iperf2_port_hi = 5001 };

	if (!state)
		state = malloc(mode->state_size);
	memset(state, 0, mode->state_size);
	mode->state_init(state);
	trf_iperf2_set_clock(state, fuzz_clock, NULL);
	now_us = 1700000000ull * 1000000;
	ctx.state = state;

	while (size >= 3) {
		uint32_t len = be16(data + 1), out = 0, ip_off = 0, l4len = 0;
		uint8_t step = data[0];
		uint8_t *frame, *before;
		enum trf_drop v;
		bool v6 = false, is_final, in_ok = false, in_zero = false;

		data += 3;
		size -= 3;
		if (len > size)
			len = (uint32_t)size;
		now_us += step == 255 ? (uint64_t)(TRF_IPERF2_IDLE_S + 1) * 1000000 : step * 1000u;
		frame = malloc(len ? len : 1);
		before = malloc(len ? len : 1);
		memcpy(frame, data, len);
		memcpy(before, data, len);
		is_final = final_datagram(frame, len, &ip_off, &v6, &l4len);
		if (is_final) {
			const uint8_t *ip = frame + ip_off, *l4 = ip + (v6 ? 40 : (ip[0] & 15) * 4);

			in_zero = !v6 && l4[6] == 0 && l4[7] == 0;
			in_ok = udp_ok(ip, v6, l4, l4len);
		}
		v = trf_iperf2_frame(&ctx, frame, len, &out);
		if (v == TRF_DROP_NONE) {
			CHECK(out <= len);
			if (is_final && (in_ok || in_zero)) {
				const uint8_t *ip = frame + ip_off,
					      *l4 = ip + (v6 ? 40 : (ip[0] & 15) * 4);
				struct trf_iperf2_report r;

				/* Answered on port 5001's behalf: the report goes to the client. */
				if (be16(l4) == 5001) {
					if (l4len - 8 >= TRF_IPERF2_REPORT_V1_LEN)
						CHECK(trf_iperf2_report_decode(l4 + 8, l4len - 8,
									       &r) == 0);
					if (!(in_zero && l4[6] == 0 && l4[7] == 0))
						CHECK(udp_ok(ip, v6, l4, l4len));
				}
			}
		} else {
			CHECK(memcmp(frame, before, len) == 0);
		}
		CHECK(trf_iperf2_flows(state) <= TRF_IPERF2_FLOWS);
		free(frame);
		free(before);
		data += len;
		size -= len;
	}
	return 0;
}
