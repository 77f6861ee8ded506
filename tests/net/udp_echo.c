// SPDX-License-Identifier: MIT
/*
 * udp_echo: send datagrams of many sizes to many ports of a reflector and
 * check that each comes back byte for byte.  Sizes above the MTU travel as
 * IP fragments, which exercises fragment reflection.  Lock-step (one
 * datagram in flight per port), so nothing is lost to queue overflow; a
 * missing reply is retried twice before it counts as a failure.
 *
 * usage: udp_echo DST FIRST_PORT NPORTS SIZE...
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_PORTS 1024
#define MAX_SIZE 65507
#define TRIES 3
#define REPLY_TIMEOUT_MS 2000

static void fill(uint8_t *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

int main(int argc, char **argv)
{
	static uint8_t out[MAX_SIZE], in[MAX_SIZE + 1];
	struct sockaddr_in dst = { .sin_family = AF_INET };
	int fds[MAX_PORTS];
	unsigned long first, nports, datagrams = 0, bytes = 0, retries = 0;

	if (argc < 5 || inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1) {
		fprintf(stderr, "usage: udp_echo DST FIRST_PORT NPORTS SIZE...\n");
		return 2;
	}
	first = strtoul(argv[2], NULL, 10);
	nports = strtoul(argv[3], NULL, 10);
	if (!first || !nports || nports > MAX_PORTS || first + nports > 65536) {
		fprintf(stderr, "udp_echo: bad port range\n");
		return 2;
	}
	for (unsigned long i = 0; i < nports; i++) {
		dst.sin_port = htons((uint16_t)(first + i));
		fds[i] = socket(AF_INET, SOCK_DGRAM, 0);
		if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&dst, sizeof(dst)) < 0) {
			perror("udp_echo: socket/connect");
			return 1;
		}
	}
	for (int a = 4; a < argc; a++) {
		unsigned long size = strtoul(argv[a], NULL, 10);

		if (size > MAX_SIZE) {
			fprintf(stderr, "udp_echo: size %lu too large\n", size);
			return 2;
		}
		for (unsigned long i = 0; i < nports; i++) {
			int tries;

			fill(out, size, (unsigned int)(size * 65599u + first + i));
			for (tries = 0; tries < TRIES; tries++) {
				struct pollfd pfd = { .fd = fds[i], .events = POLLIN };
				ssize_t n;

				if (send(fds[i], out, size, 0) != (ssize_t)size) {
					perror("udp_echo: send");
					return 1;
				}
				if (poll(&pfd, 1, REPLY_TIMEOUT_MS) <= 0) {
					retries++;
					continue;
				}
				n = recv(fds[i], in, sizeof(in), 0);
				if (n < 0) {
					perror("udp_echo: recv");
					return 1;
				}
				if ((unsigned long)n != size || memcmp(in, out, size) != 0) {
					size_t at = 0;

					while (at < size && at < (size_t)n && in[at] == out[at])
						at++;
					fprintf(stderr,
						"udp_echo: port %lu size %lu: reply of %zd B "
						"differs at "
						"byte %zu\n",
						first + i, size, n, at);
					return 1;
				}
				break;
			}
			if (tries == TRIES) {
				fprintf(stderr,
					"udp_echo: port %lu size %lu: no reply after %d tries\n",
					first + i, size, TRIES);
				return 1;
			}
			datagrams++;
			bytes += size;
		}
	}
	printf("udp_echo: %lu datagrams (%lu B) over %lu ports came back byte-exact, %lu retries\n",
	       datagrams, bytes, nports, retries);
	return 0;
}
