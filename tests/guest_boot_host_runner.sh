#!/bin/bash
# A stand-in for scripts/guest/boot (tests only, via KPSIM_TEST_GUEST_BOOT) that runs the jobs
# with the guest runner on this machine's kernel instead of in a qemu guest: the whole host side
# of a guest cross-check (cells, jobs file, result parsing, verdicts) without qemu. The runner is
# $KPSIM_TEST_GUEST_RUNNER; only scripts this kernel can run (tls=none) make sense here.
dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --jobs) dir="$2"; shift 2 ;;
    --timeout) shift 2 ;;
    *) shift ;;
  esac
done
[ -n "$dir" ] || { echo "stand-in: no --jobs" >&2; exit 1; }
# The jobs name the script where the guest sees it (/kpsim/...); here it is in the jobs dir.
sed "s|/kpsim/|$dir/|g" "$dir/jobs" > "$dir/jobs.host"
"$KPSIM_TEST_GUEST_RUNNER" --jobs "$dir/jobs.host"
echo "KPSIM-DONE {\"rc\":$?}"
