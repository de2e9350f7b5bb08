#!/usr/bin/env python3
"""The mutation experiment of issue 17, as a test.

mutate_findings.py KPSIM FINDINGS_DIR [--count N] [--seed S] [--timeout SECONDS] [--jobs J]

Mutates the stored findings (FINDINGS_DIR/*.jsonl) N times with a fixed seed -- byte flips, digit
changes, numbers widened past what a trace may hold (1e400, 2^64, 2^32, -1, 1.5, ...), key
deletion, line duplication, line truncation, line deletion -- and runs `kpsim replay --check
--quiet` and `kpsim render` on each mutant under a timeout. It fails on:

- a crash or any exit code outside the contract: replay --check may exit 0, 2 (bad input) or 5
  (not reproduced); render 0 or 2;
- a timeout (a run past --timeout seconds);
- replay --check exiting 0 for a mutant that is not equivalent to its original, or not 0 for
  one that is byte-identical. Equivalent means precisely: the same number of lines, each line
  in the writer's canonical form (compact JSON, keys in the writer's order, UTF-8 as is, no
  blank lines, no added whitespace -- whitespace JSON ignores is NOT ignored, since the check
  compares bytes), and equal to the original's line once the values of the annotations replay
  cannot re-derive are set aside: the header's `seed`, `strategy` (which kpsim still requires
  to be one of its strategies) and `kpsim_version`, the footer's `crosscheck`
  (cli/cmd_replay.cpp).
  One more change may legitimately pass: a mutant that differs from its original only inside
  the values of the header's `params` object. `replay --check` re-runs the choices under the
  mutant's parameters and compares bytes, so exit 0 there means the edited parameter did not
  change a single event of this schedule (e.g. read_bytes 8192 -> 8392 where no read hit the
  limit): the file IS the trace kpsim writes for that configuration. These are counted and
  printed (replay refuses a value its parameter does not accept with exit 2, so these name
  valid values only). Anything else that changed must be caught.
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

ANNOTATIONS = {"header": {"seed", "kpsim_version", "strategy"}, "footer": {"crosscheck"}}
WIDE = ["1e400", "-1e400", "18446744073709551616", "18446744073709551615", "4294967296",
        "4294967295", "-1", "1.5", "1e3", "99999999999999999999999", "0", "2"]


def pairs(items):
    return items  # keep order and duplicates: a list of (key, value)


def dump(v):
    if isinstance(v, list) and v and all(isinstance(x, tuple) for x in v):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + dump(x) for k, x in v) + "}"
    if isinstance(v, list) and not v:
        return "[]"
    if isinstance(v, list):
        return "[" + ",".join(dump(x) for x in v) + "]"
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def parse(line):
    # Objects become lists of (key, value) tuples; empty objects an empty tuple list sentinel.
    def hook(items):
        return [tuple(kv) for kv in items] if items else {}
    return json.loads(line, object_pairs_hook=hook)


def normalized(text):
    """The lines with annotation values set aside, or None if `text` is not canonical."""
    if not text.endswith("\n"):
        return None
    out = []
    for line in text[:-1].split("\n"):
        try:
            obj = parse(line)
        except (ValueError, RecursionError):
            return None
        if dump(obj) != line or not isinstance(obj, list):
            return None
        kinds = [v for k, v in obj if k == "type"]
        skip = ANNOTATIONS.get(kinds[0], set()) if len(kinds) == 1 and isinstance(kinds[0], str) else set()
        out.append([(k, "<annotation>" if k in skip else v) for k, v in obj])
    return out


def without_param_values(norm):
    """`normalized` lines with the header's params values set aside (keys and order kept)."""
    if norm is None:
        return None
    out = [list(line) for line in norm]
    head = out[0]
    for i, (k, v) in enumerate(head):
        if k == "params" and isinstance(v, list):
            head[i] = (k, [(pk, "<value>") for pk, _ in v])
    return out


def mutate(rng, data):
    lines = data.split(b"\n")
    kind = rng.choice(["flip", "digit", "widen", "delete_key", "dup_line", "truncate_line",
                       "delete_line", "truncate_file"])
    if kind == "flip":
        i = rng.randrange(len(data))
        return kind, data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1:]
    if kind == "digit":
        pos = [m.start() for m in re.finditer(rb"[0-9]", data)]
        i = rng.choice(pos)
        d = rng.choice([c for c in b"0123456789" if c != data[i]])
        return kind, data[:i] + bytes([d]) + data[i + 1:]
    if kind == "widen":
        nums = list(re.finditer(rb"(?<![\"\w.])-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?", data))
        m = rng.choice(nums)
        return kind, data[:m.start()] + rng.choice(WIDE).encode() + data[m.end():]
    if kind == "delete_key":
        idx = rng.randrange(len(lines) - 1)  # the last element is the empty tail
        obj = parse(lines[idx].decode())
        holders = []

        def walk(v):
            if isinstance(v, list) and v and all(isinstance(x, tuple) for x in v):
                holders.append(v)
                for _, x in v:
                    walk(x)
            elif isinstance(v, list):
                for x in v:
                    walk(x)
        walk(obj)
        h = rng.choice(holders)
        del h[rng.randrange(len(h))]
        lines[idx] = (dump(obj) if obj else "{}").encode()
        return kind, b"\n".join(lines)
    if kind == "dup_line":
        idx = rng.randrange(len(lines) - 1)
        lines.insert(idx, lines[idx])
        return kind, b"\n".join(lines)
    if kind == "truncate_line":
        idx = rng.randrange(len(lines) - 1)
        lines[idx] = lines[idx][:rng.randrange(len(lines[idx]) + 1)]
        return kind, b"\n".join(lines)
    if kind == "delete_line":
        idx = rng.randrange(len(lines) - 1)
        del lines[idx]
        return kind, b"\n".join(lines)
    return kind, data[:rng.randrange(len(data))]  # truncate_file


def run(cmd, timeout):
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout)
        return p.returncode, time.monotonic() - t0, p.stderr.decode(errors="replace")[-300:]
    except subprocess.TimeoutExpired:
        return "timeout", time.monotonic() - t0, ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kpsim")
    ap.add_argument("findings")
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()

    originals = []
    for name in sorted(os.listdir(a.findings)):
        if name.endswith(".jsonl"):
            with open(os.path.join(a.findings, name), "rb") as f:
                data = f.read()
            originals.append((name, data, normalized(data.decode())))
    if not originals:
        sys.exit("no findings under " + a.findings)
    rng = random.Random(a.seed)
    work = tempfile.mkdtemp(prefix="kpsim-mutants.")
    jobs = []
    for i in range(a.count):
        name, data, norm = rng.choice(originals)
        kind, mutant = mutate(rng, data)
        path = os.path.join(work, "m%04d.trace.jsonl" % i)
        with open(path, "wb") as f:
            f.write(mutant)
        try:
            mnorm = normalized(mutant.decode())
        except UnicodeDecodeError:
            mnorm = None
        equivalent = mnorm == norm
        params_only = not equivalent and mnorm is not None and without_param_values(mnorm) == without_param_values(norm)
        jobs.append((i, name, kind, path, mutant == data, equivalent, params_only))

    def check(job):
        i, name, kind, path, identical, equivalent, params_only = job
        bad = []
        rc, t1, err = run([a.kpsim, "replay", path, "--check", "--quiet"], a.timeout)
        if rc not in (0, 2, 5):
            bad.append("replay --check exited %s %s" % (rc, err.strip()))
        elif rc == 0 and not equivalent and not params_only:
            bad.append("replay --check exited 0 for a changed trace")
        elif identical and rc != 0:
            bad.append("replay --check exited %s for an unchanged trace" % rc)
        rc2, t2, err2 = run([a.kpsim, "render", path], a.timeout)
        if rc2 not in (0, 2):
            bad.append("render exited %s %s" % (rc2, err2.strip()))
        return i, name, kind, path, rc, rc2, max(t1, t2), bad, params_only and rc == 0

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=a.jobs) as ex:
        results = list(ex.map(check, jobs))
    elapsed = time.monotonic() - t0
    failures = [r for r in results if r[7]]
    codes = {}
    for r in results:
        codes[("replay", r[4])] = codes.get(("replay", r[4]), 0) + 1
        codes[("render", r[5])] = codes.get(("render", r[5]), 0) + 1
    slowest = max(results, key=lambda r: r[6])
    print("%d mutants of %d findings (seed %d) in %.1f s; exit codes: %s" % (
        a.count, len(originals), a.seed, elapsed,
        ", ".join("%s %s: %d" % (k[0], k[1], v) for k, v in sorted(codes.items(), key=str))))
    print("equivalent mutants: %d (byte-identical %d); parameter edits that replayed identically: %d; "
          "slowest run %.2f s (%s, %s)" % (
              sum(1 for j in jobs if j[5]), sum(1 for j in jobs if j[4]), sum(1 for r in results if r[8]),
              slowest[6], slowest[2], slowest[1]))
    for i, name, kind, path, rc, rc2, t, bad, _ in failures[:20]:
        print("FAIL mutant %d (%s of %s, kept at %s): %s" % (i, kind, name, path, "; ".join(bad)))
    if failures:
        print("%d of %d mutants failed; mutants kept in %s" % (len(failures), a.count, work))
        sys.exit(1)
    for j in jobs:
        os.remove(j[3])
    os.rmdir(work)
    print("0 crashes, 0 timeouts, exit 0 only for equivalent mutants")


if __name__ == "__main__":
    main()
