#!/usr/bin/env python3
"""--strategy dpor against plain dfs through the CLI, on every scenario and parameter set listed
below (each one where plain dfs is exhaustive within seconds on one core).

dpor_vs_dfs.py KPSIM

For each case: plain dfs, dpor, and dpor with KPSIM_DPOR_CHECK=1 (the commutation check of
every independent pair, docs/design.md) must all be exhaustive; dpor must reach the same outcome
names, the same violation verdict and the same first violated property as dfs, with no more
schedules; the checked run must not exit 6. A case whose dfs is no longer exhaustive within its
budget fails too (the list must stay honest, not silently shrink). Last, `kpsim check` on the
seed-000 script with `check strategy dpor` must give dfs's verdicts and exit status.

What makes this a test of the footprints: a world that declares them (lost-update, whose counter
is a Shared<int64_t>) is reduced, so a missing recorded access there shows up as a lost outcome
or a refused commutation (tests/dpor_test.cpp, "one hidden read is caught", shows both on a world
where one read bypasses its Shared field), and so is the sockmap script world with UDP sockets
(its sockets, psocks, device and checkers' bookkeeping are Shared fields), where every pair of
steps dpor takes as independent is also run both ways by KPSIM_DPOR_CHECK; the worlds that do not
declare them (the sockmap world with TCP sockets, the TCP and kTLS models) must run exactly dfs's
schedules, every step touching everything.
"""
import json
import os
import subprocess
import sys
import tempfile

KPSIM = sys.argv[1]
failures = []

# (scenario and --set arguments, budget, whether dpor must reduce: True, a declared world with
# independent steps; False, an undeclared one, where it must run dfs's count exactly; None, a
# declared world where it may). The kTLS rows are the sizes where dfs finishes in about a second.
CASES = [
    (["lost-update", "--set", "tasks=2", "--set", "incs=2"], 10000, True),
    (["lost-update", "--set", "tasks=3", "--set", "incs=1"], 10000, True),
    (["lost-update", "--set", "tasks=3", "--set", "incs=2"], 100000, True),
    # Every increment atomic: every step reads and writes the counter, no two commute.
    (["lost-update", "--set", "tasks=2", "--set", "incs=3", "--set", "atomic=yes"], 10000, False),
    # Seed 000 with UDP sockets: a declared world (every field its tasks share is a Shared or a
    # primitive; model_world.cpp), the bug, the two fixes, and the model's switches. None: dpor
    # may run fewer schedules than dfs (it rarely can here: the invariants observe almost
    # everything, and most steps of the test thread and the kworker touch p1's psock).
    (["sockmap-multi-channels"], 10000, None),
    (["sockmap-multi-channels", "--set", "test=loop"], 10000, None),
    (["sockmap-multi-channels", "--set", "test=upstream"], 10000, None),
    (["sockmap-multi-channels", "--set", "kworker_cpu=other"], 10000, None),
    (["sockmap-multi-channels", "--set", "test=upstream", "--set", "kworker_cpu=other"], 10000, None),
    (["sockmap-multi-channels", "--set", "test=loop", "--set", "kworker_cpu=other"], 10000, None),
    (["sockmap-multi-channels", "--set", "fionread=pre-929e30f93125"], 10000, None),
    (["sockmap-multi-channels", "--set", "self_redirect=direct"], 10000, None),
    (["sockmap-multi-channels", "--set", "self_redirect=direct", "--set", "test=upstream"], 10000, None),
    # Other declared (UDP) script worlds: drops, egress redirects (the backlog sends), peeks,
    # three sockets, a sockhash.
    (["sockmap-drop"], 10000, None),
    (["sockmap-egress"], 10000, None),
    (["sockmap-peek"], 10000, None),
    (["sockmap-third-socket"], 10000, None),
    (["sockhash-multi-channels"], 10000, None),
    (["sockmap-recv-2-then-8"], 10000, None),
    # With TCP sockets the world is not declared (struct tcp_sock's fields are plain members):
    # dpor must run exactly dfs's schedules.
    (["sockmap-multi-channels", "--set", "proto=tcp"], 10000, False),
    (["sockmap-multi-channels", "--set", "proto=tcp", "--set", "test=upstream"], 10000, False),
    (["sockmap-multi-channels", "--set", "proto=tcp", "--set", "kworker_cpu=other"], 10000, False),
    (["ktls-async-close", "--set", "bytes=100", "--set", "io=plain"], 10000, False),
    (["ktls-async-close", "--set", "bytes=16384", "--set", "io=plain", "--set", "crypto=sync"], 100000, False),
    (["ktls-sendfile-stall", "--set", "bytes=65536", "--set", "call_bytes=65536"], 10000, False),
]


def explore(args, env_extra=None):
    env = dict(os.environ)
    env.pop("KPSIM_DPOR_CHECK", None)
    if env_extra:
        env.update(env_extra)
    p = subprocess.run([KPSIM, "explore"] + args + ["--json", "--quiet", "--no-shrink"],
                       capture_output=True, text=True, timeout=600, env=env)
    if p.returncode not in (0, 1):
        return None, p
    return json.loads(p.stdout), p


def summary(j):
    first = j.get("first_violation")
    return (sorted(j["outcomes"]), j["violations"] > 0, first["property"] if first else None)


for scen, budget, reduces in CASES:
    name = " ".join(scen)
    base = scen + ["--budget", str(budget)]
    dfs, p = explore(base + ["--strategy", "dfs", "--dfs-order", "plain"])
    if dfs is None:
        failures.append(f"{name}: dfs exit {p.returncode}: {p.stderr.strip()[-400:]}")
        continue
    if not dfs["exhaustive"]:
        failures.append(f"{name}: plain dfs is not exhaustive within {budget} schedules; shrink the case")
        continue
    dpor, p = explore(base + ["--strategy", "dpor"])
    checked, pc = explore(base + ["--strategy", "dpor"], {"KPSIM_DPOR_CHECK": "1"})
    if dpor is None or checked is None:
        bad = p if dpor is None else pc
        failures.append(f"{name}: dpor exit {bad.returncode}: {bad.stderr.strip()[-400:]}")
        continue
    for tag, j in (("dpor", dpor), ("dpor+check", checked)):
        if not j["exhaustive"]:
            failures.append(f"{name}: {tag} not exhaustive")
        if summary(j) != summary(dfs):
            failures.append(f"{name}: {tag} found {summary(j)}, dfs {summary(dfs)}")
        if j["schedules"] > dfs["schedules"]:
            failures.append(f"{name}: {tag} ran {j['schedules']} schedules, dfs {dfs['schedules']}")
    if reduces is False and dpor["schedules"] != dfs["schedules"]:
        # No two steps commute here (an undeclared world: every step touches everything), so
        # every interleaving is a trace of its own: fewer schedules would mean lost ones.
        failures.append(f"{name}: dpor must run dfs's {dfs['schedules']} schedules here, it ran {dpor['schedules']}")
    if reduces and dpor["schedules"] >= dfs["schedules"]:
        failures.append(f"{name}: a declared world reduced nothing ({dpor['schedules']} schedules)")
    print(f"{name}: dfs {dfs['schedules']} schedules, dpor {dpor['schedules']}, "
          f"{checked.get('commutation_checks', 0)} pairs checked; outcomes {summary(dfs)}")

# `kpsim check` with `check strategy dpor`: the seed-000 script's suite (every ordering, for each
# protocol) with dpor instead of dfs gives the same verdicts and exit status.
SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scenarios", "sockmap-multi-channels.kps")
with tempfile.TemporaryDirectory(prefix="kpsim-dpor-check.") as tmp:
    summaries = {}
    for strategy in ("dfs", "dpor"):
        with open(SRC) as f:
            text = f.read()
        if "check strategy dfs\n" not in text:
            failures.append("sockmap-multi-channels.kps no longer says `check strategy dfs`")
            break
        path = os.path.join(tmp, f"mc-{strategy}.kps")
        with open(path, "w") as f:
            f.write(text.replace("check strategy dfs\n", f"check strategy {strategy}\n"))
        p = subprocess.run([KPSIM, "check", path, "--artifacts", os.path.join(tmp, strategy)],
                           capture_output=True, text=True, timeout=600)
        lines = [l for l in p.stdout.splitlines() if " cases: " in l]
        summaries[strategy] = (p.returncode, lines)
        if f"--strategy {strategy}" not in p.stdout:
            failures.append(f"check with `check strategy {strategy}` did not run it:\n{p.stdout[-600:]}")
    if len(summaries) == 2 and summaries["dfs"] != summaries["dpor"]:
        failures.append(f"kpsim check: dfs {summaries['dfs']}, dpor {summaries['dpor']}")
    elif len(summaries) == 2:
        print(f"kpsim check, dfs and dpor: {summaries['dpor']}")

if failures:
    print("\n".join(failures))
    sys.exit(1)
print(f"dpor_vs_dfs: {len(CASES)} cases agree")
