// The browser test of `kpsim render --format html` (ctest html_page_browser, label `browser`).
//
// For each case it records a fresh trace with `kpsim explore --trace-out` (format 3: state in
// every step), renders the page, loads it in Debian's headless chromium driven by npm
// puppeteer-core (scripts/setup-browser installs both), steps through it with the buttons and
// the arrow keys, and checks at every step that the state panel shows exactly the state the
// JSON Lines trace holds at that step, and highlights exactly the names the step changed. The
// expected state is folded here from the trace file, independently of the page's own code.
// Also: the "when did X change" search lists the steps this file finds, a hit jumps there,
// choice marks sit on the steps with a `pick`, a #step=N&search=TEXT link opens there, and the
// page makes no network request.
//
// Prints "SKIP: <reason>" and exits 0 when chromium or puppeteer-core is missing (ctest's
// SKIP_REGULAR_EXPRESSION): where scripts/setup-browser could not install them.
//
// usage: node html_page_test.mjs KPSIM OUTDIR
//   KPSIM_BROWSER_DIR  where setup-browser put node_modules (default ~/.cache/kpsim/browser)
//   KPSIM_CHROMIUM     the browser (default /usr/bin/chromium)
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [kpsim, outdir] = process.argv.slice(2);
if (!kpsim || !outdir) {
  console.error("usage: node html_page_test.mjs KPSIM OUTDIR");
  process.exit(2);
}
const browserDir = process.env.KPSIM_BROWSER_DIR ||
    path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "kpsim", "browser");
const chromium = process.env.KPSIM_CHROMIUM || "/usr/bin/chromium";
if (!fs.existsSync(chromium)) {
  console.log(`SKIP: no chromium at ${chromium} (scripts/setup-browser installs Debian's)`);
  process.exit(0);
}
let puppeteer;
try {
  puppeteer = createRequire(path.join(browserDir, "package.json"))("puppeteer-core");
} catch {
  console.log(`SKIP: no puppeteer-core under ${browserDir} (scripts/setup-browser installs it)`);
  process.exit(0);
}

// The seed-000 sockmap run (the script world) and the seed-001 kTLS stall (the stream world).
const cases = [
  { name: "seed000", args: ["sockmap-multi-channels", "--set", "proto=udp", "--seed", "1"] },
  { name: "seed001", args: ["ktls-sendfile-stall", "--set", "notsent_lowat=16384", "--set", "bytes=262144",
                            "--set", "call_bytes=262144", "--seed", "1"] },
];

let failures = 0;
const fail = (what) => { console.log(`FAIL: ${what}`); failures++; };

// The trace as this test reads it: the steps and, per step, the full state (the first step's
// snapshot, then each diff; null removes a name) and the names that step changed.
function readTrace(file) {
  const lines = fs.readFileSync(file, "utf8").split("\n").filter((l) => l);
  const header = JSON.parse(lines[0]);
  if (header.format < 3) throw new Error(`${file}: format ${header.format} has no state`);
  const steps = lines.slice(1, -1).map((l) => JSON.parse(l));
  const full = [];
  const s = new Map();
  for (const st of steps) {
    for (const [k, v] of Object.entries(st.state || {})) if (v === null) s.delete(k); else s.set(k, v);
    full.push(new Map(s));
  }
  return { steps, full };
}

// What the page's state panel shows: name -> value text, and the highlighted names.
async function panel(page) {
  return page.evaluate(() => {
    const shown = {}, changed = [];
    for (const tr of document.querySelectorAll("#state tr[data-name]")) {
      if (!tr.dataset.removed) shown[tr.dataset.name] = tr.querySelector("td.val").textContent;
      if (tr.classList.contains("changed")) changed.push(tr.dataset.name);
    }
    return { step: Number(document.getElementById("stepinfo").dataset.step), shown, changed };
  });
}

function compare(c, i, trace, got) {
  const want = trace.full[i];
  const step = trace.steps[i];
  const where = `${c.name} step ${step.step}`;
  if (got.step !== step.step) return fail(`${where}: the page is at step ${got.step}`);
  const gotNames = Object.keys(got.shown);
  if (gotNames.length !== want.size) fail(`${where}: panel shows ${gotNames.length} values, the trace has ${want.size}`);
  for (const [k, v] of want)
    if (got.shown[k] !== String(v)) fail(`${where}: ${k} shows ${JSON.stringify(got.shown[k])}, the trace says ${v}`);
  const wantChanged = Object.keys(step.state || {}).sort();
  if (JSON.stringify(got.changed.sort()) !== JSON.stringify(wantChanged))
    fail(`${where}: highlighted ${got.changed.join(",")}; the step changed ${wantChanged.join(",")}`);
}

fs.mkdirSync(outdir, { recursive: true });
const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  // --no-sandbox: CI runs as root, where chromium's sandbox refuses to start.
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
try {
  for (const c of cases) {
    const tracePath = path.join(outdir, `${c.name}.trace.jsonl`);
    const htmlPath = path.join(outdir, `${c.name}.html`);
    fs.rmSync(tracePath, { force: true });
    // A violation exits 1: the expected result for both runs.
    const ex = spawnSync(kpsim, ["explore", ...c.args, "--trace-out", tracePath, "--quiet"], { encoding: "utf8" });
    if (ex.status !== 1 || !fs.existsSync(tracePath)) {
      fail(`${c.name}: kpsim explore exited ${ex.status}, wrote no trace: ${ex.stderr}`);
      continue;
    }
    execFileSync(kpsim, ["render", tracePath, "--format", "html", "-o", htmlPath]);
    const trace = readTrace(tracePath);
    const n = trace.steps.length;

    const page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 800 });
    const requests = [];
    await page.setRequestInterception(true);
    page.on("request", (r) => {
      if (r.url().startsWith("file:") || r.url().startsWith("data:")) return r.continue();
      requests.push(r.url());
      r.abort();
    });
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(pathToFileURL(htmlPath).href);

    // Forward through every step: buttons for the first half, the arrow key for the rest.
    compare(c, 0, trace, await panel(page));
    for (let i = 1; i < n; i++) {
      if (i < n / 2) await page.click("#next"); else await page.keyboard.press("ArrowRight");
      compare(c, i, trace, await panel(page));
    }
    // Past the end stays at the end; back with the key and the button.
    await page.keyboard.press("ArrowRight");
    compare(c, n - 1, trace, await panel(page));
    await page.keyboard.press("ArrowLeft");
    compare(c, n - 2, trace, await panel(page));
    await page.click("#prev");
    compare(c, n - 3, trace, await panel(page));

    // Choice marks: exactly the steps a schedule choice picked.
    const marked = await page.$$eval("#rows tr.choice", (rows) => rows.length);
    const picks = trace.steps.filter((s) => s.pick).length;
    if (marked !== picks) fail(`${c.name}: ${marked} rows marked as choices, the trace has ${picks}`);

    // "When did X change": the name that changed at the most steps.
    const counts = new Map();
    for (const s of trace.steps) for (const k of Object.keys(s.state || {})) counts.set(k, (counts.get(k) || 0) + 1);
    const [query] = [...counts].filter(([k]) => trace.steps[0].state && k in trace.steps[0].state)
        .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0];
    const wantHits = [];
    for (const s of trace.steps)
      for (const k of Object.keys(s.state || {})) if (k.toLowerCase().includes(query.toLowerCase())) wantHits.push(s.step);
    await page.type("#search", query);
    const hits = await page.$$eval("#hits li", (lis) => lis.map((li) => Number(li.dataset.step)));
    if (JSON.stringify(hits) !== JSON.stringify(wantHits))
      fail(`${c.name}: search '${query}' lists steps ${hits.join(",")}, the trace has ${wantHits.join(",")}`);
    if (hits.length >= 2) {
      await page.click("#hits li:nth-child(2)");
      const at = trace.steps.findIndex((s) => s.step === wantHits[1]);
      compare(c, at, trace, await panel(page));
    }
    console.log(`${c.name}: ${n} steps checked, ${picks} choice marks, search '${query}': ${hits.length} hits`);

    if (requests.length) fail(`${c.name}: the page asked the network for ${requests.join(" ")}`);
    if (errors.length) fail(`${c.name}: script errors: ${errors.join("; ")}`);

    if (c.name === "seed000") {
      // A link opens the page at a step with a search typed (docgen's screenshot in
      // docs/trace-format.md is taken that way): #step=9&search=p1.psock.
      await page.goto(pathToFileURL(htmlPath).href + "#step=9&search=p1.psock");
      await page.reload();
      const at = await page.$eval("#stepinfo", (e) => e.dataset.step);
      const typed = await page.$eval("#search", (e) => e.value);
      const listed = await page.$$eval("#hits li", (lis) => lis.length);
      if (at !== "9" || typed !== "p1.psock" || listed === 0)
        fail(`${c.name}: #step=9&search=p1.psock opened step ${at}, search '${typed}', ${listed} hits`);
      else compare(c, trace.steps.findIndex((s) => s.step === 9), trace, await panel(page));
    }
    await page.close();
  }
} finally {
  await browser.close();
}
console.log(failures ? `${failures} failed` : "html page: every check passed");
process.exit(failures ? 1 : 0);
