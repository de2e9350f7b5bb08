# `cmake --install build --prefix P` and `make deb` (CPack, DEB): kpsim for other projects' CI
# (docs/ci.md).
#
#   P/bin/kpsim
#   P/share/kpsim/scenarios/*.kps         the built-in scripts (also embedded in kpsim)
#   P/share/kpsim/guest/                  the qemu-guest scripts; runner-src/ the guest runner's
#                                         sources, which build-initramfs compiles (static) itself
#   P/share/doc/kpsim/*.md                README and docs/
#   P/include/kpsim/{sched,traces,model,scenarios,replay}/...   headers, as included in-tree
#   P/lib/libkpsim_*.a, P/lib/cmake/kpsim/   find_package(kpsim): the kpsim:: targets
#
# kpsim finds the guest scripts relative to itself (P/bin/../share/kpsim/guest) before the
# source tree it was built from (replay/guest_boot.cpp), so an installed kpsim needs no checkout.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(KPSIM_INSTALL_DATADIR ${CMAKE_INSTALL_DATADIR}/kpsim)
set(KPSIM_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/kpsim)
set(KPSIM_INSTALL_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR}/kpsim)

install(TARGETS kpsim RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} FILES_MATCHING PATTERN "*.md")
install(DIRECTORY scenarios/ DESTINATION ${KPSIM_INSTALL_DATADIR}/scenarios
        FILES_MATCHING PATTERN "*.kps" PATTERN "script" EXCLUDE)
install(PROGRAMS scripts/guest/boot scripts/guest/build-initramfs scripts/guest/fetch-kernel
                 scripts/guest/build-kernel scripts/guest/setup
        DESTINATION ${KPSIM_INSTALL_DATADIR}/guest)
# build-kernel's inputs: the fixes' patches with their table, and the guest config fragment.
install(DIRECTORY scripts/guest/patches scripts/guest/kernel-config DESTINATION ${KPSIM_INSTALL_DATADIR}/guest)
install(FILES scripts/guest/lib.sh DESTINATION ${KPSIM_INSTALL_DATADIR}/guest)
install(DIRECTORY replay/guest/ DESTINATION ${KPSIM_INSTALL_DATADIR}/guest/runner-src
        FILES_MATCHING PATTERN "*.cpp" PATTERN "*.h" PATTERN "parser-sources.txt")
# The script parser the runner is built with (replay/guest/parser-sources.txt), at its
# repository paths under runner-src/root (scripts/guest/lib.sh).
file(STRINGS ${PROJECT_SOURCE_DIR}/replay/guest/parser-sources.txt KPSIM_GUEST_SHARED REGEX "^[^#]")
foreach(f IN LISTS KPSIM_GUEST_SHARED)
  get_filename_component(d ${f} DIRECTORY)
  install(FILES ${f} DESTINATION ${KPSIM_INSTALL_DATADIR}/guest/runner-src/root/${d})
endforeach()

# The libraries a C++ scenario or model extension links. All of them export: the real-kernel
# runner (kpsim_replay) is there because kpsim_scenarios links it when KPSIM_REPLAY is on, and
# brings libbpf with it. kpsim_warnings is exported only because the static libraries name it
# (as $<LINK_ONLY:...>); a consumer does not get its flags. Not exported: the CLI's library
# (kpsim_cli_lib: the command line, no API) and the test, bench and fuzz targets.
set(KPSIM_EXPORTED kpsim_warnings kpsim_traces kpsim_sched kpsim_model kpsim_params
    kpsim_script_program kpsim_script kpsim_scenarios)
if(TARGET kpsim_replay)
  list(APPEND KPSIM_EXPORTED kpsim_replay)
endif()
install(TARGETS ${KPSIM_EXPORTED} EXPORT kpsimTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${KPSIM_INSTALL_INCLUDEDIR})
foreach(dir sched traces model scenarios)
  install(DIRECTORY ${dir}/ DESTINATION ${KPSIM_INSTALL_INCLUDEDIR}/${dir} FILES_MATCHING PATTERN "*.h")
endforeach()
if(TARGET kpsim_replay)
  install(FILES replay/guest_boot.h replay/script_runner.h DESTINATION ${KPSIM_INSTALL_INCLUDEDIR}/replay)
endif()
install(EXPORT kpsimTargets NAMESPACE kpsim:: DESTINATION ${KPSIM_INSTALL_CMAKEDIR})
if(TARGET kpsim_replay)
  set(KPSIM_CONFIG_WITH_REPLAY ON)
else()
  set(KPSIM_CONFIG_WITH_REPLAY OFF)
endif()
configure_package_config_file(cmake/kpsimConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/kpsimConfig.cmake
                              INSTALL_DESTINATION ${KPSIM_INSTALL_CMAKEDIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/kpsimConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/kpsimConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/kpsimConfigVersion.cmake
        DESTINATION ${KPSIM_INSTALL_CMAKEDIR})

# ---- CPack: `make deb` (or `cpack -G DEB` in build/) --------------------------------------
# Runtime dependencies: dpkg-shlibdeps reads them off the binary's NEEDED libraries (on bookworm
# libbpf1, libfmt9, libstdc++6, libgcc-s1, libc6; libelf1 and zlib1g come in through libbpf1's
# own Depends). What only some uses need is suggested: the qemu guest's
# tools (scripts/guest/setup) and the -dev packages find_package(kpsim) resolves.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME kpsim)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "kpsim")
set(CPACK_PACKAGE_CONTACT "kpsim developers <kpsim@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "deterministic simulator of Linux kernel socket paths")
set(CPACK_PACKAGE_DESCRIPTION
    "kpsim runs executable models of the sockmap psock queues, TCP, kTLS, splice and io_uring
task work under a deterministic interleaving scheduler, searches the orderings for ones that
break a property and prints them as replayable traces. `kpsim check` runs a folder of scenario
scripts as a CI test suite with JUnit and TAP reports.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The binary without its debug information (the release preset builds RelWithDebInfo): a CI
# tool, 66 MB otherwise. Static libraries are not stripped (CMake strips only executables and
# shared libraries), so find_package(kpsim) still links.
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS
    "qemu-system-x86, busybox-static, cpio, kmod, xz-utils, zstd, lz4, g++, libfmt-dev, nlohmann-json3-dev, libboost-dev, libbpf-dev")
include(CPack)
