#!/bin/sh
# guest_interrupt.sh KPSIM RUNNER DIR: SIGTERM (SIGINT: a background job of sh ignores it) while
# a guest boot is still running, after some of
# its jobs reported: `kpsim crosscheck` prints the cells that completed (their kernel results,
# no verdict) and exits 130. The guest is a stand-in running the jobs on this kernel
# (guest_boot_host_runner_then_wait.sh), so no qemu is needed.
set -u
kpsim=$1 runner=$2 dir=$3
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
export KPSIM_TEST_GUEST_BOOT="$dir/guest_boot_host_runner_then_wait.sh" KPSIM_TEST_GUEST_RUNNER="$runner" KPSIM_TEST_PIDDIR="$d"
"$kpsim" crosscheck ktls-sendfile-stall --kernel 6.12 --set tls=none --set bytes=65536 --sweep api=sendfile,write >"$d/out" 2>&1 &
k=$!
i=0
while [ ! -e "$d/ran" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
[ -e "$d/ran" ] || { echo "the stand-in never ran its jobs"; cat "$d/out"; kill $k; exit 1; }
kill -TERM $k
wait $k; rc=$?
cat "$d/out"
[ $rc -eq 130 ] || { echo "expected exit 130, got $rc"; exit 1; }
grep -q '^interrupted (SIGINT/SIGTERM)' "$d/out" || { echo "no 'interrupted' line"; exit 1; }
# Both cells' kernel results are there, judged as interrupted, not agreed.
[ "$(grep -c 'api=\(sendfile\|write\) .* interrupted$' "$d/out")" -eq 2 ] || { echo "expected both cells, marked interrupted"; exit 1; }
echo "ok"
