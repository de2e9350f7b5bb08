#!/bin/sh
# determinism_all_scenarios.sh KPSIM BUDGET EVERY: every scenario in `kpsim list` x {random, pct,
# dfs}: explore --check-determinism=EVERY for BUDGET schedules. Any verdict but
# "nondeterministic" (exit 6) or a failure (2, 70, a crash) passes: 0 clean, 1 violation, 3
# inconclusive. Every run must have re-run some schedule.
set -u
kpsim=$1 budget=$2 every=$3
scenarios=$("$kpsim" list | grep -v '^ ' | cut -d' ' -f1)
[ -n "$scenarios" ] || { echo "kpsim list printed no scenario"; exit 1; }
n=0 checks=0
for sc in $scenarios; do
  for strategy in random pct dfs; do
    out=$("$kpsim" explore "$sc" --strategy $strategy --budget "$budget" --check-determinism="$every" --quiet --json)
    rc=$?
    c=$(printf '%s\n' "$out" | sed -n 's/^ *"determinism_checks": \([0-9]*\),*$/\1/p')
    echo "$sc $strategy: exit $rc, ${c:-no} schedules re-run"
    case $rc in 0|1|3) ;; *) printf '%s\n' "$out"; echo "FAILED: $sc $strategy exited $rc"; exit 1 ;; esac
    [ -n "$c" ] && [ "$c" -gt 0 ] || { printf '%s\n' "$out"; echo "FAILED: $sc $strategy checked nothing"; exit 1; }
    n=$((n + 1)) checks=$((checks + c))
  done
done
echo "$n searches, $checks schedules re-run twice, all traces identical"
