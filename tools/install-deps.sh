#!/usr/bin/env bash
# Install what tapreflect needs, from Debian 12 packages only.  Run as root.
#
#   tools/install-deps.sh [PURPOSE...]     (default: all)
#
#   build     compile tapreflect, tapgen and the man pages
#   bench     build, and run the benchmarks (bench/tapreflect-bench, bench/micro)
#   test      build, and run the whole test suite (unit, network, fuzz, the
#             benchmark program's pytest suite with a real PostgreSQL server,
#             the HTML report in headless Chromium, schema and man page checks)
#   package   build, and make and check the Debian package (cpack, lintian)
#   all       every one of these
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

build=(build-essential cmake ninja-build pkg-config python3 liburing-dev libnuma-dev libmnl-dev libcap-ng-dev
	libjansson-dev)
# The benchmark program (bench/tapreflect_bench): Debian's python3 packages only; the build
# needs them too, for its man page (made from its own argument parser).
python=(python3-numpy python3-scipy python3-matplotlib python3-jinja2 python3-psycopg python3-rich)
build+=("${python[@]}")
# The eBPF steering program (engine/bpf): clang compiles it for the BPF target (the C
# compiler may be gcc), bpftool makes its skeleton, libbpf loads it.
build+=(clang bpftool libbpf-dev)
# --metrics (the HTTP endpoint) and --capture-drops (pcap files).
build+=(libmicrohttpd-dev libpcap-dev)
bench=(libbenchmark-dev valgrind iproute2 iputils-ping jq util-linux sockperf)
test=(libcmocka-dev valgrind iproute2 iputils-ping arping ndisc6 sockperf iperf jq util-linux
	clang libclang-rt-14-dev clang-format python3-jsonschema man-db chromium libbenchmark-dev
	python3-pytest postgresql prometheus curl tcpdump)
package=(dpkg-dev file lintian systemd)

want=()
[[ $# -gt 0 ]] || set -- all
for p in "$@"; do
	case $p in
	build) want+=("${build[@]}") ;;
	bench) want+=("${build[@]}" "${bench[@]}") ;;
	test) want+=("${build[@]}" "${test[@]}") ;;
	package) want+=("${build[@]}" "${package[@]}") ;;
	all) want+=("${build[@]}" "${bench[@]}" "${test[@]}" "${package[@]}") ;;
	-h | --help) sed -n '2,12s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "install-deps.sh: unknown purpose '$p' (build, bench, test, package, all)" >&2; exit 2 ;;
	esac
done
mapfile -t want < <(printf '%s\n' "${want[@]}" | sort -u)
echo "install-deps.sh: $* -> ${want[*]}"
apt-get update -q
apt-get install -y -q --no-install-recommends "${want[@]}"
