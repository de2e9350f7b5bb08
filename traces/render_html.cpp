// The HTML renderer: one self-contained page to step through a trace in a browser, offline.
// docs/trace-format.md, "Pictures of a trace", says what the page shows.
//
// Everything is inline — the trace as JSON in a <script type="application/json">, the CSS and
// the JS — so the file opens from disk with no network, no CDN and no server. The page holds
// the steps' state diffs (format 3) and folds them itself: the state at step n is the first
// step's snapshot with the diffs of steps 2..n applied, which is what the browser test
// (tests/html_page_test.mjs) computes independently from the JSON Lines trace and compares.
#include <string>
#include <string_view>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "traces/lanes.h"
#include "traces/render.h"

namespace kpsim {
namespace {

using Json = nlohmann::ordered_json;

// The page. @TITLE@ and @DATA@ are replaced (the data is JSON with every '<' escaped, so that
// no string in it can close the <script> element).
constexpr const char* kPage = R"html(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>@TITLE@</title>
<style>
/* Only the panes scroll: the header and the buttons stay where they are. */
body { font: 13px/1.35 system-ui, sans-serif; margin: 0; color: #222; height: 100vh; display: flex;
       flex-direction: column; overflow: hidden; }
header { padding: 8px 12px; background: #f3f3f3; border-bottom: 1px solid #ccc; }
header h1 { font-size: 15px; margin: 0 0 2px; }
#outcome.violation, #outcome.deadlock, #outcome.model_invariant { color: #b00; font-weight: bold; }
#controls { padding: 6px 12px; border-bottom: 1px solid #ddd; display: flex; gap: 6px; align-items: center; }
#controls button { font: inherit; padding: 2px 10px; }
#stepinfo { margin-left: 8px; font-family: monospace; }
main { display: flex; flex: 1; min-height: 0; }
#lanes { flex: 3; overflow: auto; border-right: 1px solid #ddd; }
#side { flex: 2; display: flex; flex-direction: column; padding: 0 10px 6px; min-width: 320px; min-height: 0; }
table { border-collapse: collapse; }
#lanes table { font-family: monospace; font-size: 12px; }
#lanes th { position: sticky; top: 0; background: #fafafa; border-bottom: 1px solid #ccc; padding: 2px 6px; text-align: left; white-space: nowrap; }
#lanes td { padding: 1px 6px; white-space: nowrap; border-left: 1px solid #eee; cursor: pointer; }
#lanes td.num { color: #777; text-align: right; }
#lanes tr.cur td { background: #fff3b0; }
#lanes tr.choice td.num:first-child::after { content: " \2605"; color: #c60; }
.mark { color: #c60; font-weight: bold; }
h2 { font-size: 13px; margin: 10px 0 4px; }
#changes li, #hits li { font-family: monospace; font-size: 12px; }
#hits li { cursor: pointer; color: #06c; }
#state td { font-family: monospace; font-size: 12px; padding: 0 6px; }
#state td.val { text-align: right; }
#state tr.changed td { background: #ffd9a0; font-weight: bold; }
#state tr.removed td.val { color: #999; }
#statebox { flex: 1; min-height: 0; overflow: auto; border: 1px solid #eee; }
#changes { max-height: 14vh; overflow: auto; margin: 4px 0; }
#hits { max-height: 18vh; overflow: auto; margin: 4px 0; }
#search { width: 100%; box-sizing: border-box; font: inherit; }
.note { color: #777; }
</style>
</head>
<body>
<header>
  <h1 id="title"></h1>
  <div id="params"></div>
  <div><span id="outcome"></span> <span id="message"></span></div>
</header>
<div id="controls">
  <button id="first" title="first step (Home)">&laquo; first</button>
  <button id="prev" title="previous step (&#x2190;)">&#x25C0; back</button>
  <button id="next" title="next step (&#x2192;)">forward &#x25B6;</button>
  <button id="last" title="last step (End)">last &raquo;</button>
  <button id="nextchoice" title="next step a scheduling choice picked (c)">next &#x2605; choice</button>
  <span id="stepinfo"></span>
</div>
<main>
  <div id="lanes"><table><thead><tr id="lanehead"></tr></thead><tbody id="rows"></tbody></table></div>
  <div id="side">
    <h2>This step</h2>
    <div id="stepdetail"></div>
    <ul id="changes"></ul>
    <h2>When did it change?</h2>
    <input id="search" placeholder="a state name, e.g. msg_tot_len" autocomplete="off">
    <ul id="hits"></ul>
    <h2>State after this step <span class="note">(changed at this step: highlighted)</span></h2>
    <div id="statebox"><table id="state"><tbody></tbody></table></div>
  </div>
</main>
<script type="application/json" id="trace-data">@DATA@</script>
<script>
"use strict";
const D = JSON.parse(document.getElementById("trace-data").textContent);
const $ = (id) => document.getElementById(id);
const el = (tag, text, cls) => {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
};
let cur = 0;  // index into D.steps

// The state after step index i: the first step's snapshot, then each later step's diff
// (a null value removes a name). Map keeps names in order of first appearance.
function stateAt(i) {
  const s = new Map();
  for (let k = 0; k <= i; k++)
    for (const [name, v] of Object.entries(D.steps[k].state || {}))
      if (v === null) s.delete(name); else s.set(name, v);
  return s;
}

function drawLanes() {
  $("lanehead").append(el("th", "step"), el("th", "t ms"));
  for (const l of D.lanes) $("lanehead").append(el("th", l));
  D.steps.forEach((s, i) => {
    const tr = el("tr", undefined, s.pick ? "choice" : "");
    tr.append(el("td", String(s.step), "num"), el("td", (s.t_ns / 1e6).toFixed(3), "num"));
    D.lanes.forEach((l, li) => tr.append(el("td", li === s.lane ? s.label : "")));
    tr.onclick = () => go(i);
    $("rows").append(tr);
  });
}

// Scrolls the pane `box` so that `row` is in view (a third down), and nothing else: the
// browser's scrollIntoView would scroll every ancestor too.
function reveal(box, row) {
  const r = row.getBoundingClientRect(), b = box.getBoundingClientRect();
  if (r.top < b.top + 24 || r.bottom > b.bottom) box.scrollTop += r.top - b.top - box.clientHeight / 3;
}

function go(i) {
  cur = Math.max(0, Math.min(D.steps.length - 1, i));
  const s = D.steps[cur];
  for (const tr of document.querySelectorAll("#rows tr.cur")) tr.classList.remove("cur");
  const row = $("rows").children[cur];
  row.classList.add("cur");
  reveal($("lanes"), row);
  $("stepinfo").textContent = `step ${s.step} of ${D.steps.length}`;
  $("stepinfo").dataset.step = s.step;
  $("stepdetail").textContent = `${s.task} (${s.kind}): ${s.label}` +
      (s.pick ? `  — picked by a scheduling choice: option ${s.pick[0] + 1} of ${s.pick[1]}` : "");
  if (s.pick) $("stepdetail").prepend(el("span", "\u2605 ", "mark"));
  $("changes").replaceChildren(...s.changes.map(([o, c]) => el("li", `${o}: ${c}`)),
                               ...s.wakes.map((w) => el("li", `wakes ${w}`)));
  const diff = s.state || {};
  const body = $("state").tBodies[0];
  body.replaceChildren();
  if (!D.has_state) {
    const tr = el("tr");
    tr.append(el("td", "this trace records no state (format 2 or older)", "note"));
    body.append(tr);
  }
  for (const [name, v] of stateAt(cur)) {
    const tr = el("tr", undefined, name in diff ? "changed" : "");
    tr.dataset.name = name;
    tr.append(el("td", name, "name"), el("td", String(v), "val"));
    body.append(tr);
  }
  for (const [name, v] of Object.entries(diff))
    if (v === null) {
      // A name the step removed (a timer that fired, say): shown once, greyed.
      const tr = el("tr", undefined, "changed removed");
      tr.dataset.name = name;
      tr.dataset.removed = "1";
      tr.append(el("td", name, "name"), el("td", "(gone)", "val"));
      body.append(tr);
    }
  const first = body.querySelector("tr.changed");
  if (first) reveal($("statebox"), first);
}

// "When did X change": every step whose diff holds a name containing the text.
function search() {
  const q = $("search").value.trim().toLowerCase();
  const hits = [];
  if (q)
    D.steps.forEach((s, i) => {
      for (const [name, v] of Object.entries(s.state || {}))
        if (name.toLowerCase().includes(q) && hits.length < 500) {
          const li = el("li", `step ${s.step}: ${name} = ${v === null ? "(gone)" : v}`);
          li.dataset.step = s.step;
          li.onclick = () => go(i);
          hits.push(li);
        }
    });
  $("hits").replaceChildren(...hits);
}

function nextChoice() {
  for (let i = cur + 1; i < D.steps.length; i++) if (D.steps[i].pick) return go(i);
}

$("title").textContent = `${D.scenario}: ${D.steps.length} steps`;
$("params").textContent = D.params;
$("outcome").textContent = D.outcome;
$("outcome").className = D.outcome;
$("message").textContent = D.message;
$("first").onclick = () => go(0);
$("prev").onclick = () => go(cur - 1);
$("next").onclick = () => go(cur + 1);
$("last").onclick = () => go(D.steps.length - 1);
$("nextchoice").onclick = nextChoice;
$("search").oninput = search;
document.addEventListener("keydown", (e) => {
  if (e.target === $("search")) return;
  const keys = { ArrowRight: cur + 1, ArrowLeft: cur - 1, Home: 0, End: D.steps.length - 1 };
  if (e.key in keys) { go(keys[e.key]); e.preventDefault(); }
  if (e.key === "c") nextChoice();
});
drawLanes();
// A link can open the page at a step, with a search typed: page.html#step=9&search=p1.psock
// (the step as the trace numbers it). kpsim docgen's screenshots use it.
const want = new URLSearchParams(location.hash.slice(1));
if (want.has("search")) { $("search").value = want.get("search"); search(); }
const at = want.has("step") ? D.steps.findIndex((s) => String(s.step) === want.get("step")) : -1;
if (D.steps.length) go(at >= 0 ? at : 0);
</script>
</body>
</html>
)html";

std::string escape_html(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '&': o += "&amp;"; break;
      default: o += c;
    }
  }
  return o;
}


}  // namespace

std::string render_html(const Trace& t) {
  const auto lanes = trace_lanes(t);
  Json d;
  d["scenario"] = t.header.scenario;
  d["params"] = params_line(t);
  d["outcome"] = t.footer.outcome;
  d["message"] = t.footer.message;
  d["lanes"] = lanes;
  bool has_state = false;
  Json steps = Json::array();
  for (const auto& e : t.events) {
    Json s;
    s["step"] = e.step;
    s["t_ns"] = e.t_ns;
    s["task"] = e.task;
    s["lane"] = lane_index(lanes, e.task);
    s["kind"] = e.kind;
    s["label"] = e.label;
    if (e.of) s["pick"] = {e.pick, e.of};
    Json ch = Json::array();
    for (const auto& c : e.changes) ch.push_back({c.obj, c.change});
    s["changes"] = std::move(ch);
    s["wakes"] = e.wakes;
    if (e.state.is_object() && !e.state.empty()) {
      s["state"] = e.state;
      has_state = true;
    }
    steps.push_back(std::move(s));
  }
  d["has_state"] = has_state;
  d["steps"] = std::move(steps);
  std::string data;
  for (char c : d.dump()) {
    // '<' only occurs inside JSON strings, where \u003c means the same character.
    if (c == '<')
      data += "\\u003c";
    else
      data += c;
  }
  // Split at the placeholders of the template itself, so that neither value is searched.
  const std::string_view page = kPage;
  const size_t title = page.find("@TITLE@"), at = page.find("@DATA@");
  std::string out(page.substr(0, title));
  out += escape_html(fmt::format("kpsim: {} ({})", t.header.scenario, t.footer.outcome));
  out += page.substr(title + 7, at - title - 7);
  out += data;
  out += page.substr(at + 6);
  return out;
}

}  // namespace kpsim
