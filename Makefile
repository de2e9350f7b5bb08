# The two commands a newcomer runs (README.md): `make demo` and `make check`.
# Both install what is missing (scripts/setup, apt), configure and build, then run.
# The CLI ends up at build/kpsim.

PRESET ?= release
JOBS ?= 2

.PHONY: setup build demo check check-patched check-asan-determinism bench asan fuzz deb install clean

setup:
	@bash scripts/setup
	@bash scripts/guest/setup || echo "setup: qemu guest tools unavailable: the kernel-guest tests will be skipped"
	@bash scripts/setup-browser || echo "setup: chromium or puppeteer-core unavailable: the browser test will be skipped"


build: setup
	@test -f build/CMakeCache.txt || cmake --preset $(PRESET) >/dev/null
	@cmake --build build -j$(JOBS)

# The main job: find the seed-000 short read (UDP FIONREAD reports the first datagram only,
# recv does not wait for the redirected one), shrink it and draw it. kpsim exits 1 when it
# finds a violation, which is the expected result here.
demo: build
	@./build/kpsim explore sockmap-multi-channels --set proto=udp --seed 1 \
	  --trace-out build/demo.trace.jsonl; rc=$$?; \
	  if [ $$rc -eq 1 ]; then echo "demo: the flaky selftest's bad ordering was found (above)."; \
	  else echo "demo: expected a violation, kpsim exited $$rc"; exit 1; fi

check: build
	@cd build && ctest --output-on-failure -j$(JOBS)

# The model's fixes on real kernels (docs/patched-kernels.md): builds each patched guest kernel
# (scripts/guest/build-kernel, niced; about 5 min each with a warm ccache, much longer cold on 2
# shared cores; cached after) and runs the `kernel-patched` ctests, which cross-check the scripts
# on stock and patched 6.12 under qemu.
PATCHED_KERNELS ?= 6.12+task-sigpending 6.12+flush-in-worker 6.12+clear-more-on-full-record \
  6.12+flush-before-wait 6.12+flush-before-wait-naive
check-patched: build
	@for k in $(PATCHED_KERNELS); do bash scripts/guest/build-kernel $$k || exit 1; done
	@cd build && ctest --output-on-failure -L kernel-patched

# The release and the ASan/UBSan build of this commit must write the same bytes for the same
# searches (every scenario x {random, pct} x 10 seeds, and a dfs search each: tests/compare_builds.sh).
# make check skips that test (no second build); CI (.ci/run) runs this after make check.
check-asan-determinism: build
	@test -f build-asan/CMakeCache.txt || cmake --preset asan-ubsan >/dev/null
	@cmake --build build-asan -j$(JOBS) --target kpsim
	@cd build && ctest --output-on-failure -R determinism_release_vs_asan

# The Debian package of this build (CPack, cmake/install.cmake): build/kpsim_<version>_<arch>.deb,
# its runtime dependencies read off the binary by dpkg-shlibdeps. docs/ci.md installs it in CI.
deb: build
	@cd build && cpack -G DEB

# cmake --install into PREFIX (default /usr/local): kpsim, the scripts, docs, guest scripts and
# the CMake package (find_package(kpsim)).
PREFIX ?= /usr/local
install: build
	@cmake --install build --prefix $(PREFIX)

bench: build
	@./build/kpsim_bench

# The libFuzzer targets, each for FUZZ_SECONDS (ctest -L fuzz runs them for 20 s in make check).
FUZZ_SECONDS ?= 600
fuzz: build
	@sh fuzz/run-fuzz build/fuzz/trace_reader_fuzz $(FUZZ_SECONDS) tests/fuzz-regressions traces/findings tests/data
	@sh fuzz/run-fuzz build/fuzz/script_parser_fuzz $(FUZZ_SECONDS) tests/fuzz-regressions-script scenarios
	@./build/kpsim list > build/fuzz/param-specs.txt && KPSIM_FUZZ_PARAM_SPECS=$(CURDIR)/build/fuzz/param-specs.txt \
	  sh fuzz/run-fuzz build/fuzz/param_parser_fuzz $(FUZZ_SECONDS) tests/fuzz-regressions-params
	@sh fuzz/run-fuzz build/fuzz/guest_result_fuzz $(FUZZ_SECONDS) tests/fuzz-regressions-guest tests/fuzz-seeds-guest

asan: setup
	@test -f build-asan/CMakeCache.txt || cmake --preset asan-ubsan >/dev/null
	@cmake --build build-asan -j$(JOBS)
	@cd build-asan && ctest --output-on-failure -j$(JOBS)

clean:
	rm -rf build build-asan
