#!/bin/bash
# guest_boot_host_runner.sh, then a long wait, as a guest whose last job never ends: writes
# $KPSIM_TEST_PIDDIR/ran once every job's result is out (tests/guest_interrupt.sh).
trap 'exit 143' TERM
"$(dirname "$0")/guest_boot_host_runner.sh" "$@"
touch "$KPSIM_TEST_PIDDIR/ran"
sleep 300 &
wait $!
