#!/bin/sh
# determinism_seeds.sh KPSIM SEEDS: for sockmap-multi-channels (udp, where seed 000's violation
# lives) and lost-update, seeds 1..SEEDS x {random, pct}: run the same
# explore twice and require identical bytes -- the JSON report (all but its wall-clock
# elapsed_ms) and the trace written by --trace-out (when a violation was found).
set -u
kpsim=$1 seeds=$2
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
runs=0 traces=0
for sc in "sockmap-multi-channels --set proto=udp" "lost-update"; do
  for strategy in random pct; do
    s=1
    while [ $s -le "$seeds" ]; do
      for n in 1 2; do
        rm -f "$d/t" "$d/t$n"
        # shellcheck disable=SC2086
        "$kpsim" explore $sc --strategy $strategy --seed $s --budget 20 --first --json --quiet \
          --trace-out "$d/t" | grep -v '"elapsed_ms"' > "$d/j$n"
        if [ -f "$d/t" ]; then mv "$d/t" "$d/t$n"; fi
      done
      runs=$((runs + 1))
      if ! cmp -s "$d/j1" "$d/j2"; then echo "DIFFER: $sc $strategy seed $s (report)"; diff "$d/j1" "$d/j2" | head; exit 1; fi
      if [ -f "$d/t1" ] || [ -f "$d/t2" ]; then
        if ! cmp "$d/t1" "$d/t2"; then echo "DIFFER: $sc $strategy seed $s (trace)"; exit 1; fi
        traces=$((traces + 1))
      fi
      s=$((s + 1))
    done
  done
done
echo "$runs explore pairs identical ($traces with a violation trace compared byte for byte)"
