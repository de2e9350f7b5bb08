#!/usr/bin/env python3
"""The CPU cost model against this machine (issue 15, "Time"; docs/ktls-stall.md "CPU time").

1. Plain TCP over loopback: `kpsim calibrate` measures the host kernel's throughput with 1 MiB
   write()s; the model, with the cost table compiled in (`model cpu = costed`), predicts the
   same transfer. They must agree within a factor of 2 (both measured in this run).
2. Seed 001's healthy-vs-stalled ratio: the reporter saw 2 GiB in 1.65 s healthy and 4 MiB in
   52 s stalled; the model's ratio of the two throughputs must be within a factor of 3 of that.
3. `model cpu = none` keeps the old instantaneous steps: the healthy transfer takes 0 s.
"""
import json
import subprocess
import sys

kpsim = sys.argv[1]
script = sys.argv[2]


def run(*args, ok=(0,)):
    p = subprocess.run([kpsim, *args], capture_output=True, text=True)
    if p.returncode not in ok:
        sys.exit(f"FAIL: kpsim {' '.join(args)} exited {p.returncode}: {p.stderr.strip()}")
    return json.loads(p.stdout)


def model(*sets):
    args = ["explore", script, "--budget", "1", "--json", "--quiet"]
    for s in sets:
        args += ["--set", s]
    return run(*args, ok=(0, 1))["metrics"]  # 1: the stalled run violates no-stall


failures = []

cal = run("calibrate", "--json", "--bytes", str(256 << 20), "--repeat", "3")
host = cal["loopback_MiB_s_1MiB_writes"]
m = model("tls=none", "api=write", "call_bytes=1048576", f"bytes={256 << 20}", "cpu=costed")
pred = m["throughput_MiB_s"]
ratio = pred / host
print(f"plain TCP loopback, 1 MiB writes: host kernel {host:.0f} MiB/s, model {pred:.0f} MiB/s "
      f"(ratio {ratio:.2f}; sender CPU {m['cpu_busy_s']:.4f} s, reader CPU {m['reader_cpu_busy_s']:.4f} s)")
if not 0.5 <= ratio <= 2.0:
    failures.append(f"model/host throughput ratio {ratio:.2f} outside [0.5, 2]")
# Nothing waits in an unstalled transfer: its time is the sender CPU's busy time (less the last
# ACKs, processed after the last write returned).
if abs(m["elapsed_s"] - m["cpu_busy_s"]) > 0.01 * m["cpu_busy_s"]:
    failures.append(f"an unstalled costed run's time {m['elapsed_s']} s is not its CPU time {m['cpu_busy_s']} s")

healthy = model(f"bytes={2 << 30}", "cpu=costed")
stalled = model("notsent_lowat=16384", "cpu=costed")
reporter = ((2 << 30) / 1.65) / ((4 << 20) / 52.0)
ours = healthy["throughput_MiB_s"] / stalled["throughput_MiB_s"]
print(f"seed 001: healthy 2 GiB in {healthy['elapsed_s']:.3f} s ({healthy['pace']}), stalled 4 MiB in "
      f"{stalled['elapsed_s']:.1f} s ({stalled['pace']}); ratio {ours:.0f}, the reporter's {reporter:.0f}")
if healthy["pace"] != "flows" or stalled["pace"] != "stall":
    failures.append(f"paces {healthy['pace']} / {stalled['pace']}, expected flows / stall")
if not reporter / 3 <= ours <= reporter * 3:
    failures.append(f"healthy/stalled ratio {ours:.0f} not within a factor of 3 of the reporter's {reporter:.0f}")

free = model(f"bytes={64 << 20}", "cpu=none")
if free["elapsed_s"] != 0 or "cpu_s" in free:
    failures.append(f"cpu=none: a healthy transfer took {free['elapsed_s']} s (expected 0, no cpu_s)")

for f in failures:
    print("FAIL:", f)
sys.exit(1 if failures else 0)
