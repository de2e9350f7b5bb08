#!/usr/bin/env python3
"""One chosen schedule, traces of clean runs, and replay with a parameter changed (issue 14).

choices_set.py KPSIM FINDINGS_DIR WORKDIR

- explore --choices runs exactly the given schedule: the seed-000 finding's answers give its
  violation again, and its trace replays byte for byte; an answer out of range exits 2 naming
  the choice and the step; --choices with a search option exits 2.
- explore --trace-out writes a clean run's trace (the first schedule), which replays.
- replay --set fix=task-sigpending on the seed-002 finding: the recorded ordering with the fix
  comes out clean (exit 0), the stock one still violates (exit 1); the divergence is reported.
- --json: every metric's min <= median <= max over the schedules explored, and their runs add up.
"""
import json
import os
import re
import subprocess
import sys

KPSIM, FINDINGS, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(WORK, exist_ok=True)
failures = []


def run(args, want):
    p = subprocess.run([KPSIM] + args, capture_output=True, text=True, timeout=600)
    if p.returncode != want:
        failures.append(f"kpsim {' '.join(args)}: exit {p.returncode}, wanted {want}\n{p.stdout[-600:]}{p.stderr[-300:]}")
    return p


def header(path):
    with open(path) as fh:
        return json.loads(fh.readline())


seed000 = os.path.join(FINDINGS, "seed000-sockmap-udp-selftest.trace.jsonl")
seed002 = os.path.join(FINDINGS, "seed002-ktls-async-close.trace.jsonl")

# 1. --choices: the finding's schedule, given as answers, is the finding.
h = header(seed000)
answers = ",".join(str(c[1]) for c in h["choices"])
sets = [x for k, v in h["params"].items() for x in ("--set", f"{k}={v}")]
t1 = os.path.join(WORK, "chosen.trace.jsonl")
p = run(["explore", "sockmap-multi-channels"] + sets + ["--choices", answers, "--trace-out", t1], 1)
if "selftest-assertion" not in p.stdout or "not shrunk" not in p.stdout:
    failures.append("explore --choices did not report the seed-000 violation as given")
if f"--choices {answers}" not in p.stdout and "kpsim replay" not in p.stdout:
    failures.append("explore --choices: no reproduce line")
run(["replay", t1, "--check", "--quiet"], 0)
if os.path.exists(t1) and [c[1] for c in header(t1)["choices"]] != [c[1] for c in h["choices"]]:
    failures.append("explore --choices: the trace's choices are not the ones given")
# Out of range: exit 2, one line naming the choice and the step.
p = run(["explore", "sockmap-multi-channels", "--set", "proto=udp", "--choices", "0,7"], 2)
if not re.search(r"^kpsim: --choices: choice 1 at step \d+ is 7 but only \d+ options exist", p.stderr):
    failures.append(f"--choices 0,7: stderr {p.stderr!r}")
run(["explore", "sockmap-multi-channels", "--choices", "0,x"], 2)
run(["explore", "sockmap-multi-channels", "--choices", "0", "--strategy", "dfs"], 2)
# Too many answers for the run: exit 2 too.
run(["explore", "sockmap-multi-channels", "--set", "proto=udp", "--choices", ",".join(["0"] * 500)], 2)
# replay --choices: the trace's run under another schedule. The seed-000 finding is the default
# schedule (every first option), so "" gives it again; 1,1 does not.
p = run(["replay", seed000, "--choices", "", "--quiet"], 1)
if not re.search(r"followed all 0 --choices choices; the run asked \d+ more from step \d+", p.stdout):
    failures.append(f"replay --choices '': {p.stdout[-300:]}")
p = run(["replay", seed000, "--choices", "1,1", "--quiet"], 0)
if "outcome: done" not in p.stdout:
    failures.append(f"replay --choices 1,1 did not end done: {p.stdout[-300:]}")
run(["replay", seed000, "--choices", "0,9"], 2)

# 2. --trace-out of a clean search: the first schedule.
t2 = os.path.join(WORK, "clean.trace.jsonl")
if os.path.exists(t2):
    os.remove(t2)
p = run(["explore", "sockmap-multi-channels", "--set", "test=upstream", "--strategy", "dfs", "--trace-out", t2], 0)
if not os.path.exists(t2):
    failures.append("explore --trace-out wrote nothing for a clean search")
else:
    run(["replay", t2, "--check", "--quiet"], 0)
    if "trace of the first schedule written to" not in p.stdout:
        failures.append("clean explore does not say which trace it wrote")
if "metrics over" not in p.stdout:
    failures.append("a clean explore prints no figures")

# 3. replay --set: the seed-002 finding's ordering with the fix is clean, without it not.
t3 = os.path.join(WORK, "fixed.trace.jsonl")
p = run(["replay", seed002, "--set", "fix=task-sigpending", "--quiet", "--trace-out", t3], 0)
if "parameters: fix: none → task-sigpending" not in p.stdout or "outcome: done" not in p.stdout:
    failures.append(f"replay --set fix=task-sigpending: {p.stdout[-500:]}")
if not re.search(r"^schedule: followed (all )?\d+", p.stdout, re.M):
    failures.append("replay --set does not say how much of the schedule it followed")
run(["replay", t3, "--check", "--quiet"], 0)
p = run(["replay", seed002, "--set", "fix=none", "--quiet"], 1)
if "outcome: violation all-records-delivered" not in p.stdout or "followed all" not in p.stdout:
    failures.append(f"replay --set fix=none (the recorded value): {p.stdout[-400:]}")
run(["replay", seed002, "--set", "fix=task-sigpending", "--check"], 2)
run(["replay", seed002, "--set", "nosuch=1"], 2)

# 4. --json: min/median/max over the schedules.
p = run(["explore", "sockmap-multi-channels", "--set", "proto=udp", "--budget", "40", "--json"], 1)
try:
    j = json.loads(p.stdout)
    summary = j["metrics_over_schedules"]
    if not summary:
        failures.append("--json: empty metrics_over_schedules")
    for k, v in summary.items():
        if v["runs"] > j["schedules"]:
            failures.append(f"--json: {k} over {v['runs']} runs of {j['schedules']} schedules")
        if "min" in v and not v["min"] <= v["median"] <= v["max"]:
            failures.append(f"--json: {k}: min {v['min']} median {v['median']} max {v['max']}")
        if "values" in v and sum(v["values"].values()) != v["runs"]:
            failures.append(f"--json: {k}: value counts do not add up to {v['runs']}")
    if "first_recv" in summary and summary["first_recv"]["min"] == summary["first_recv"]["max"]:
        failures.append("--json: first_recv the same in every schedule of a search that found a violation")
except (json.JSONDecodeError, KeyError, TypeError) as e:
    failures.append(f"--json: {e}")

for f in failures:
    print("FAIL:", f)
print(f"--choices, clean --trace-out, replay --set, --json summaries; {len(failures)} failures")
sys.exit(1 if failures else 0)
