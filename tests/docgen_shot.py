#!/usr/bin/env python3
"""docgen_shot.py KPSIM: `kpsim docgen`'s shot blocks (the HTML page in headless Chromium).

- A shot block writes a PNG of the asked size and a Markdown image naming it; --check passes.
- --check fails (exit 1) when the picture is missing or has another size (pixels are not
  compared: they depend on the fonts), and a bad block (no file=, a non-PNG name) exits 2.
- Regenerating without a browser exits 2 with one line naming what is missing.
Prints SKIP and exits 0 where Chromium is not installed (scripts/setup-browser installs it).
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile

kpsim = os.path.abspath(sys.argv[1])
chromium = os.environ.get("KPSIM_CHROMIUM") or shutil.which("chromium")
if not chromium:
    print("SKIP: no chromium (scripts/setup-browser installs Debian's)")
    sys.exit(0)
fails = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        fails.append(what)


def run(*args, env=None):
    p = subprocess.run([kpsim, *args], capture_output=True, text=True, timeout=300, env=env)
    return p.returncode, p.stdout, p.stderr


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


with tempfile.TemporaryDirectory() as d:
    doc = os.path.join(d, "doc.md")
    block = ("<!-- kpsim:shot sockmap-multi-channels proto=udp find=violation step=9 search=p1.psock "
             "width=640 height=480 file=img/p.png -->\n<!-- /kpsim -->\n")
    with open(doc, "w") as f:
        f.write(block)
    rc, out, err = run("docgen", doc)
    png = os.path.join(d, "img", "p.png")
    check(rc == 0 and os.path.exists(png), f"a shot block writes its picture (rc {rc}: {err.strip()[-300:]})")
    check(os.path.exists(png) and png_size(png) == (640, 480), f"the PNG is 640 x 480 ({os.path.exists(png) and png_size(png)})")
    text = open(doc).read()
    check("](img/p.png)" in text and "step 9" in text, "the block is a Markdown image of the step")
    rc, _, _ = run("docgen", "--check", doc)
    check(rc == 0, "a fresh picture passes --check")
    with open(doc, "w") as f:
        f.write(text.replace("width=640", "width=800"))
    rc, out, _ = run("docgen", "--check", doc)
    check(rc == 1 and "p.png" in out, "a picture of another size is stale (exit 1)")
    os.remove(png)
    with open(doc, "w") as f:
        f.write(text)
    rc, out, _ = run("docgen", "--check", doc)
    check(rc == 1, "a missing picture is stale (exit 1)")
    env = dict(os.environ, KPSIM_CHROMIUM="/nonexistent/chromium")
    rc, _, err = run("docgen", doc, env=env)
    check(rc == 2 and err.startswith("kpsim: docgen:") and "/nonexistent/chromium" in err,
          f"no browser: exit 2 and one line ({rc}: {err.strip()[:160]})")
    for body, what in [("sockmap-multi-channels proto=udp step=9", "no file="),
                       ("sockmap-multi-channels proto=udp file=img/p.svg", "a file that is not .png"),
                       ("sockmap-multi-channels width=20 file=img/p.png", "width= under 100 pixels")]:
        with open(doc, "w") as f:
            f.write(f"<!-- kpsim:shot {body} -->\n<!-- /kpsim -->\n")
        rc, _, err = run("docgen", doc)
        check(rc == 2 and err.startswith("kpsim: docgen:"), f"{what}: exit 2 ({rc}: {err.strip()[:120]})")

print(f"{len(fails)} failures")
sys.exit(1 if fails else 0)
