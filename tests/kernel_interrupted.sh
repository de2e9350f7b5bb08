#!/bin/sh
# kernel_interrupted.sh KPSIM TRACE: SIGINT in the middle of `kpsim kernel` and `kpsim crosscheck
# --annotate` on the host runner (root, BPF). Each must print the runs that completed, say it was
# interrupted and exit 130 (not 2, bad input; not a verdict on half the runs), leave the
# annotated trace unchanged, and leave nothing behind: no BPF program of the runner loaded, no
# kpsim process, no temporary file. Interrupts land at several moments (DELAYS, seconds).
# Prints "the real-kernel runner cannot run here" (the ctest's skip phrase) without root/BPF.
set -u
kpsim=$1 trace=$2
DELAYS=${DELAYS:-"0.5 1.7 3.1"}
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
mkdir "$d/tmp"
fail=0 reported=0
# The runner's programs (replay/bpf/script_verdict.bpf.c), by the names bpftool shows.
progs() {
  bpftool prog show 2>/dev/null |
    grep -cE 'name (script_verdict|on_queue_work|on_execute_star|on_execute_end|on_sys_enter|on_sys_exit) '
}
# Our own commands only: other kpsim processes (another build's tests) may run meanwhile.
kpsim_procs() { ps -eo args= | grep -cE "^$kpsim (kernel|crosscheck) sockmap-multi-channels --runs 1000000" ; }
# A runner program can outlive kpsim only if something holds it. On a shared machine another
# runner (a kpsim or test_script_runner_kernel of another checkout; ours has exited) may hold
# programs of the same names: those are reported, not counted. CI runs nothing else.
other_runners() { ps -eo comm= | grep -cE '^(kpsim|test_script_run)$' ; }

# The runner needs root and BPF: probe with one run (its failure message is the skip phrase).
if ! "$kpsim" kernel sockmap-multi-channels --runs 1 >"$d/probe" 2>&1; then
  cat "$d/probe"
  grep -q 'the real-kernel runner cannot run here' "$d/probe" && exit 0  # the ctest skips
  exit 1
fi

check_left() {  # check_left WHAT: nothing of the runner outlives kpsim
  i=0  # programs are freed asynchronously (RCU) once their last fd closes: up to 5 s
  while [ "$(progs)" -ne 0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  n=$(progs)
  if [ "$n" -ne 0 ]; then
    if [ "$(other_runners)" -ne 0 ]; then
      echo "$1: note: $n runner programs loaded while another runner process runs (not ours: ours exited):"
      ps -eo pid,comm,args | awk '$2 == "kpsim" || $2 == "test_script_run"'
    else
      echo "$1: BPF programs left loaded:"; bpftool prog show; fail=1
    fi
  fi
  if [ "$(kpsim_procs)" -ne 0 ]; then echo "$1: kpsim processes left:"; ps -eo pid,args | grep "$kpsim"; fail=1; fi
  if [ -n "$(ls -A "$d/tmp")" ]; then echo "$1: temporary files left in TMPDIR:"; ls -la "$d/tmp"; fail=1; fi
  # kpsim's temporary files go to TMPDIR (checked above) or beside the file written (--annotate's
  # FILE.tmp, renamed over it): nothing but these may be in $d. (/tmp itself is not compared:
  # on a shared machine other programs create kpsim-named entries there.)
  extra=$(ls -A "$d" | grep -vxE 'tmp|out|probe|annotated.jsonl')
  if [ -n "$extra" ]; then echo "$1: files left beside the outputs: $extra"; fail=1; fi
}

for delay in $DELAYS; do
  # timeout delivers SIGINT to kpsim as a terminal's Ctrl-C would (not ignored, unlike a
  # background job's); --preserve-status returns kpsim's own exit status.
  TMPDIR="$d/tmp" timeout --preserve-status -s INT "$delay" \
    "$kpsim" kernel sockmap-multi-channels --runs 1000000 >"$d/out" 2>&1
  rc=$?
  runs=$(sed -n 's/.*  runs \([0-9]*\)$/\1/p' "$d/out")
  if [ $rc -eq 130 ] && [ ! -s "$d/out" ]; then
    # SIGINT before kpsim installed its handler (a slow start, e.g. under ASan): it died of the
    # signal having started nothing. Still checked for leftovers below.
    echo "kernel, SIGINT after ${delay}s: arrived before kpsim started (killed by it, no output)"
  elif [ $rc -ne 130 ] || ! grep -q '^interrupted: [0-9]* runs completed' "$d/out" ||
     ! grep -q '^interrupted (SIGINT/SIGTERM)' "$d/out" || [ -z "$runs" ] || [ "$runs" -ge 1000000 ]; then
    echo "kernel, SIGINT after ${delay}s: expected exit 130 and the completed runs, got exit $rc:"
    cat "$d/out"; fail=1
  else
    # The outcome lines add up to the runs reported: the report is of completed runs only.
    sum=$(sed -n 's/^ *\([0-9][0-9]*\)  .*recv=.*/\1/p' "$d/out" | awk '{s += $1} END {print s + 0}')
    if [ "$sum" -ne "$runs" ]; then echo "kernel, SIGINT after ${delay}s: outcomes add up to $sum, runs $runs:"; cat "$d/out"; fail=1
    else echo "kernel, SIGINT after ${delay}s: exit 130, $runs completed runs reported"; reported=$((reported + 1)); fi
  fi
  check_left "kernel, SIGINT after ${delay}s"
done

cp "$trace" "$d/annotated.jsonl"
for delay in $DELAYS; do
  TMPDIR="$d/tmp" timeout --preserve-status -s INT "$delay" \
    "$kpsim" crosscheck sockmap-multi-channels --runs 1000000 --annotate "$d/annotated.jsonl" >"$d/out" 2>&1
  rc=$?
  if [ $rc -eq 130 ] && [ ! -s "$d/out" ]; then
    echo "crosscheck, SIGINT after ${delay}s: arrived before kpsim started (killed by it, no output)"
    cmp -s "$trace" "$d/annotated.jsonl" || { echo "crosscheck: the annotated trace changed"; fail=1; }
  elif [ $rc -ne 130 ] || ! grep -q '^interrupted (SIGINT/SIGTERM): .* was left unchanged' "$d/out" ||
     grep -q 'model and kernel \(agree\|DISAGREE\)' "$d/out"; then
    echo "crosscheck, SIGINT after ${delay}s: expected exit 130, no verdict, got exit $rc:"
    cat "$d/out"; fail=1
  elif ! cmp -s "$trace" "$d/annotated.jsonl"; then
    echo "crosscheck, SIGINT after ${delay}s: the annotated trace changed"; fail=1
  else
    echo "crosscheck, SIGINT after ${delay}s: exit 130, $(grep '^interrupted: ' "$d/out")"
    reported=$((reported + 1))
  fi
  check_left "crosscheck, SIGINT after ${delay}s"
done
# At least one interrupt of each command must have landed in a running kpsim.
if [ "$reported" -lt 2 ]; then echo "only $reported interrupts landed after kpsim started: use later DELAYS"; fail=1; fi
exit $fail
