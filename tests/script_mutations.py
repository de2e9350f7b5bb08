#!/usr/bin/env python3
"""Mutated scenario scripts through the whole CLI: never a crash, a hang or a silent run.

Each built-in script (scenarios/*.kps) is mutated N times with a fixed seed (byte flips,
deletions, duplicated or swapped lines, numbers widened to huge values, names replaced by
others from the same script) and explored: `kpsim explore FILE --budget 5`. Every run must end
within the timeout with exit 0, 1, 3 (a valid script, explored) or 2 (refused: one line on
stderr, `kpsim: FILE:LINE:COL: ...`). 70 (internal error), a signal or a timeout fails.

usage: script_mutations.py KPSIM SCENARIOS_DIR [N per script] [seed]
"""
import os
import random
import re
import subprocess
import sys
import tempfile

kpsim, scen_dir = sys.argv[1], sys.argv[2]
per_script = int(sys.argv[3]) if len(sys.argv) > 3 else 40
rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 20261202)


def mutate(text):
    lines = text.split("\n")
    words = sorted(set(re.findall(r"[A-Za-z_][A-Za-z_0-9]*", text)))
    kind = rng.randrange(7)
    if kind == 0 and text:  # flip a byte
        i = rng.randrange(len(text))
        return text[:i] + chr(rng.randrange(1, 128)) + text[i + 1:]
    if kind == 1 and text:  # delete a span
        i = rng.randrange(len(text))
        return text[:i] + text[i + rng.randrange(1, 20):]
    if kind == 2:  # duplicate a line
        i = rng.randrange(len(lines))
        return "\n".join(lines[:i] + [lines[i]] + lines[i:])
    if kind == 3 and len(lines) > 1:  # swap two lines
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
        return "\n".join(lines)
    if kind == 4:  # widen a number
        nums = list(re.finditer(r"\d+", text))
        if nums:
            m = rng.choice(nums)
            big = rng.choice(["0", "99999999999999999999999", "4294967296", "65535", "1000000"])
            return text[:m.start()] + big + text[m.end():]
    if kind == 5 and words:  # replace a name by another
        m = list(re.finditer(r"[A-Za-z_][A-Za-z_0-9]*", text))
        if m:
            x = rng.choice(m)
            return text[:x.start()] + rng.choice(words) + text[x.end():]
    # truncate
    return text[: rng.randrange(len(text) + 1)]


failures = 0
counts = {}
scripts = sorted(f for f in os.listdir(scen_dir) if f.endswith(".kps"))
with tempfile.TemporaryDirectory() as d:
    for name in scripts:
        original = open(os.path.join(scen_dir, name)).read()
        for k in range(per_script):
            text = mutate(original)
            for _ in range(rng.randrange(3)):
                text = mutate(text)
            path = os.path.join(d, f"m{k}.kps")
            with open(path, "w") as f:
                f.write(text)
            try:
                r = subprocess.run([kpsim, "explore", path, "--budget", "5", "--quiet"],
                                   capture_output=True, text=True, timeout=20)
            except subprocess.TimeoutExpired:
                print(f"TIMEOUT {name} mutation {k}")
                failures += 1
                continue
            counts[r.returncode] = counts.get(r.returncode, 0) + 1
            ok = r.returncode in (0, 1, 3)
            if r.returncode == 2:
                err = r.stderr.strip().split("\n")
                ok = len(err) == 1 and re.match(r"^kpsim: ", err[0]) is not None
                if ok and err[0].startswith("kpsim: " + path):
                    ok = re.match(r"^kpsim: " + re.escape(path) + r":\d+:\d+: ", err[0]) is not None
            if not ok:
                failures += 1
                keep = os.path.join(tempfile.gettempdir(), f"kpsim-mutant-{name}-{k}.kps")
                with open(keep, "w") as f:
                    f.write(text)
                print(f"FAIL {name} mutation {k}: exit {r.returncode}, kept as {keep}\n{r.stderr[-500:]}")

print(f"{len(scripts)} scripts x {per_script} mutations: exits {dict(sorted(counts.items()))}, "
      f"{failures} failures")
sys.exit(1 if failures else 0)
