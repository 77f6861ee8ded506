# SPDX-License-Identifier: MIT
# What `cmake --install` puts under the prefix (GNUInstallDirs; DESTDIR works,
# nothing goes outside the prefix), and the Debian package (cpack -G DEB).
# The tools and their man pages are installed by tools/CMakeLists.txt.

set(TRF_SYSTEMD_UNITDIR "lib/systemd/system" CACHE STRING
  "Where the systemd unit goes, relative to the prefix (lib/systemd/system: /usr/lib/systemd/system)")
set(TRF_BASH_COMPLETIONDIR "${CMAKE_INSTALL_DATADIR}/bash-completion/completions" CACHE STRING
  "Where the bash completions go, relative to the prefix")

# The benchmark program: the launcher in bin/, its package under
# share/tapreflect/python (found there by the launcher; the tools are beside it).
install(PROGRAMS bench/tapreflect-bench DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY bench/tapreflect_bench DESTINATION ${CMAKE_INSTALL_DATADIR}/tapreflect/python
  FILES_MATCHING PATTERN "*.py" PATTERN "*.j2" PATTERN "__pycache__" EXCLUDE)

# The bash completions, made at build time from each program's option table
# or parser (tools/CMakeLists.txt), one file per command.
foreach(cmd tapreflect tapgen tapreflect-bench)
  install(FILES ${PROJECT_BINARY_DIR}/completion/${cmd} DESTINATION ${TRF_BASH_COMPLETIONDIR})
endforeach()
install(FILES "packaging/systemd/tapreflect@.service" DESTINATION ${TRF_SYSTEMD_UNITDIR})

install(FILES LICENSE README.md docs/architecture.md docs/benchmarking.md docs/ci.md docs/cli.md
  docs/protocols.md docs/metrics.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES packaging/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY docs/schemas/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/schemas FILES_MATCHING PATTERN "*.json")
install(FILES packaging/trf0.conf.example DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
# A fleet's scrape configuration, recording rules and alerts (docs/metrics.md).
install(DIRECTORY docs/prometheus/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples/prometheus)
add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/changelog.Debian.gz
  COMMAND gzip -9nc ${PROJECT_SOURCE_DIR}/packaging/changelog > ${PROJECT_BINARY_DIR}/changelog.Debian.gz
  DEPENDS ${PROJECT_SOURCE_DIR}/packaging/changelog)
add_custom_target(changelog ALL DEPENDS ${PROJECT_BINARY_DIR}/changelog.Debian.gz)
install(FILES ${PROJECT_BINARY_DIR}/changelog.Debian.gz DESTINATION ${CMAKE_INSTALL_DOCDIR})

# cpack -G DEB: Depends from the binaries' shared libraries (dpkg-shlibdeps:
# libbpf1 among them; the steering program is inside tapreflect, no file of
# its own), plus what the scripts run.
set(CPACK_PACKAGE_NAME tapreflect)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "The tapreflect authors <tapreflect-maintainers@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "packet reflector for TAP/TUN devices, the far end of a benchmark")
set(CPACK_PACKAGE_DESCRIPTION "tapreflect reads every frame sent into a multi-queue TAP or TUN
device and writes it back: ARP and NDP answered, ICMP echo turned into
replies, UDP and TCP 5-tuples swapped, on one io_uring per CPU with
registered buffers.  With tapgen (a load generator with NDR/PDR search) and
tapreflect-bench (benchmarks, a results history, verdicts with confidence
intervals) it measures throughput, latency and CPU per frame of a kernel, a
VPN or a virtual switch.")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1) # 0.1.0-1: packaged outside the source, as changelog.Debian says
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "python3, python3-numpy, python3-scipy, python3-matplotlib, python3-jinja2, python3-rich, iproute2, iputils-ping")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "python3-psycopg")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "iperf, sockperf")
set(CPACK_STRIP_FILES ON)
set(CPACK_GENERATOR DEB)
include(CPack)
