#!/bin/sh
# compare_builds.sh KPSIM_A KPSIM_B SEEDS: the same searches run by two kpsim binaries of the
# same commit (CI: the release build and the ASan/UBSan build) must write the same bytes. Every
# scenario in `kpsim list` x {random, pct} x seeds 1..SEEDS (budget 20, --first), plus one dfs
# search per scenario: the JSON report (all but its wall-clock elapsed_ms) and the trace
# written by --trace-out are hashed per run and the hashes compared. A sanitizer build that
# changed a run (uninitialised memory, an order that depends on addresses) shows here.
#
# Exit 77 (ctest: skipped) when KPSIM_B does not exist: the ASan build is not part of
# `make check` (it doubles the build time); build it with `make asan`, or just its CLI with
#   cmake --preset asan-ubsan && cmake --build build-asan --target kpsim
# and run  ctest --test-dir build -R determinism_release_vs_asan  (or this script directly).
set -u
a=$1 b=$2 seeds=$3
if [ ! -x "$b" ]; then
  echo "SKIPPED: no second build at $b (build it: cmake --preset asan-ubsan && cmake --build build-asan --target kpsim)"
  exit 77
fi
[ -x "$a" ] || { echo "no kpsim at $a"; exit 1; }
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
scenarios=$("$a" list | grep -v '^ ' | cut -d' ' -f1)
[ -n "$scenarios" ] || { echo "kpsim list printed no scenario"; exit 1; }
# Builds of different commits may differ for good reasons: compare only builds of one commit.
version() { "$1" explore lost-update --budget 100 --first --quiet --trace-out "$d/v" >/dev/null 2>&1; head -1 "$d/v" | sed -n 's/.*"kpsim_version":"\([^"]*\)".*/\1/p'; rm -f "$d/v"; }
va=$(version "$a") vb=$(version "$b")
[ -n "$va" ] || { echo "no kpsim_version from $a"; exit 1; }
if [ "$va" != "$vb" ]; then
  echo "SKIPPED: $a is $va, $b is ${vb:-unknown}: rebuild both from one commit"
  exit 77
fi
[ "$("$b" list | grep -v '^ ' | cut -d' ' -f1)" = "$scenarios" ] || { echo "the two builds list other scenarios"; exit 1; }
# hash_run BIN ARGS...: one line, the hash of the report and of the trace (or "-": none written)
hash_run() {
  bin=$1
  shift
  rm -f "$d/t"
  "$bin" explore "$@" --json --quiet --trace-out "$d/t" > "$d/j" 2>"$d/err"
  rc=$?
  case $rc in 0|1|3) ;; *) echo "FAILED: $bin explore $* exited $rc:" >&2; cat "$d/err" >&2; return 1 ;; esac
  r=$(grep -v '"elapsed_ms"' "$d/j" | sha256sum | cut -c1-16)
  if [ -f "$d/t" ]; then t=$(sha256sum < "$d/t" | cut -c1-16); else t=-; fi
  echo "exit $rc report $r trace $t"
}
runs=0 traces=0 fail=0
compare() {  # compare ARGS...: the same explore with both binaries
  ha=$(hash_run "$a" "$@") || { fail=1; return; }
  hb=$(hash_run "$b" "$@") || { fail=1; return; }
  runs=$((runs + 1))
  case $ha in *"trace -") ;; *) traces=$((traces + 1)) ;; esac
  if [ "$ha" != "$hb" ]; then echo "DIFFER: explore $*: $ha vs $hb"; fail=1; fi
}
for sc in $scenarios; do
  for strategy in random pct; do
    s=1
    while [ $s -le "$seeds" ]; do
      compare "$sc" --strategy $strategy --seed $s --budget 20 --first
      s=$((s + 1))
    done
  done
  compare "$sc" --strategy dfs --budget 50 --first
done
echo "$runs searches run by both builds: $traces violation traces and all reports compared by hash; $( [ $fail -eq 0 ] && echo identical || echo 'SOME DIFFER')"
exit $fail
