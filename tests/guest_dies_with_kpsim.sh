#!/bin/sh
# guest_dies_with_kpsim.sh KPSIM STANDIN: `kpsim kernel ... --kernel 6.12` runs a stand-in boot
# script (KPSIM_TEST_GUEST_BOOT); kill kpsim with SIGTERM, then with SIGKILL (which it cannot
# catch: only PR_SET_PDEATHSIG tells the script), and check that the script and its child (in a
# process group of its own, like qemu under `timeout`) are gone within 5 s, and that SIGTERM
# makes kpsim say so and exit 130.
set -u
kpsim=$1 standin=$2
d=$(mktemp -d)
# Whatever outlived its kpsim is killed here, so that a failing run leaves nothing behind either.
trap 'for f in "$d"/*/*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done; rm -rf "$d"' EXIT
export KPSIM_TEST_GUEST_BOOT="$standin"
fail=0
# Running: a /proc entry that is not a zombie (an orphan's zombie waits for a reaper that a
# container's init may never be).
alive() { [ -r "/proc/$1/stat" ] && ! sed 's/.*) //' "/proc/$1/stat" | grep -q '^Z'; }
for sig in TERM KILL; do
  p="$d/$sig"
  mkdir "$p"
  KPSIM_TEST_PIDDIR="$p" "$kpsim" kernel ktls-sendfile-stall --kernel 6.12 >"$p/out" 2>&1 &
  k=$!
  i=0
  while [ ! -s "$p/boot.pid" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  if [ ! -s "$p/boot.pid" ]; then echo "SIG$sig: the stand-in never started:"; cat "$p/out"; exit 1; fi
  boot=$(cat "$p/boot.pid") child=$(cat "$p/child.pid")
  kill -s "$sig" "$k"
  wait "$k"; rc=$?
  i=0
  while { alive "$boot" || alive "$child"; } && [ $i -lt 50 ]; do
    sleep 0.1; i=$((i + 1))
  done
  alive=""
  alive "$boot" && alive="$alive boot($boot)"
  alive "$child" && alive="$alive child($child)"
  if [ -n "$alive" ]; then echo "SIG$sig (kpsim exit $rc): still running 5 s later:$alive"; fail=1
  else echo "SIG$sig (kpsim exit $rc): the boot script and its child are gone"; fi
  # SIGTERM is caught: kpsim says it was interrupted and exits 130 (not 2, bad input).
  if [ "$sig" = TERM ]; then
    if [ $rc -ne 130 ] || ! grep -q '^interrupted (SIGINT/SIGTERM)' "$p/out"; then
      echo "SIGTERM: expected exit 130 and an 'interrupted' line, got exit $rc:"; cat "$p/out"; fail=1
    fi
  fi
done
exit $fail
