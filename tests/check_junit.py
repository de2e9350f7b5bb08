#!/usr/bin/env python3
"""check_junit.py JUNIT.xml --tests N --failures N --errors N --skipped N [--print-reproduce]

A strict reader of the JUnit XML `kpsim check --junit` writes, held to the structure Jenkins'
JUnit plugin, GitLab's and GitHub's test reporters read (the common subset of the schema):

  <testsuites name tests failures errors skipped time>
    <testsuite name tests failures errors skipped time>
      <properties><property name value/>...</properties>   (optional)
      <testcase classname name time [file]>
        at most one of <failure message type>BODY</failure>, <error message type>BODY</error>,
        <skipped message/>
      </testcase>

Every attribute is required and no other attribute or element is allowed; counts are integers
that must equal what the elements say; times are non-negative decimals. A <failure> body must
name the trace artefact (an existing file) and hold one `reproduce: kpsim explore ...` line.
With --print-reproduce, those commands are printed, one a line, for the caller to run.
Exits 0 when the file passes, 1 with the reasons otherwise.
"""
import argparse
import os
import re
import sys
import xml.etree.ElementTree as ET

COUNTS = ("tests", "failures", "errors", "skipped")
problems = []


def fail(msg):
    problems.append(msg)


def attrs(el, required, optional=()):
    have = set(el.attrib)
    for a in required:
        if a not in have:
            fail(f"<{el.tag}> lacks {a}=")
    for a in have - set(required) - set(optional):
        fail(f"<{el.tag}> has unexpected attribute {a}=")


def number(el, a):
    v = el.get(a, "")
    if not re.fullmatch(r"[0-9]+", v):
        fail(f"<{el.tag} {a}={v!r}> is not a non-negative integer")
        return -1
    return int(v)


def seconds(el):
    v = el.get("time", "")
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", v):
        fail(f"<{el.tag} time={v!r}> is not a non-negative decimal")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("junit")
    for c in COUNTS:
        ap.add_argument(f"--{c}", type=int, required=True)
    ap.add_argument("--print-reproduce", action="store_true")
    a = ap.parse_args()

    try:
        root = ET.parse(a.junit).getroot()
    except (ET.ParseError, OSError) as e:
        print(f"check_junit: {a.junit}: not well-formed XML: {e}")
        return 1
    if root.tag != "testsuites":
        fail(f"root is <{root.tag}>, not <testsuites>")
    attrs(root, ("name",) + COUNTS + ("time",))
    seconds(root)
    reproduce = []
    totals = dict.fromkeys(COUNTS, 0)
    suites = list(root)
    if not suites:
        fail("no <testsuite>")
    for suite in suites:
        if suite.tag != "testsuite":
            fail(f"<testsuites> holds <{suite.tag}>")
            continue
        attrs(suite, ("name",) + COUNTS + ("time",))
        seconds(suite)
        seen = dict.fromkeys(COUNTS, 0)
        for case in suite:
            if case.tag == "properties":
                for p in case:
                    if p.tag != "property":
                        fail(f"<properties> holds <{p.tag}>")
                    attrs(p, ("name", "value"))
                continue
            if case.tag != "testcase":
                fail(f"<testsuite> holds <{case.tag}>")
                continue
            attrs(case, ("classname", "name", "time"), ("file",))
            seconds(case)
            seen["tests"] += 1
            kids = list(case)
            if len(kids) > 1:
                fail(f"testcase {case.get('name')} has {len(kids)} result elements")
            for k in kids:
                if k.tag in ("failure", "error"):
                    attrs(k, ("message", "type"))
                    seen["failures" if k.tag == "failure" else "errors"] += 1
                    body = k.text or ""
                    if k.tag == "failure":
                        lines = [l for l in body.splitlines() if l.startswith("reproduce: ")]
                        if len(lines) != 1 or not lines[0].startswith("reproduce: kpsim explore "):
                            fail(f"failure of {case.get('classname')} {case.get('name')}: no single "
                                 f"'reproduce: kpsim explore' line in its body")
                        else:
                            reproduce.append(lines[0][len("reproduce: "):])
                        traces = [l[len("trace: "):] for l in body.splitlines() if l.startswith("trace: ")]
                        if len(traces) != 1 or not os.path.isfile(traces[0]):
                            fail(f"failure of {case.get('name')}: trace artefact {traces} is not a file")
                elif k.tag == "skipped":
                    attrs(k, (), ("message",))
                    seen["skipped"] += 1
                else:
                    fail(f"testcase holds <{k.tag}>")
        for c in COUNTS:
            if number(suite, c) != seen[c]:
                fail(f"<testsuite {c}={suite.get(c)}> but its testcases say {seen[c]}")
            totals[c] += seen[c]
    for c in COUNTS:
        if number(root, c) != totals[c]:
            fail(f"<testsuites {c}={root.get(c)}> but its suites say {totals[c]}")
        if totals[c] != getattr(a, c):
            fail(f"{c}: {totals[c]}, expected {getattr(a, c)}")
    if problems:
        print("check_junit: " + a.junit + " is not the JUnit report expected:")
        for p in problems:
            print("  " + p)
        return 1
    if a.print_reproduce:
        for r in reproduce:
            print(r)
    else:
        print(f"check_junit: {a.junit}: valid; " + ", ".join(f"{c}={totals[c]}" for c in COUNTS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
