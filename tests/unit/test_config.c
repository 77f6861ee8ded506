// SPDX-License-Identifier: MIT
/* Command-line value parsers and config validation. */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tapreflect/tapreflect.h"

static void test_cpulist(void **state)
{
	int cpus[TRF_MAX_QUEUES];
	struct trf_err err;

	(void)state;
	assert_int_equal(trf_parse_cpulist("0-3,6,8-9", cpus, TRF_MAX_QUEUES, &err), 7);
	assert_int_equal(cpus[0], 0);
	assert_int_equal(cpus[3], 3);
	assert_int_equal(cpus[4], 6);
	assert_int_equal(cpus[6], 9);
	assert_int_equal(trf_parse_cpulist("5", cpus, TRF_MAX_QUEUES, &err), 1);
	assert_int_equal(cpus[0], 5);
	assert_int_equal(trf_parse_cpulist("1,0", cpus, TRF_MAX_QUEUES, &err), 2);
	assert_int_equal(cpus[0], 1);
	static const char *const bad[] = { "", "a", "1-", "3-1", "1,,2", "1;2", "-1", "0-99999" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err.msg[0] = 0;
		assert_int_equal(trf_parse_cpulist(bad[i], cpus, TRF_MAX_QUEUES, &err), -EINVAL);
		assert_true(strlen(err.msg) > 0);
	}
	assert_int_equal(trf_parse_cpulist("0-7", cpus, 4, &err), -EINVAL);
}

static void test_addr(void **state)
{
	struct trf_addr a;
	struct trf_err err;
	char text[INET6_ADDRSTRLEN];

	(void)state;
	assert_int_equal(trf_parse_addr("198.18.0.1/24", &a, &err), 0);
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(a.prefix, 24);
	inet_ntop(AF_INET, &a.u.v4, text, sizeof(text));
	assert_string_equal(text, "198.18.0.1");
	assert_int_equal(trf_parse_addr("198.18.0.1/32", &a, &err), 0);
	assert_int_equal(a.prefix, 32);
	/* No prefix length: refused with the fix, not taken for /32. */
	assert_int_equal(trf_parse_addr("198.18.0.1", &a, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "198.18.0.1/24"));
	assert_int_equal(trf_parse_addr("2001:db8::1", &a, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "2001:db8::1/64"));
	assert_int_equal(trf_parse_addr("2001:db8::1/64", &a, &err), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(a.prefix, 64);
	static const char *const bad[] = { "198.18.0.1/33",
					   "2001:db8::1/129",
					   "198.18.0/24",
					   "x/1",
					   "198.18.0.1/",
					   "198.18.0.1/2a",
					   "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(trf_parse_addr(bad[i], &a, &err), -EINVAL);
}

static void test_mac(void **state)
{
	uint8_t mac[6];
	struct trf_err err;

	(void)state;
	assert_int_equal(trf_parse_mac("02:aa:bb:cc:dd:0e", mac, &err), 0);
	assert_int_equal(mac[1], 0xaa);
	assert_int_equal(mac[5], 0x0e);
	assert_int_equal(trf_parse_mac("01:00:5e:00:00:01", mac, &err), -EINVAL); /* multicast */
	assert_int_equal(trf_parse_mac("02:aa:bb:cc:dd", mac, &err), -EINVAL);
	assert_int_equal(trf_parse_mac("02:aa:bb:cc:dd:0e:ff", mac, &err), -EINVAL);
	assert_int_equal(trf_parse_mac("2:aa:bb:cc:dd:e", mac, &err), -EINVAL);
}

static void test_validate(void **state)
{
	struct trf_config cfg;
	struct trf_err err;

	(void)state;
	trf_config_init(&cfg);
	assert_int_equal(trf_config_default_cpus(&cfg, &err), 0);
	assert_true(cfg.queues >= 1);
	assert_int_equal(trf_config_validate(&cfg, &err), 0);
	assert_string_equal(cfg.dev, "trf0");
	assert_int_equal(cfg.frame_size >= 9216 + 14, 1);

	cfg.buffers = 100; /* not a power of two */
	assert_int_equal(trf_config_validate(&cfg, &err), -EINVAL);
	cfg.buffers = 256;
	cfg.cpus[0] = CPU_SETSIZE - 1; /* not in this process's affinity */
	assert_int_equal(trf_config_validate(&cfg, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "CPU"));
	trf_config_default_cpus(&cfg, &err);
	cfg.fixed_reads = 0;
	assert_int_equal(trf_config_validate(&cfg, &err), -EINVAL);
	cfg.fixed_reads = 2;
	cfg.buffers = 32768;
	cfg.frame_size = 65536;
	assert_int_equal(trf_config_validate(&cfg, &err), -EINVAL); /* 2 GiB per queue */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpulist),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_mac),
		cmocka_unit_test(test_validate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
