#!/usr/bin/env python3
"""docgen_run_sweep.py KPSIM: `kpsim docgen` run blocks and the sweep features the docs use.

- A run block regenerates to the command's real output (lines=, mask=elapsed, fence=none);
  --check passes on the fresh file and fails (exit 1) once the output in the file is edited.
- Bad run blocks stop docgen with exit 2 and one line: shell syntax, an unknown option, a lines=
  range past the output, an exit code other than the one asked for.
- sweep --format markdown is a Markdown table whose rows agree with --format csv; --choices 0
  runs one schedule per cell; --bisect with swept keys gives one row per combination with the
  same flip as a single --bisect of that combination.
- --search, --seeds and --variant: each row equals the explore it stands for (first_at is
  explore's first violation; the mean / worst over seeds is computed from the single runs);
  dfs draws no seed (one run); a --variant key also given with --set is refused; a run block's
  "double-quoted" word stays one word.
"""
import os
import subprocess
import sys
import tempfile

kpsim = os.path.abspath(sys.argv[1])
fails = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        fails.append(what)


def run(*args, cwd=None):
    p = subprocess.run([kpsim, *args], capture_output=True, text=True, cwd=cwd, timeout=300)
    return p.returncode, p.stdout, p.stderr


with tempfile.TemporaryDirectory() as d:
    doc = os.path.join(d, "doc.md")
    sweep = ("sweep ktls-sendfile-stall --set mss=1448,65483 --set notsent_lowat=16384 "
             "--set bytes=262144 --choices 0 --metric persist_expiries_open_window --format markdown")
    with open(doc, "w") as f:
        f.write("# t\n<!-- kpsim:run explore lost-update --budget 50 --quiet | lines=1,3 mask=elapsed -->\n"
                "<!-- /kpsim -->\n<!-- kpsim:run " + sweep + " | fence=none -->\n<!-- /kpsim -->\nend\n")
    rc, out, err = run("docgen", "--root", d, doc)
    check(rc == 0, f"docgen writes run blocks (rc {rc}: {err.strip()})")
    text = open(doc).read()
    print(text)
    check("$ build/kpsim explore lost-update --budget 50 --quiet\n" in text, "the command line is shown")
    check("(wall clock)" in text and "  ...\n" in text, "mask=elapsed and the elided lines are marked")
    check("| mss | notsent_lowat |" not in text and "| mss | verdict | schedules | persist_expiries_open_window |" in text,
          "fence=none inserts the sweep's Markdown table as itself")
    rc, _, _ = run("docgen", "--check", "--root", d, doc)
    check(rc == 0, "a fresh file passes --check")
    with open(doc, "w") as f:
        f.write(text.replace("| 65483 | violation:no-stall |", "| 65483 | clean |"))
    rc, out, _ = run("docgen", "--check", "--root", d, doc)
    check(rc == 1 and "stale" in out, "an edited output fails --check with exit 1")

    for body, what in [("explore lost-update; rm -rf x", "shell syntax"),
                       ("explore lost-update --budget 5 | colour=red", "an unknown option"),
                       ("explore lost-update --budget 5 --quiet | lines=500", "lines= past the output"),
                       ("explore lost-update --budget 5 --quiet | exit=3", "an exit code other than asked"),
                       ("explore no-such-scenario", "a failing command")]:
        with open(doc, "w") as f:
            f.write(f"<!-- kpsim:run {body} -->\n<!-- /kpsim -->\n")
        rc, out, err = run("docgen", "--root", d, doc)
        check(rc == 2 and err.startswith("kpsim: docgen:"), f"{what}: exit 2 and one kpsim: line (rc {rc}, {err.strip()[:120]})")

# sweep --format markdown against csv, --choices 0
base = ["sweep", "ktls-sendfile-stall", "--set", "mss=1448,16408,65483", "--set", "tls=1.2,1.3",
        "--set", "notsent_lowat=16384", "--set", "bytes=262144", "--choices", "0", "--metric", "segments"]
rc, md, err = run(*base, "--format", "markdown")
check(rc == 0, f"sweep --format markdown exits 0 ({err.strip()})")
rc, csv, _ = run(*base, "--format", "csv")
md_rows = [[c.strip() for c in l.strip("|").split("|")] for l in md.splitlines() if l.startswith("|") and "---" not in l]
csv_rows = [l.split(",") for l in csv.splitlines()]
check(md_rows == csv_rows and len(md_rows) == 7, f"markdown rows equal the csv rows ({len(md_rows)} rows)")
check(all(r[3] == "1" for r in md_rows[1:]), "--choices 0: one schedule per cell")
check(md_rows[1][2] == "clean" and [r[2] for r in md_rows if r[0] == "16408"] == ["clean", "violation:no-stall"],
      "the 16408 cells: TLS 1.2 clean, TLS 1.3 stalls (a 1.3 record fits one segment)")
rc, _, err = run(*base, "--budget", "3")
check(rc == 2 and "--choices" in err, "--choices with --budget is refused (exit 2)")

# --bisect over a grid equals single bisections
rc, grid, err = run("sweep", "ktls-sendfile-stall", "--set", "tls=1.2,1.3", "--set", "notsent_lowat=16384",
                    "--set", "bytes=262144", "--choices", "0", "--bisect", "mss=88..65483", "--format", "csv")
check(rc == 0, f"grid bisect exits 0 ({err.strip()})")
rows = [l.split(",") for l in grid.splitlines()[1:]]
for tls, last, first in [(r[0], r[2], r[3]) for r in rows]:
    rc, single, _ = run("sweep", "ktls-sendfile-stall", "--set", f"tls={tls}", "--set", "notsent_lowat=16384",
                        "--set", "bytes=262144", "--choices", "0", "--bisect", "mss=88..65483")
    check(f"between mss={last} (clean) and mss={first} (violation:no-stall)" in single,
          f"tls {tls}: the grid row ({last}/{first}) is the single bisection's flip")
rc, _, err = run("sweep", "ktls-sendfile-stall", "--set", "mss=1448,9000", "--bisect", "mss=88..65483")
check(rc == 2, "bisecting a swept key is refused (exit 2)")

# --search x --seeds: every row's figure from the explores it stands for
import json
import statistics
rc, md, err = run("sweep", "sockmap-multi-channels", "--set", "proto=udp", "--search", "random",
                  "--search", "pct --depth 3", "--search", "dfs", "--seeds", "1..6", "--first",
                  "--metric", "first_at", "--format", "csv")
check(rc == 0, f"sweep --search --seeds exits 0 ({err.strip()})")
rows = {r.split(",")[0]: r.split(",") for r in md.splitlines()[1:]}
print(md)
for search, argv in [("random", ["--strategy", "random"]), ("pct --depth 3", ["--strategy", "pct", "--depth", "3"])]:
    firsts = []
    for seed in range(1, 7):
        _, out, _ = run("explore", "sockmap-multi-channels", "--set", "proto=udp", *argv, "--seed", str(seed),
                        "--first", "--no-shrink", "--json", "--quiet")
        firsts.append(json.loads(out)["first_violation"]["schedule"])
    want = firsts[0] if len(set(firsts)) == 1 else f"{statistics.mean(firsts):.3g} / {max(firsts)}"
    check(search in rows and rows[search][-1] == str(want),
          f"{search}: first_at over seeds 1..6 is {want} (single explores: {firsts}); row {rows.get(search)}")
check("dfs" in rows and rows["dfs"][1].startswith("1 "), "dfs draws no seed: one run")
rc, _, err = run("sweep", "sockmap-multi-channels", "--set", "proto=udp", "--search", "dfs --budget 9",
                 "--search", "random")
check(rc == 2 and "--budget" in err, "a --search option that is not a search option is refused (exit 2)")

# --variant: rows that are not a grid, each the explore of its values
rc, out, err = run("sweep", "ktls-sendfile-stall", "--set", "bytes=262144", "--set", "notsent_lowat=16384",
                   "--variant", "mss=1448 tls=1.2", "--variant", "mss=65483", "--choices", "0", "--format", "csv")
check(rc == 0, f"sweep --variant exits 0 ({err.strip()})")
rows = [l.split(",") for l in out.splitlines()]
check(rows[0][:2] == ["variant", "verdict"] and [r[1] for r in rows[1:]] == ["clean", "violation:no-stall"],
      f"variant rows: mss=1448 tls=1.2 clean, mss=65483 stalls ({rows})")
rc, _, err = run("sweep", "ktls-sendfile-stall", "--set", "mss=1448,9000", "--variant", "mss=65483", "--choices", "0")
check(rc == 2 and "--variant" in err, "a --variant key also swept is refused (exit 2)")

# a quoted word in a run block
with tempfile.TemporaryDirectory() as d:
    doc = os.path.join(d, "doc.md")
    with open(doc, "w") as f:
        f.write('<!-- kpsim:run sweep lost-update --search "dfs --dfs-order plain" --search dpor --budget 50 '
                '--format markdown -->\n<!-- /kpsim -->\n')
    rc, _, err = run("docgen", "--root", d, doc)
    text = open(doc).read()
    print(text)
    check(rc == 0 and '$ build/kpsim sweep lost-update --search "dfs --dfs-order plain"' in text and
          "| dfs --dfs-order plain |" in text, f"a double-quoted word is one argument, shown quoted (rc {rc} {err.strip()})")

print(f"{len(fails)} failures")
sys.exit(1 if fails else 0)
