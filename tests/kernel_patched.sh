#!/bin/sh
# kernel_patched.sh KPSIM GUEST_DIR SCRIPT PATCHED STOCK PROPERTY [--set K=V ...] — ctest label
# `kernel-patched` (docs/patched-kernels.md): `kpsim crosscheck SCRIPT` on the stock kernel and on
# the kernel patched with a fix of the model (PATCHED = 6.12+FIX; the model runs fix=FIX there),
# the same cells, and the fix must show on both sides:
#   - both: model and kernel agree in every cell (crosscheck exit 0: where the script forces a
#     window, a run counts only if it formed, and a cell where none did fails the test);
#   - at least one cell where the stock kernel violated PROPERTY, the patched one did not in any
#     counted run, and the model with the fix says it never can;
#   - the close's cost (where the script closes a socket): where the model's close spins (passes
#     of the wait that cannot sleep), the kernel's closing thread spent most of the close on the
#     CPU; where it does not, less than half.
# Prints "SKIPPED: ..." and exits 0 (ctest SKIP_REGULAR_EXPRESSION) when the patched kernel is not
# built (with the build-kernel command), or when the qemu guest cannot run here.
set -u
kpsim="$1"; dir="$2"; script="$3"; patched="$4"; stock="$5"; prop="$6"; shift 6

status="$("$dir/build-kernel" --status "$patched" 2>&1)"
case $? in
  0) ;;
  3) echo "SKIPPED: the patched kernel is not built: ${status#guest: }"; exit 0 ;;
  *) echo "$status"; exit 1 ;;
esac
command -v python3 >/dev/null 2>&1 || { echo "SKIPPED: no python3 to read the results"; exit 0; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for k in stock patched; do
  [ "$k" = stock ] && v="$stock" || v="$patched"
  echo "== kpsim crosscheck $script --kernel $v $*"
  "$kpsim" crosscheck "$script" --kernel "$v" --json "$@" > "$tmp/$k.json" 2> "$tmp/$k.err"
  echo $? > "$tmp/$k.rc"
  cat "$tmp/$k.err"
  if grep -q "the qemu guest cannot run here" "$tmp/$k.err"; then
    echo "SKIPPED: the qemu guest cannot run here"; exit 0
  fi
done

python3 - "$tmp" "$prop" "$stock" "$patched" <<'PY'
import json, sys
tmp, prop, stock_name, patched_name = sys.argv[1:]
ok = True
def check(cond, what):
    global ok
    print(("ok   " if cond else "FAIL ") + what)
    ok = ok and cond

res = {}
for side, name in (("stock", stock_name), ("patched", patched_name)):
    rc = int(open(f"{tmp}/{side}.rc").read())
    try:
        res[side] = json.load(open(f"{tmp}/{side}.json"))
    except ValueError:
        check(False, f"{name}: crosscheck printed no JSON (exit {rc})")
        sys.exit(1)
    check(rc == 0, f"{name}: crosscheck exit {rc} (0 = model and kernel agree)")
    for c in res[side]["cells"]:
        p = c["properties"].get(prop, {})
        cost = c.get("cost")
        print(f"  {name} [{c['config']}]: {prop}: model {p.get('model')}, kernel {p.get('kernel_violations')} of "
              f"{p.get('kernel_runs_counted')} counted runs; window {c.get('window_formed_runs')}/{c.get('kernel_runs')}; "
              f"verdict {c['verdict']}" + (f"; close {cost['kernel_close_ms']:.0f} ms, {cost['kernel_close_cpu_ms']:.0f} ms CPU, "
                                           f"model spins {cost['model_notify_signal_spins']}" if cost else ""))

stock = {c["config"]: c for c in res["stock"]["cells"]}
fixed = []
for c in res["patched"]["cells"]:
    p = c["properties"][prop]
    s = stock.get(c["config"], {}).get("properties", {}).get(prop, {})
    if s.get("kernel_violations", 0) > 0 and p["model"] == "never" and p["kernel_runs_counted"] > 0 \
            and p["kernel_violations"] == 0:
        fixed.append(c["config"])
    cost = c.get("cost")
    if cost and cost["kernel_close_ms"] >= 500:
        spins = cost["model_notify_signal_spins"] > 0
        busy = cost["kernel_close_cpu_ms"] >= 0.5 * cost["kernel_close_ms"]
        check(spins == busy, f"{patched_name} [{c['config']}]: the close {'busy-polls' if busy else 'sleeps'} on the "
                             f"kernel and the model {'spins' if spins else 'does not spin'}")
check(len(fixed) > 0, f"cells where {stock_name} violated {prop} and {patched_name} did not, as the model with the "
                      f"fix predicts: {', '.join(fixed) or 'none'}")
sys.exit(0 if ok else 1)
PY
