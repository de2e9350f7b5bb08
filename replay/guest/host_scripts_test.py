#!/usr/bin/env python3
"""The guest runner's script interpreter on this machine's kernel (no kTLS here: tls=none).

Runs the built-in kTLS scripts with plain TCP through `kpsim-guest-runner --jobs`, the path the
qemu guest takes (parse the .kps, resolve --set values, run the Program), and checks what each
run reports against what the job asked for: every byte sent arrives, as the file has it (the
receiver checks each byte), the steps ran with the script's arguments, and a bad job is refused
with "ok": false and exit 1. Usage: host_scripts_test.py RUNNER SCENARIOS_DIR
"""
import json, os, subprocess, sys, tempfile

runner, scen = sys.argv[1], sys.argv[2]
stall, close = os.path.join(scen, "ktls-sendfile-stall.kps"), os.path.join(scen, "ktls-async-close.kps")
jobs = [
    # call_bytes that does not divide the file: calls stop at the looped file's end.
    (stall, ["tls=none", "bytes=3000000", "call_bytes=700000"], "sendfile_loop(sender, f, 3000000, 700000)"),
    (stall, ["tls=none", "api=write", "bytes=1048576", "call_bytes=65536", "mss=1436"], "write_loop(sender, f, 1048576, 65536)"),
    (close, ["tls=none", "io=plain", "crypto=sync"], "splice_loop(f, p, server, 49152, SPLICE_F_MORE)"),
    (close, ["tls=none", "io=uring", "bytes=100000", "more=0"], "uring_splice_close(ring, f, p, server, 100000, 0)"),
    (close, ["tls=none", "io=uring-defer"], "uring_splice_close(ring, f, p, server, 49152, SPLICE_F_MORE)"),
]
fails = []
with tempfile.TemporaryDirectory() as d:
    with open(os.path.join(d, "jobs"), "w") as f:
        for i, (script, sets, _) in enumerate(jobs):
            f.write("\t".join([f"id={i}", f"script={script}", "runs=2", "opt=timeout_ms=30000"] + [f"set={s}" for s in sets]) + "\n")
    p = subprocess.run([runner, "--jobs", os.path.join(d, "jobs")], capture_output=True, text=True, timeout=300)
    results = [json.loads(l[len("KPSIM-RESULT "):]) for l in p.stdout.splitlines() if l.startswith("KPSIM-RESULT ")]
    if p.returncode != 0 or len(results) != len(jobs):
        fails.append(f"runner exit {p.returncode}, {len(results)} results of {len(jobs)}: {p.stdout[-2000:]} {p.stderr[-2000:]}")
    for (script, sets, call), r in zip(jobs, results):
        want = dict(s.split("=", 1) for s in sets)
        if not r.get("ok"):
            fails.append(f"{sets}: {r.get('error')}")
            continue
        if any(r["params"][k] != v for k, v in want.items()):
            fails.append(f"{sets}: params {r['params']}")
        if len(r["run_results"]) != 2:
            fails.append(f"{sets}: {len(r['run_results'])} runs")
        for run in r["run_results"]:
            total = int(r["params"]["bytes"])
            if not (run["ok"] and run["sent"] == total and run["received"] == total and run["plaintext_ok"]
                    and run["eof"] and not run["lost"]):
                fails.append(f"{sets}: run {run}")
            if run["steps"][0]["call"] != call:
                fails.append(f"{sets}: first step {run['steps'][0]['call']!r}, expected {call!r}")
            if "window" in run and run["window"]["hold_until_closed"]["formed"] is not True:
                fails.append(f"{sets}: the reader did not wait for the close: {run['window']}")
    # A job the script refuses: an unknown parameter, then a value out of its range.
    with open(os.path.join(d, "jobs"), "w") as f:
        f.write(f"id=0\tscript={stall}\truns=1\tset=nope=1\nid=1\tscript={close}\truns=1\tset=bytes=0\n")
    p = subprocess.run([runner, "--jobs", os.path.join(d, "jobs")], capture_output=True, text=True, timeout=60)
    bad = [json.loads(l[len("KPSIM-RESULT "):]) for l in p.stdout.splitlines() if l.startswith("KPSIM-RESULT ")]
    if p.returncode != 1 or len(bad) != 2 or any(b.get("ok") is not False or not b.get("error") for b in bad):
        fails.append(f"bad jobs: exit {p.returncode}, {bad}")
for f in fails:
    print("FAIL:", f)
print("guest runner scripts on the host:", "FAILED" if fails else f"{len(jobs)} jobs ok")
sys.exit(1 if fails else 0)
