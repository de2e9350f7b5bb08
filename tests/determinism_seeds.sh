#!/bin/sh
# determinism_seeds.sh KPSIM SEEDS: for sockmap-multi-channels (udp, where seed 000's violation
# lives) and lost-update, seeds 1..SEEDS x {random, pct}: run the same explore twice (two
# processes) and require identical bytes -- the JSON report (all but its wall-clock
# elapsed_ms) and the trace written by --trace-out (when a violation was found). The two
# scenarios run side by side (two cores).
set -u
kpsim=$1 seeds=$2
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
one() {  # one SCENARIO-ARGS DIR: every seed and strategy; prints a summary, exits 1 on a difference
  sc=$1 w=$2 runs=0 traces=0
  mkdir -p "$w"
  for strategy in random pct; do
    s=1
    while [ $s -le "$seeds" ]; do
      for n in 1 2; do
        rm -f "$w/t" "$w/t$n"
        # shellcheck disable=SC2086
        "$kpsim" explore $sc --strategy $strategy --seed $s --budget 20 --first --json --quiet \
          --trace-out "$w/t" | grep -v '"elapsed_ms"' > "$w/j$n"
        if [ -f "$w/t" ]; then mv "$w/t" "$w/t$n"; fi
      done
      runs=$((runs + 1))
      if ! cmp -s "$w/j1" "$w/j2"; then echo "DIFFER: $sc $strategy seed $s (report)"; diff "$w/j1" "$w/j2" | head; return 1; fi
      if [ -f "$w/t1" ] || [ -f "$w/t2" ]; then
        if ! cmp "$w/t1" "$w/t2"; then echo "DIFFER: $sc $strategy seed $s (trace)"; return 1; fi
        traces=$((traces + 1))
      fi
      s=$((s + 1))
    done
  done
  echo "$sc: $runs explore pairs identical ($traces with a violation trace compared byte for byte)"
}
one "sockmap-multi-channels --set proto=udp" "$d/a" > "$d/a.out" 2>&1 &
a=$!
one "lost-update" "$d/b" > "$d/b.out" 2>&1 &
b=$!
rc=0
wait $a || rc=1
wait $b || rc=1
cat "$d/a.out" "$d/b.out"
exit $rc
