#!/usr/bin/env python3
"""Sharded search (explore --shard I/N) and `kpsim merge`, end to end.

shard_merge.py KPSIM

For searches small enough to finish: N shards of a dfs, merged, must equal the unsharded run in
schedules, violations, outcome counts and exhaustiveness, for several N and cut depths, with and
without a preemption bound. Then the refusals: a missing shard, a shard given twice, shards of
two searches, a file that is not a result (exit 2 each), and a sharded random search whose
merged schedule count is the sum of the parts.
"""
import json
import os
import subprocess
import sys
import tempfile

KPSIM = sys.argv[1]
failures = []


def run(args, want_rc=None):
    p = subprocess.run([KPSIM] + args, capture_output=True, text=True, timeout=600)
    if want_rc is not None and p.returncode != want_rc:
        failures.append(f"{' '.join(args)}: exit {p.returncode}, wanted {want_rc}\n{p.stdout[-800:]}{p.stderr[-800:]}")
    return p


def explore_json(args):
    p = run(["explore"] + args + ["--json", "--quiet"])
    if p.returncode not in (0, 1):
        failures.append(f"explore {' '.join(args)}: exit {p.returncode}\n{p.stderr[-800:]}")
        return None, p.returncode
    return json.loads(p.stdout), p.returncode


tmp = tempfile.mkdtemp(prefix="kpsim-shard-test.")

# (scenario args, extra explore args): each dfs finishes in seconds.
searches = [
    (["lost-update", "--set", "tasks=3", "--set", "incs=1"], []),
    (["lost-update", "--set", "tasks=2", "--set", "incs=3"], ["--preemption-bound", "1"]),
    (["sockmap-multi-channels", "--set", "proto=udp"], []),
    (["sockmap-recv-2-then-8", "--set", "proto=tcp"], []),
]
checked = 0
for scen, extra in searches:
    base = scen + ["--strategy", "dfs", "--no-shrink"] + extra
    whole, whole_rc = explore_json(base)
    if whole is None:
        continue
    if not whole["exhaustive"]:
        failures.append(f"{base}: the unsharded dfs did not finish; the test needs a smaller search")
        continue
    for count, depth in [(2, 8), (4, 2), (4, 8), (3, 30)]:
        files = []
        for i in range(count):
            part, _ = explore_json(base + ["--shard", f"{i}/{count}", "--shard-depth", str(depth)])
            if part is None:
                break
            f = os.path.join(tmp, f"s{checked}-{i}.json")
            with open(f, "w") as fh:
                json.dump(part, fh)
            files.append(f)
        if len(files) != count:
            continue
        # Given in reverse order: merge sorts by shard index.
        p = run(["merge", "--json"] + files[::-1])
        if p.returncode != whole_rc:
            failures.append(f"merge of {base} {count}@{depth}: exit {p.returncode}, unsharded {whole_rc}\n{p.stderr}")
            continue
        m = json.loads(p.stdout)
        for key in ("schedules", "violations", "outcomes", "exhaustive", "verdict", "inconclusive"):
            if m[key] != whole[key]:
                failures.append(f"{base} in {count} shards at depth {depth}: {key} {m[key]} merged, {whole[key]} unsharded")
        if whole["violations"] and "first_violation" not in m:
            failures.append(f"{base} in {count} shards: the merged result has no first violation")
        checked += 1
        print(f"ok: {' '.join(base)}  {count} shards at depth {depth}: {m['schedules']} schedules, "
              f"{m['foreign_runs']} foreign runs")

# Refusals, from the first search's shards.
scen = ["lost-update", "--set", "tasks=3", "--set", "incs=1", "--strategy", "dfs", "--no-shrink"]
parts = []
for i in range(3):
    part, _ = explore_json(scen + ["--shard", f"{i}/3"])
    f = os.path.join(tmp, f"r{i}.json")
    with open(f, "w") as fh:
        json.dump(part, fh)
    parts.append(f)
p = run(["merge", parts[0], parts[2]], want_rc=2)
if "shards 1 of 3 are missing" not in p.stderr:
    failures.append(f"missing shard: message was {p.stderr!r}")
p = run(["merge", parts[0], parts[1], parts[1], parts[2]], want_rc=2)
if "are both shard 1/3" not in p.stderr:
    failures.append(f"duplicate shard: message was {p.stderr!r}")
other, _ = explore_json(["lost-update", "--set", "tasks=3", "--set", "incs=2", "--strategy", "dfs", "--no-shrink",
                         "--shard", "1/3", "--budget", "50"])
fo = os.path.join(tmp, "other.json")
with open(fo, "w") as fh:
    json.dump(other, fh)
p = run(["merge", parts[0], fo, parts[2]], want_rc=2)
if "shards of different searches" not in p.stderr:
    failures.append(f"foreign search: message was {p.stderr!r}")
fj = os.path.join(tmp, "junk.json")
with open(fj, "w") as fh:
    fh.write('{"schedules": 3}')
run(["merge", fj], want_rc=2)
run(["explore", "lost-update", "--shard", "3/3"], want_rc=2)
run(["explore", "lost-update", "--shard", "1"], want_rc=2)

# random: each shard its own stream; the merged count is the parts' sum, and a shard is
# reproducible from its command line.
rparts = []
for i in range(2):
    part, _ = explore_json(["lost-update", "--set", "tasks=3", "--set", "incs=2", "--budget", "40", "--seed", "5",
                            "--shard", f"{i}/2", "--no-shrink"])
    again, _ = explore_json(["lost-update", "--set", "tasks=3", "--set", "incs=2", "--budget", "40", "--seed", "5",
                             "--shard", f"{i}/2", "--no-shrink"])
    part.pop("elapsed_ms", None)
    again.pop("elapsed_ms", None)
    if part != again:
        failures.append(f"random shard {i}/2 differs between two runs")
    f = os.path.join(tmp, f"rand{i}.json")
    with open(f, "w") as fh:
        json.dump(part, fh)
    rparts.append(f)
p = run(["merge", "--json"] + rparts)
if p.returncode in (0, 1) and json.loads(p.stdout)["schedules"] != 80:
    failures.append(f"random merge: {json.loads(p.stdout)['schedules']} schedules, wanted 80")

if checked < len(searches) * 4:
    failures.append(f"only {checked} sharded searches compared")
for f in failures:
    print("FAIL:", f)
print(f"{checked} sharded searches equal their unsharded run; {len(failures)} failures")
sys.exit(1 if failures else 0)
