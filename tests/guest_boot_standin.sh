#!/bin/bash
# A stand-in for scripts/guest/boot (tests only, via KPSIM_TEST_GUEST_BOOT): shaped like the
# real one -- a long-running child in a process group of its own (as `timeout` puts qemu),
# stopped by the script's trap -- but with `sleep` in place of qemu. Writes both pids to
# $KPSIM_TEST_PIDDIR.
child_start() { setsid sleep 300 </dev/null >/dev/null 2>&1 & child=$!; }
child_start
trap 'kill "$child" 2>/dev/null || true' EXIT INT TERM
echo "$child" > "$KPSIM_TEST_PIDDIR/child.pid"
echo "$$" > "$KPSIM_TEST_PIDDIR/boot.pid"
wait "$child"
