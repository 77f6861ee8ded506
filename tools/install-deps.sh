#!/usr/bin/env bash
# Install what tapreflect needs, from Debian 12 packages only.  Run as root.
#
#   tools/install-deps.sh [PURPOSE...]     (default: all)
#
#   build     compile tapreflect, tapgen and the man pages
#   bench     build, and run the benchmarks (bench/e2e, bench/micro)
#   test      build, and run the whole test suite (unit, network, fuzz, the
#             HTML report in headless Chromium, schema and man page checks)
#   package   build, and make and check the Debian package (cpack, lintian)
#   all       every one of these
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

build=(build-essential cmake ninja-build pkg-config python3 liburing-dev libnuma-dev libmnl-dev libcap-ng-dev)
bench=(libbenchmark-dev valgrind iproute2 iputils-ping jq util-linux gnuplot-nox)
test=(libcmocka-dev valgrind iproute2 iputils-ping arping ndisc6 sockperf iperf jq util-linux
	clang libclang-rt-14-dev clang-format python3-jsonschema man-db chromium gnuplot-nox libbenchmark-dev)
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
