#!/bin/sh
# preemptions_covered.sh KPSIM: the bounded proof a budgeted iterative dfs reports. For a clean
# world (lost-update with atomic increments, 3 tasks x 2), N_b is the count of schedules with at
# most b preemptions (a plain walk with --preemption-bound b, exhaustive). An iterative search
# with --budget N_b must claim b ("preemptions_covered", and the text line), one with N_b - 1
# only b - 1 (nothing for b = 0); the bounded walk's "exhaustive yes" names its bound. Two
# shards merged claim the smaller of their two claims.
set -u
kpsim=$1
world="lost-update --set tasks=3 --set incs=2 --set atomic=yes --strategy dfs"
fail() { echo "FAIL: $*"; exit 1; }
field() { sed -n "s/^  \"$1\": \\([0-9a-z]*\\),*\$/\\1/p"; }  # a top-level field of --json
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
for b in 0 1 2; do
  # shellcheck disable=SC2086
  n=$("$kpsim" explore $world --dfs-order plain --preemption-bound $b --json --quiet --no-figures | field schedules)
  [ -n "$n" ] || fail "no schedule count for bound $b"
  # shellcheck disable=SC2086
  "$kpsim" explore $world --dfs-order plain --preemption-bound $b --quiet --no-figures |
    grep -q "exhaustive yes (every schedule with at most $b preemption" || fail "bound $b: the text line does not limit its yes"
  # shellcheck disable=SC2086
  got=$("$kpsim" explore $world --budget "$n" --json --quiet --no-figures | field preemptions_covered)
  echo "bound $b: $n schedules; iterative with that budget covers '$got'"
  [ "$got" = "$b" ] || fail "budget $n: preemptions_covered '$got', not $b"
  # shellcheck disable=SC2086
  "$kpsim" explore $world --budget "$n" --quiet --no-figures | grep -q "exhaustive no, but every schedule with at most $b preemption" ||
    fail "budget $n: the text line does not say bound $b"
  # shellcheck disable=SC2086
  less=$("$kpsim" explore $world --budget $((n - 1)) --json --quiet --no-figures | field preemptions_covered)
  if [ $b -eq 0 ]; then want=""; else want=$((b - 1)); fi
  [ "$less" = "$want" ] || fail "budget $((n - 1)): preemptions_covered '$less', not '$want'"
done
# Budget 10: the shards claim 2 and 0; budget 20: shard 0 is exhaustive (12 schedules, no claim:
# it covers everything) and shard 1 claims 0. The merge claims the smaller claim of the shards
# that did not finish.
for budget in 10 20; do
  want=""
  for i in 0 1; do
    # shellcheck disable=SC2086
    "$kpsim" explore $world --budget $budget --shard $i/2 --shard-depth 2 --json --quiet --no-figures > "$d/s$i.json"
    c=$(field preemptions_covered < "$d/s$i.json") ex=$(field exhaustive < "$d/s$i.json")
    echo "budget $budget shard $i/2: exhaustive $ex, claims '$c'"
    if [ "$ex" = false ]; then
      [ -n "$c" ] || fail "shard $i/2 at budget $budget claims nothing"
      if [ -z "$want" ] || [ "$c" -lt "$want" ]; then want=$c; fi
    fi
  done
  merged=$("$kpsim" merge --json "$d/s0.json" "$d/s1.json" | field preemptions_covered)
  echo "merged: '$merged'"
  [ "$merged" = "$want" ] || fail "budget $budget: merged claims '$merged', not '$want'"
done
echo "ok"
