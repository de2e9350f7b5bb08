#!/bin/sh
# install_check.sh install|deb BUILD_DIR PYTHON CHECK_JUNIT_PY
#
# kpsim as another project's CI gets it (docs/ci.md), with no source tree behind it:
#   install: `cmake --install BUILD_DIR` into a fresh prefix;
#   deb:     the .deb CPack builds (`make deb`), its declared dependencies read with
#            `dpkg-deb -I`, unpacked with `dpkg-deb -x` (no root, nothing installed system-wide).
# Then the installed layout (binary, scripts, docs, guest scripts and runner sources, CMake
# package), and `kpsim check` from there on a folder of two scripts made from the installed
# seed script: one passes (TCP), one finds the short read (UDP). The JUnit report must pass the
# strict reader (tests=2 failures=1, the failure's trace and reproducing command), the TAP stream
# must say ok / not ok, the exit status must be 1, and the reproducing command, run with the
# installed kpsim first on PATH, must exit 1 again.
set -u
mode=$1 build=$2 python=$3 checker=$4
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
fail() { echo "install_check ($mode): $*"; exit 1; }

case "$mode" in
  install)
    cmake --install "$build" --prefix "$d/prefix" >"$d/install.log" 2>&1 || { cat "$d/install.log"; fail "cmake --install failed"; }
    root="$d/prefix"
    ;;
  deb)
    for t in cpack dpkg-deb dpkg-shlibdeps; do
      command -v $t >/dev/null 2>&1 || { echo "install_check: SKIP: $t is not installed"; exit 77; }
    done
    # -B: the package goes to the temporary directory, not into the build tree.
    (cd "$build" && cpack -G DEB -B "$d/pkg") >"$d/cpack.log" 2>&1 || { cat "$d/cpack.log"; fail "cpack -G DEB failed"; }
    deb=$(ls "$d"/pkg/kpsim_*.deb 2>/dev/null | head -1)
    [ -n "$deb" ] || { cat "$d/cpack.log"; fail "cpack wrote no kpsim_*.deb"; }
    dpkg-deb -I "$deb" >"$d/info" || fail "dpkg-deb -I $deb failed"
    cat "$d/info"
    depends=$(sed -n 's/^ Depends: //p' "$d/info")
    # Every library the binary names (NEEDED), by the package that holds it, must be declared;
    # what those libraries need in turn (libelf1, zlib1g under libbpf1) their packages declare.
    for lib in $(readelf -d "$build/kpsim" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
      path=$(ldd "$build/kpsim" | awk -v l="$lib" '$1 == l { print $3 }')
      pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -1 | cut -d: -f1)
      [ -n "$pkg" ] || pkg=$(dpkg -S "$path" 2>/dev/null | head -1 | cut -d: -f1)
      [ -n "$pkg" ] || fail "no package holds $lib ($path)"
      echo "$depends" | grep -q "\(^\|, \)$pkg\( \|,\|\$\)" || fail "Depends ($depends) lacks $pkg ($lib)"
      echo "needs $lib: $pkg, declared"
    done
    dpkg-deb -x "$deb" "$d/root" || fail "dpkg-deb -x failed"
    root="$d/root/usr"
    ;;
  *) fail "mode must be install or deb" ;;
esac

kpsim="$root/bin/kpsim"
for f in bin/kpsim share/kpsim/scenarios/sockmap-multi-channels.kps share/kpsim/guest/boot \
         share/kpsim/guest/lib.sh share/kpsim/guest/runner-src/main.cpp share/doc/kpsim/ci.md \
         share/kpsim/guest/build-kernel share/kpsim/guest/patches/fixes.tsv \
         share/kpsim/guest/kernel-config/guest.config \
         share/doc/kpsim/scripts.md share/doc/kpsim/README.md include/kpsim/sched/sched.h \
         include/kpsim/scenarios/script/script.h lib/cmake/kpsim/kpsimConfig.cmake \
         lib/cmake/kpsim/kpsimTargets.cmake; do
  [ -e "$root/$f" ] || fail "$f is not installed"
done
[ -x "$root/share/kpsim/guest/boot" ] || fail "share/kpsim/guest/boot is not executable"
# The guest scripts and kpsim itself find the installed guest files, not a source tree.
src=$(bash -c ". '$root/share/kpsim/guest/lib.sh' && echo \"\$KPSIM_RUNNER_SRC\"")
[ "$src" = "$root/share/kpsim/guest/runner-src" ] || fail "lib.sh takes the runner sources from $src"
if "$kpsim" kernel --help >"$d/kernel-help" 2>&1; then
  grep -q "qemu guest scripts: $root/share/kpsim/guest\$" "$d/kernel-help" ||
    { cat "$d/kernel-help"; fail "the installed kpsim does not use $root/share/kpsim/guest"; }
fi

# The suite: two copies of the installed seed script with their own check lines.
mkdir -p "$d/work/suite" && cd "$d/work" || fail "cannot make $d/work"
seed="$root/share/kpsim/scenarios/sockmap-multi-channels.kps"
sed -e '/^check /d' -e 's/^scenario sockmap-multi-channels /scenario ci-pass /' "$seed" >suite/a-pass.kps
printf 'check strategy dfs\ncheck set proto=tcp\n' >>suite/a-pass.kps
sed -e '/^check /d' -e 's/^scenario sockmap-multi-channels /scenario ci-fail /' "$seed" >suite/b-fail.kps
printf 'check strategy dfs\ncheck set proto=udp\n' >>suite/b-fail.kps
cmp -s "$seed" suite/a-pass.kps && fail "the suite's scripts were not edited"

"$kpsim" check suite -j2 --junit out/junit.xml --tap --artifacts out/traces >tap.txt 2>err.txt
rc=$?
cat err.txt
cat tap.txt
[ $rc -eq 1 ] || fail "kpsim check exited $rc, expected 1 (one violation)"
"$python" "$checker" out/junit.xml --tests 2 --failures 1 --errors 0 --skipped 0 || fail "bad JUnit report"
grep -q 'classname="b-fail" name="proto=udp"' out/junit.xml || fail "the failing case is not b-fail proto=udp"
[ "$(sed -n 1,2p tap.txt | tr '\n' '|')" = "TAP version 13|1..2|" ] || fail "TAP header"
grep -qx 'ok 1 - a-pass proto=tcp' tap.txt || fail "TAP: no 'ok 1 - a-pass proto=tcp'"
grep -qx 'not ok 2 - b-fail proto=udp' tap.txt || fail "TAP: no 'not ok 2 - b-fail proto=udp'"
grep -qx '  verdict: violation' tap.txt || fail "TAP: the failure's YAML block lacks its verdict"
[ "$(grep -c '^\(not \)\{0,1\}ok ' tap.txt)" -eq 2 ] || fail "TAP: not exactly 2 test lines"

repro=$("$python" "$checker" out/junit.xml --tests 2 --failures 1 --errors 0 --skipped 0 --print-reproduce)
echo "reproduce: $repro"
case "$repro" in "kpsim explore suite/b-fail.kps --set proto=udp --strategy dfs "*) ;; *) fail "unexpected command: $repro" ;; esac
PATH="$root/bin:$PATH" sh -c "$repro --quiet" >repro.out 2>&1
rc=$?
[ $rc -eq 1 ] || { cat repro.out; fail "the reproducing command exited $rc, expected 1"; }
echo "install_check ($mode): ok"
