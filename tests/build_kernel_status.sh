#!/bin/sh
# build_kernel_status.sh GUEST_DIR — scripts/guest/build-kernel --status and the self-built kernel
# lookup in lib.sh, without building anything (an empty cache and a fake cache entry):
# not built → exit 3 with the build command; an unknown fix → the list of fixes; a cache entry
# whose build key does not match the patch and fragment of today → stale; a matching one → its
# directory. boot exits 77 with the command when qemu is there to get that far.
set -u
dir="$1"
KPSIM_GUEST_CACHE="$(mktemp -d)"; export KPSIM_GUEST_CACHE
trap 'rm -rf "$KPSIM_GUEST_CACHE"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

out="$("$dir/build-kernel" --status 6.12+task-sigpending 2>&1)"; rc=$?
[ $rc -eq 3 ] || fail "not built: exit $rc ($out)"
echo "$out" | grep -q 'build it with: scripts/guest/build-kernel 6.12+task-sigpending' || fail "no command in: $out"

out="$("$dir/build-kernel" --status 6.12+no-such-fix 2>&1)"; rc=$?
[ $rc -eq 3 ] || fail "unknown fix: exit $rc"
echo "$out" | grep -q 'task-sigpending' || fail "unknown fix: no list in: $out"

"$dir/build-kernel" --list | grep -q '^6.12: none .*task-sigpending.*clear-more-on-full-record' || fail "--list"

# A fake entry: stale key, then the right one.
k="$KPSIM_GUEST_CACHE/kernels/build-6.12-fake"
mkdir -p "$k/stage"
printf 'kernel=fake\nkey=0000000000000000\n' > "$k/info"
touch "$k/ready"
ln -s "$k" "$KPSIM_GUEST_CACHE/kernels/6.12+task-sigpending.current"
out="$("$dir/build-kernel" --status 6.12+task-sigpending 2>&1)"; rc=$?
[ $rc -eq 3 ] && echo "$out" | grep -q 'stale' || fail "stale key: exit $rc ($out)"
key="$(bash -c ". '$dir/lib.sh' && guest_build_key 6.12 \"\$(guest_fix_patch 6.12 task-sigpending)\"")"
printf 'kernel=fake\nkey=%s\n' "$key" > "$k/info"
out="$("$dir/build-kernel" --status 6.12+task-sigpending 2>&1)"; rc=$?
[ $rc -eq 0 ] && [ "$out" = "$(cd "$k" && pwd -P)" ] || fail "matching key: exit $rc ($out)"

if command -v qemu-system-x86_64 >/dev/null 2>&1; then
  jobs="$KPSIM_GUEST_CACHE/jobs-dir"; mkdir -p "$jobs"; : > "$jobs/jobs"
  out="$("$dir/boot" 6.12+flush-in-worker --jobs "$jobs" 2>&1)"; rc=$?
  [ $rc -eq 77 ] && echo "$out" | grep -q 'scripts/guest/build-kernel 6.12+flush-in-worker' ||
    fail "boot of an unbuilt kernel: exit $rc ($out)"
fi
echo "ok"
