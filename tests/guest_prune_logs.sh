#!/bin/bash
# guest_prune_logs.sh LIB: scripts/guest/lib.sh guest_prune_logs keeps the newest N serial logs
# (by their timestamped names) and their .qemu files, deletes the older ones, touches nothing
# else, and refuses a KEEP that is not a number.
set -u
lib=$1
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
export KPSIM_GUEST_CACHE="$d/cache"
# shellcheck source=/dev/null
. "$lib"
logs="$d/cache/logs"
mkdir -p "$logs"
for i in $(seq -w 1 60); do
  : > "$logs/202612${i}T000000-6.12.serial.log"
  : > "$logs/202612${i}T000000-6.12.serial.log.qemu"
done
: > "$logs/notes.txt"
guest_prune_logs "$logs" 50
fail=0
n=$(find "$logs" -name '*.serial.log' | wc -l)
q=$(find "$logs" -name '*.serial.log.qemu' | wc -l)
[ "$n" -eq 50 ] && [ "$q" -eq 50 ] || { echo "kept $n logs and $q qemu files, expected 50 and 50"; fail=1; }
[ -e "$logs/20261211T000000-6.12.serial.log" ] || { echo "the oldest kept log (11) is gone"; fail=1; }
[ -e "$logs/20261210T000000-6.12.serial.log" ] && { echo "log 10 (older than the newest 50) is still there"; fail=1; }
[ -e "$logs/20261260T000000-6.12.serial.log" ] || { echo "the newest log is gone"; fail=1; }
[ -e "$logs/notes.txt" ] || { echo "a file that is not a serial log was deleted"; fail=1; }
guest_prune_logs "$logs" 0  # keeps the newest one
[ "$(find "$logs" -name '*.serial.log' | wc -l)" -eq 1 ] || { echo "KEEP=0 must keep the newest log only"; fail=1; }
[ -e "$logs/20261260T000000-6.12.serial.log" ] || { echo "KEEP=0 deleted the newest log"; fail=1; }
if (guest_prune_logs "$logs" many) 2>/dev/null; then echo "KEEP=many was accepted"; fail=1; fi
[ $fail -eq 0 ] && echo "guest_prune_logs: newest 50 of 60 kept, KEEP=0 keeps 1, a bad KEEP refused"
exit $fail
