#!/usr/bin/env python3
"""The guest kernel side of scripts, end to end without qemu: `kpsim kernel/crosscheck --kernel
6.12` with a stand-in boot script that runs the guest runner on this machine's kernel
(guest_boot_host_runner.sh), on the kTLS scripts with tls=none (plain TCP runs here).

Checks what the host side computes from the runner's results: the cells of --sweep (every
combination, the --set values in each), one result per cell in cell order, the verdicts
(plain TCP neither stalls nor loses on either side: agree, exit 0), a forced window that cannot
form without kTLS counting as "not tested" (exit 3), and kernel's per-run lines.
Usage: guest_side_host.py KPSIM RUNNER STANDIN
"""
import itertools, json, os, subprocess, sys

kpsim, runner, standin = sys.argv[1:4]
env = dict(os.environ, KPSIM_TEST_GUEST_BOOT=standin, KPSIM_TEST_GUEST_RUNNER=runner)
fails = []

def run(args):
    p = subprocess.run([kpsim] + args, capture_output=True, text=True, env=env, timeout=600)
    return p.returncode, p.stdout, p.stderr

# crosscheck over a 2x2 grid, bytes fixed by --set.
rc, out, err = run(["crosscheck", "ktls-sendfile-stall", "--kernel", "6.12", "--set", "tls=none",
                    "--set", "bytes=1048576", "--set", "call_bytes=262144", "--sweep", "mss=65483,1436",
                    "--sweep", "api=sendfile,write", "--json"])
if rc != 0:
    fails.append(f"stall crosscheck: exit {rc}: {err[-2000:]} {out[-2000:]}")
else:
    j = json.loads(out)
    grid = list(itertools.product(["65483", "1436"], ["sendfile", "write"]))
    got = [(c["params"]["mss"], c["params"]["api"]) for c in j["cells"]]
    if got != grid:
        fails.append(f"cells {got}, expected {grid}")
    for c in j["cells"]:
        if c["params"]["bytes"] != "1048576" or c["params"]["tls"] != "none":
            fails.append(f"--set lost in a cell: {c['params']}")
        ns = c["properties"]["no-stall"]
        if c["verdict"] != "agree" or ns["model"] != "never" or ns["kernel_violations"] != 0 or ns["kernel_runs_counted"] != 1:
            fails.append(f"cell {c['config']}: {c['verdict']} {c['properties']}")
        for r in c["evidence"]["runs"]:
            if r["sent"] != 1048576 or r["received"] != 1048576 or not r["plaintext_ok"]:
                fails.append(f"cell {c['config']}: run {r}")
    if (j["agree"], j["disagree"], j["not_tested"]) != (4, 0, 0):
        fails.append(f"counts {j['agree']}/{j['disagree']}/{j['not_tested']}")

# A forced window needs kTLS (cryptd_backlog): with tls=none it never forms -> not tested, exit 3.
rc, out, err = run(["crosscheck", "ktls-async-close", "--kernel", "6.12", "--set", "tls=none",
                    "--sweep", "io=uring,plain", "--runs", "2"])
if rc != 3 or out.count("not tested") < 1 or "0 of 2 cells agree, 0 disagree, 2 not tested" not in out:
    fails.append(f"close crosscheck with tls=none: exit {rc}, expected 3: {out[-3000:]} {err[-1000:]}")

# kernel: one cell, --runs lines.
rc, out, err = run(["kernel", "ktls-async-close", "--kernel", "6.12", "--set", "tls=none", "--set", "io=plain", "--runs", "2"])
lines = [l for l in out.splitlines() if l.strip().startswith("run ")]
if rc != 0 or len(lines) != 2 or any("sent 49152 received 49152" not in l or "complete" not in l for l in lines):
    fails.append(f"kernel: exit {rc}: {out} {err}")

# --annotate: the guest's evidence goes into the trace's footer, per cell.
import shutil, tempfile
src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "traces", "findings", "seed001-ktls-sendfile-stall.trace.jsonl")
with tempfile.TemporaryDirectory() as d:
    t = os.path.join(d, "t.trace.jsonl")
    shutil.copy(src, t)
    rc, out, err = run(["crosscheck", "ktls-sendfile-stall", "--kernel", "6.12", "--set", "tls=none", "--set", "bytes=65536",
                        "--sweep", "api=sendfile,write", "--annotate", t])
    footer = json.loads(open(t).read().splitlines()[-1])
    cc = footer.get("crosscheck", {})
    cells = cc.get("cells", [])
    if rc != 0 or len(cells) != 2 or any(c["evidence"]["runs"][0]["received"] != 65536 for c in cells):
        fails.append(f"annotate: exit {rc}, footer crosscheck {json.dumps(cc)[:1000]}")

for f in fails:
    print("FAIL:", f)
print("guest side on the host:", "FAILED" if fails else "ok")
sys.exit(1 if fails else 0)
