#!/usr/bin/env python3
"""docgen_run_sweep.py KPSIM: `kpsim docgen` run blocks and the sweep features the docs use.

- A run block regenerates to the command's real output (lines=, mask=elapsed, fence=none);
  --check passes on the fresh file and fails (exit 1) once the output in the file is edited.
- Bad run blocks stop docgen with exit 2 and one line: shell syntax, an unknown option, a lines=
  range past the output, an exit code other than the one asked for.
- sweep --format markdown is a Markdown table whose rows agree with --format csv; --choices 0
  runs one schedule per cell; --bisect with swept keys gives one row per combination with the
  same flip as a single --bisect of that combination.
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

print(f"{len(fails)} failures")
sys.exit(1 if fails else 0)
