#!/bin/sh
# find_package_check.sh BUILD_DIR CONSUMER_SOURCE_DIR
# `cmake --install` into a fresh prefix, then configure, build and run the consumer project
# (tests/find_package/) against it with CMAKE_PREFIX_PATH: the exported kpsim:: targets, their
# include directories and their dependencies (fmt, nlohmann_json, Boost, libbpf) must resolve
# from the prefix and the system alone.
set -u
build=$1 consumer=$2
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
fail() { echo "find_package_check: $*"; exit 1; }
cmake --install "$build" --prefix "$d/prefix" >"$d/install.log" 2>&1 || { cat "$d/install.log"; fail "cmake --install failed"; }
cmake -S "$consumer" -B "$d/b" -DCMAKE_PREFIX_PATH="$d/prefix" -DCMAKE_BUILD_TYPE=Release >"$d/configure.log" 2>&1 ||
  { cat "$d/configure.log"; fail "configuring against the install prefix failed"; }
cmake --build "$d/b" >"$d/build.log" 2>&1 || { cat "$d/build.log"; fail "building against the install prefix failed"; }
# Nothing of the source tree may leak in: the consumer's include path is the prefix's.
grep -rq "$(cd "$consumer/../.." && pwd)" "$d/b/CMakeFiles/kpsim_consumer.dir/flags.make" &&
  fail "the consumer compiles against the source tree, not the install prefix"
"$d/b/kpsim_consumer" || fail "the consumer exited $?"
echo "find_package_check: ok"
