#!/usr/bin/env bash
# Install everything tapreflect needs to build, test and benchmark, from
# Debian 12 packages only.  Run as root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends \
	build-essential cmake ninja-build pkg-config \
	liburing-dev libnuma-dev libmnl-dev libcap-ng-dev libcmocka-dev libbenchmark-dev valgrind gnuplot-nox \
	iproute2 iputils-ping arping ndisc6 sockperf iperf python3 util-linux jq clang-format clang libclang-rt-14-dev
