#!/usr/bin/env python3
"""The renderers on every stored finding: Perfetto JSON checked against the trace-event format
(as ui.perfetto.dev and chrome://tracing read it), the text chart's --width/--lanes/--steps, the
HTML page self-contained (the browser test, html_page_test.mjs, runs it).

render_formats.py KPSIM FINDINGS_DIR
"""
import glob
import json
import os
import subprocess
import sys

KPSIM, FINDINGS = sys.argv[1], sys.argv[2]
failures = []


def render(args):
    p = subprocess.run([KPSIM, "render"] + args, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        failures.append(f"render {' '.join(args)}: exit {p.returncode}: {p.stderr[-400:]}")
    return p.stdout


def check_perfetto(name, doc, steps):
    def bad(msg):
        failures.append(f"{name}: {msg}")
    if not isinstance(doc, dict) or not isinstance(doc.get("traceEvents"), list):
        return bad("no traceEvents array")
    if doc.get("displayTimeUnit") not in ("ns", "ms"):
        bad("displayTimeUnit is not ns or ms")
    named_tids, used_tids, flows = set(), set(), {}
    last_end = {}
    slices = 0
    for e in doc["traceEvents"]:
        ph = e.get("ph")
        if ph not in ("M", "X", "i", "s", "f", "C"):
            bad(f"unknown phase {ph!r}")
            continue
        if not isinstance(e.get("pid"), int) or not isinstance(e.get("name"), str):
            bad(f"event without an integer pid or a name: {e}")
        if ph == "M":
            if e["name"] not in ("process_name", "thread_name", "thread_sort_index"):
                bad(f"unknown metadata {e['name']}")
            if e["name"] == "thread_name":
                named_tids.add(e["tid"])
            continue
        ts = e.get("ts")
        if not isinstance(ts, (int, float)) or ts < 0:
            bad(f"ts {ts!r}")
            continue
        if ph == "C":
            args = e.get("args")
            if not isinstance(args, dict) or not args or not all(isinstance(v, (int, float)) for v in args.values()):
                bad(f"counter without numeric args: {e}")
            continue
        if not isinstance(e.get("tid"), int):
            bad(f"{ph} event without a tid")
            continue
        used_tids.add(e["tid"])
        if ph == "X":
            slices += 1
            if not isinstance(e.get("dur"), (int, float)) or e["dur"] <= 0:
                bad(f"slice with dur {e.get('dur')!r}")
                continue
            if not isinstance(e.get("args", {}).get("step"), int):
                bad("slice without args.step")
            # One task runs one step at a time: its slices do not overlap (1e-9: float rounding).
            if e["tid"] in last_end and ts < last_end[e["tid"]] - 1e-9:
                bad(f"overlapping slices on tid {e['tid']} at {ts}")
            last_end[e["tid"]] = ts + e["dur"]
        elif ph == "i":
            if e.get("s") not in ("t", "p", "g"):
                bad("instant without a scope")
        else:
            if not isinstance(e.get("id"), int):
                bad("flow without an integer id")
                continue
            flows.setdefault(e["id"], {})[ph] = ts
    if used_tids - named_tids:
        bad(f"tracks without a thread_name: {sorted(used_tids - named_tids)}")
    for fid, ends in flows.items():
        if set(ends) != {"s", "f"}:
            bad(f"flow {fid} is not one start and one finish")
        elif ends["f"] < ends["s"]:
            bad(f"flow {fid} ends before it starts")
    if slices != steps:
        bad(f"{slices} slices for {steps} steps")


traces = sorted(glob.glob(os.path.join(FINDINGS, "*.jsonl")))
if not traces:
    failures.append(f"no traces under {FINDINGS}")
for path in traces:
    base = os.path.basename(path)
    with open(path) as fh:
        steps = sum(1 for line in fh if '"type":"step"' in line)
    for time in ("virtual", "steps"):
        out = render([path, "--format", "perfetto", "--time", time])
        try:
            check_perfetto(f"{base} ({time})", json.loads(out), steps)
        except json.JSONDecodeError as e:
            failures.append(f"{base}: perfetto output is not JSON: {e}")
    for width in (40, 80, 132):
        for line in render([path, "--width", str(width)]).splitlines():
            # Rows fit, unless the lanes would be narrower than 6 columns (at most 20 lanes here).
            if line.endswith("|") and len(line) > max(width, 19 + 8 * 20):
                failures.append(f"{base}: --width {width}: a {len(line)}-column row")
    whole = render([path])
    some = render([path, "--steps", "2..4"])
    rows = [l for l in some.splitlines() if l[:5].strip().isdigit() and len(l) > 18 and l[18] == "|"]
    if [int(l[:5]) for l in rows] != [s for s in (2, 3, 4) if s <= steps]:
        failures.append(f"{base}: --steps 2..4 showed steps {[l[:5].strip() for l in rows]}")
    mermaid = render([path, "--format", "mermaid"])
    if not (mermaid.startswith("```mermaid\nsequenceDiagram\n") and mermaid.endswith("```\n")):
        failures.append(f"{base}: mermaid output is not one fenced sequenceDiagram")
    # The HTML page: self-contained (nothing fetched: no http(s) URL, no src= or href= at all)
    # and carrying every step of the trace in its data block.
    page = render([path, "--format", "html"])
    if "http://" in page or "https://" in page or " src=" in page or " href=" in page:
        failures.append(f"{base}: the html page refers to something outside itself")
    start = page.find('<script type="application/json" id="trace-data">')
    end = page.find("</script>", start)
    if start < 0 or end < 0:
        failures.append(f"{base}: the html page has no trace-data block")
    else:
        data = json.loads(page[start + len('<script type="application/json" id="trace-data">'):end])
        if len(data["steps"]) != steps or [s["step"] for s in data["steps"]] != list(range(1, steps + 1)):
            failures.append(f"{base}: the html page holds {len(data['steps'])} steps, the trace {steps}")

# Bad options are refused, not ignored.
for args in (["--steps", "5..2"], ["--steps", "x"], ["--width", "3"], ["--format", "svgz"], ["--time", "wall"]):
    p = subprocess.run([KPSIM, "render", traces[0]] + args, capture_output=True, text=True, timeout=60)
    if p.returncode != 2:
        failures.append(f"render {' '.join(args)}: exit {p.returncode}, wanted 2")

for f in failures:
    print("FAIL:", f)
print(f"{len(traces)} traces rendered in every format; {len(failures)} failures")
sys.exit(1 if failures else 0)
