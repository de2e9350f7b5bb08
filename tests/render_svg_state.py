#!/usr/bin/env python3
"""The SVG diagram and Perfetto's state counters on fresh format-3 traces (issue 14).

render_svg_state.py KPSIM WORKDIR

SVG: well-formed XML in the SVG namespace, nothing outside itself (no URL but the namespace, no
href but the internal arrow marker), one lane header per task, one choice mark per step a choice
picked, every step drawn (once, or inside a collapsed "xN" row whose range covers it), and
--no-collapse drawing one row per step. Perfetto: the state counters (process "state") are
exactly the trace's state values: the state is rebuilt step by step from the trace and every
counter event must carry the value its name has at that step.
"""
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

KPSIM, WORK = sys.argv[1], sys.argv[2]
SVG = "{http://www.w3.org/2000/svg}"
os.makedirs(WORK, exist_ok=True)
failures = []


def run(args, want=None):
    p = subprocess.run([KPSIM] + args, capture_output=True, text=True, timeout=600)
    if want is not None and p.returncode not in want:
        failures.append(f"kpsim {' '.join(args)}: exit {p.returncode}, wanted {want}: {p.stderr[-300:]}")
    return p


def load(path):
    with open(path) as fh:
        lines = [json.loads(l) for l in fh]
    return lines[0], [l for l in lines if l["type"] == "step"], lines[-1]


def check_svg(name, path, steps):
    def bad(msg):
        failures.append(f"{name}: {msg}")
    out = run(["render", path, "--format", "svg"], want=[0]).stdout
    every = run(["render", path, "--format", "svg", "--no-collapse"], want=[0]).stdout
    for label, text in (("svg", out), ("svg --no-collapse", every)):
        try:
            root = ET.fromstring(text.encode())
        except ET.ParseError as e:
            bad(f"{label} is not well-formed XML: {e}")
            return
        if root.tag != SVG + "svg":
            bad(f"{label}: root is {root.tag}, not svg")
        # Offline: the namespace is the only URL; the only reference is to the arrow marker.
        if len(re.findall(r"https?://", text)) != 1:
            bad(f"{label}: refers to a URL besides the SVG namespace")
        for el in root.iter():
            for k, v in el.attrib.items():
                if k.endswith("href") or ("url(" in v and v != "url(#arrow)"):
                    bad(f"{label}: external reference {k}={v}")
        lanes = {s["task"] for s in steps}
        heads = [g for g in root.iter(SVG + "g") if g.get("class") == "lane"]
        if len(heads) != len(lanes):
            bad(f"{label}: {len(heads)} lane headers for {len(lanes)} tasks")
        # Every choice is on the picture: a mark per chosen step, or counted by a collapsed row's.
        marks = [g for g in root.iter(SVG + "g") if g.get("class") == "choice"]
        picked = sum(1 for s in steps if "pick" in s)
        if sum(int(g.get("data-count", "1")) for g in marks) != picked:
            bad(f"{label}: choice marks count {sum(int(g.get('data-count', '1')) for g in marks)} for {picked} chosen steps")
        rows = [g for g in root.iter(SVG + "g") if (g.get("class") or "").startswith("step")]
        covered = []
        for g in rows:
            if g.get("class") == "step collapsed":
                num = next(t for t in g.iter(SVG + "text") if t.get("class") == "num")
                a, b = ("".join(num.itertext())).split("..")
                covered += range(int(a), int(b) + 1)
            else:
                covered.append(int(g.get("data-step")))
        if covered != [s["step"] for s in steps]:
            bad(f"{label}: rows cover steps {covered[:20]}..., the trace has {len(steps)}")
        if label.endswith("collapse") and len(rows) != len(steps):
            bad(f"{label}: {len(rows)} rows for {len(steps)} steps")
    return out


def check_perfetto_state(name, path, steps):
    def bad(msg):
        failures.append(f"{name}: {msg}")
    doc = json.loads(run(["render", path, "--format", "perfetto", "--time", "steps"], want=[0]).stdout)
    events = doc["traceEvents"]
    procs = {e["pid"]: e["args"]["name"] for e in events if e.get("ph") == "M" and e["name"] == "process_name"}
    state_pids = [p for p, n in procs.items() if n.startswith("state")]
    if len(state_pids) != 1:
        return bad(f"no (or several) state processes: {procs}")
    counters = [e for e in events if e.get("ph") == "C" and e["pid"] == state_pids[0]]
    if not counters:
        return bad("no state counters")
    # The state after each step, rebuilt from the deltas.
    state, at = {}, {}
    for s in steps:
        for k, v in (s.get("state") or {}).items():
            if v is None:
                state.pop(k, None)
            else:
                state[k] = v
        at[s["step"]] = dict(state)
    names = set()
    for c in counters:
        step, key, value = int(c["ts"]), c["name"], c["args"]["value"]
        names.add(key)
        want = at.get(step, {}).get(key, 0)
        if value != want or not isinstance(value, int):
            bad(f"counter {key} at step {step} is {value}, the state says {want}")
    for field in ("msg_tot_len", "bytes"):
        if not any(n.endswith("." + field) for n in names) and any(k.endswith("." + field) for k in state):
            bad(f"no counter for the state's {field} values")
    return names


# Fresh format-3 traces: the seed-000 violation (sockmap), the seed-001 kTLS stall (TCP: cwnd,
# windows, notsent, in flight) and a clean seed-002 run (io_uring, async crypto).
cases = [
    ("seed000", ["explore", "sockmap-multi-channels", "--set", "proto=udp"], [1]),
    ("seed001", ["explore", "ktls-sendfile-stall", "--set", "notsent_lowat=16384"], [1]),
    ("seed002-fixed", ["explore", "ktls-async-close", "--set", "io=uring", "--set", "crypto=async",
                       "--set", "fix=task-sigpending", "--budget", "3"], [0]),
]
collapsed_somewhere = False
for name, args, want in cases:
    path = os.path.join(WORK, name + ".trace.jsonl")
    if os.path.exists(path):
        os.remove(path)
    run(args + ["--trace-out", path, "--quiet"], want=want)
    if not os.path.exists(path):
        failures.append(f"{name}: no trace written")
        continue
    header, steps, footer = load(path)
    if header.get("format") != 3:
        failures.append(f"{name}: trace format {header.get('format')}, wanted 3")
    svg = check_svg(name, path, steps)
    collapsed_somewhere |= svg is not None and 'class="step collapsed"' in svg
    names = check_perfetto_state(name, path, steps)
    if name == "seed001" and names is not None:
        for field in ("snd_cwnd", "snd_wnd", "notsent", "packets_out"):
            if not any(n.endswith("." + field) for n in names):
                failures.append(f"{name}: no state counter for {field}")
if not collapsed_somewhere:
    failures.append("no trace had a stretch of similar steps collapsed")

for f in failures:
    print("FAIL:", f)
print(f"{len(cases)} fresh traces drawn as SVG and Perfetto state counters; {len(failures)} failures")
sys.exit(1 if failures else 0)
