// Switchboard Studio: the page's behaviour. Plain browser JavaScript, no build step; the graph
// layout is dagre (vendor/dagre.min.js). Every answer comes from the server's /api, which runs
// the same code as the command line.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  flow: null,      // name of the flow shown
  graph: null,     // its last graph (from the saved file or the text being edited)
  script: [],      // the caller's turns of the call in progress, as `call --keys` takes them
  buffer: "",      // digits typed into a multi-digit entry, not yet sent
  waiting: null,   // what the call waits for, or null when no call is in progress
  heardCount: 0,   // transcript entries already played aloud
  checkTimer: null,
  uncovered: [],
  uncoveredOptions: [],
};

function status(text) { $("status").textContent = text; }

async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const data = await res.json().catch(() => ({}));
  return { ok: res.ok, status: res.status, data };
}

// ---- flows -------------------------------------------------------------------------------

async function loadList() {
  const { ok, data } = await api("GET", "/api/flows");
  const list = $("flow-list");
  list.textContent = "";
  if (!ok) { status(data.error || "cannot list flows"); return; }
  for (const f of data.flows) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = f.name + (f.errors ? ` (${f.errors} errors)` : "");
    b.dataset.flow = f.name;
    b.dataset.testid = `flow-${f.name}`;
    if (f.errors) b.classList.add("bad");
    b.addEventListener("click", () => openFlow(f.name));
    li.appendChild(b);
    list.appendChild(li);
  }
  const wanted = new URLSearchParams(location.search).get("flow");
  const first = data.flows.find((f) => f.name === wanted) || data.flows.find((f) => f.name === "support") || data.flows[0];
  if (first) await openFlow(first.name);
}

async function openFlow(name) {
  const { ok, data } = await api("GET", `/api/flows/${encodeURIComponent(name)}`);
  if (!ok) { status(data.error); return; }
  state.flow = name;
  for (const b of document.querySelectorAll("#flow-list button")) b.classList.toggle("selected", b.dataset.flow === name);
  $("editor").value = data.source;
  state.uncovered = [];
  state.uncoveredOptions = [];
  showFlow(data);
  resetCall();
  $("test-results").textContent = data.has_tests ? "" : "This flow has no scenario file.";
  loadWaits(name);
  status(`${name} loaded`);
}

function showFlow(data) {
  showDiagnostics(data.diagnostics, data.source);
  if (data.graph) {
    state.graph = data.graph;
    drawGraph(data.graph);
    const lang = $("call-lang");
    const current = lang.value;
    lang.textContent = "";
    for (const l of data.graph.languages) {
      const o = document.createElement("option");
      o.value = o.textContent = l;
      lang.appendChild(o);
    }
    if (data.graph.languages.includes(current)) lang.value = current;
  }
}

// ---- editor ------------------------------------------------------------------------------

function showDiagnostics(diags, source) {
  const list = $("diagnostics");
  list.textContent = "";
  const marks = new Map();
  for (const d of diags) {
    const li = document.createElement("li");
    li.className = d.severity;
    li.dataset.line = d.line;
    li.textContent = `${d.line}:${d.column}: ${d.severity}: ${d.message}` + (d.help ? ` (${d.help})` : "");
    li.addEventListener("click", () => selectLine(d.line, d.column));
    list.appendChild(li);
    if (marks.get(d.line) !== "error") marks.set(d.line, d.severity);
  }
  const lines = (source ?? $("editor").value).split("\n").length;
  const gutter = $("gutter");
  gutter.textContent = "";
  for (let i = 1; i <= lines; i++) {
    const span = document.createElement("span");
    span.textContent = String(i);
    const mark = marks.get(i);
    if (mark) {
      span.className = mark;
      span.title = diags.filter((d) => d.line === i).map((d) => d.message).join("\n");
      span.dataset.testid = `diagnostic-line-${i}`;
    }
    gutter.appendChild(span);
    gutter.appendChild(document.createTextNode("\n"));
  }
  gutter.scrollTop = $("editor").scrollTop;
}

function selectLine(line, column) {
  const editor = $("editor");
  const lines = editor.value.split("\n");
  let start = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) start += lines[i].length + 1;
  const end = start + (lines[line - 1] || "").length;
  editor.focus();
  editor.setSelectionRange(column ? start + column - 1 : start, end);
  editor.scrollTop = Math.max(0, (line - 5) * 16);
}

function scheduleCheck() {
  clearTimeout(state.checkTimer);
  state.checkTimer = setTimeout(checkNow, 200);
  showDiagnostics([], $("editor").value);
}

async function checkNow() {
  if (!state.flow) return;
  const { ok, data } = await api("POST", `/api/flows/${encodeURIComponent(state.flow)}/check`, { source: $("editor").value });
  if (ok) showFlow(data);
}

async function save() {
  const { ok, status: code, data } = await api("PUT", `/api/flows/${encodeURIComponent(state.flow)}`, { source: $("editor").value });
  if (ok) { showFlow(data.flow); status(`${state.flow} saved`); loadList(); return; }
  if (code === 422) { showFlow(data.flow); status(`not saved: ${data.flow.errors} errors`); return; }
  status(data.error || "not saved");
}

// ---- graph -------------------------------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";
function el(name, attrs, parent) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

function seconds(ms) { return ms == null ? "never" : `${Math.round(ms / 1000)} s`; }

function drawGraph(graph) {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "LR", nodesep: 18, ranksep: 60, marginx: 10, marginy: 10 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of graph.nodes) {
    const menu = n.escape_ms !== null || n.silence_ms !== null;
    const width = Math.max(90, 7.2 * Math.max(n.id.length, n.kind.length + 2) + 16);
    g.setNode(n.id, { width, height: menu ? 50 : 36, node: n });
  }
  // One arrow per pair of nodes, its labels joined: the testid edge-<from>-<to> is unique.
  const pairs = new Map();
  for (const e of graph.edges) {
    const key = `${e.from}\u0000${e.to}`;
    const p = pairs.get(key);
    if (p) { p.labels.push(e.label); p.dashed = p.dashed && e.dashed; }
    else pairs.set(key, { from: e.from, to: e.to, labels: [e.label], dashed: e.dashed });
  }
  for (const p of pairs.values()) {
    const label = p.labels.join("; ");
    const shown = label.length > 40 ? label.slice(0, 38) + "…" : label;
    g.setEdge(p.from, p.to, { label, shown, dashed: p.dashed, width: 6 * shown.length, height: 12, labelpos: "c" });
  }
  dagre.layout(g);
  const box = $("graph");
  box.textContent = "";
  const size = g.graph();
  const svg = el("svg", { width: size.width + 20, height: size.height + 20, role: "img", "aria-label": `graph of ${state.flow}` }, box);
  el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto" },
    el("defs", {}, svg)).appendChild(el("path", { d: "M0,0 L10,5 L0,10 z", fill: "#5868a8" }));
  for (const e of g.edges()) {
    const edge = g.edge(e);
    const group = el("g", { class: edge.dashed ? "edge dashed" : "edge", "data-testid": `edge-${e.v}-${e.w}`, "data-label": edge.label }, svg);
    const d = edge.points.map((pt, i) => `${i ? "L" : "M"}${pt.x},${pt.y}`).join(" ");
    el("path", { d, "marker-end": "url(#arrow)" }, group);
    const text = el("text", { x: edge.x, y: edge.y + 4, "text-anchor": "middle" }, group);
    text.textContent = edge.shown;
    el("title", {}, group).textContent = edge.label;
  }
  for (const id of g.nodes()) {
    const v = g.node(id);
    const n = v.node;
    const group = el("g", {
      class: "node", "data-testid": `node-${id}`, "data-kind": n.kind, "data-line": n.line,
      "data-current": "false", transform: `translate(${v.x - v.width / 2},${v.y - v.height / 2})`,
    }, svg);
    el("rect", { width: v.width, height: v.height }, group);
    const name = el("text", { x: 8, y: 15 }, group);
    name.textContent = id + (id === graph.start ? " ▶" : "") + (id === graph.operator ? " ☎" : "");
    const kind = el("text", { x: 8, y: 29, class: "times" }, group);
    kind.textContent = n.kind;
    if (n.escape_ms !== null || n.silence_ms !== null) {
      const t = el("text", { x: 8, y: 43, class: "times" }, group);
      t.textContent = `0: ${seconds(n.escape_ms)} · silent: ${seconds(n.silence_ms)}`;
    }
    group.addEventListener("click", () => selectLine(n.line));
  }
  markUncovered();
  highlight(state.current);
}

function highlight(id) {
  state.current = id;
  for (const n of document.querySelectorAll("#graph .node")) {
    n.setAttribute("data-current", n.dataset.testid === `node-${id}` ? "true" : "false");
  }
}

function markUncovered() {
  for (const n of document.querySelectorAll("#graph .node")) {
    const id = n.dataset.testid.slice(5);
    if (state.uncovered.includes(id)) n.setAttribute("data-uncovered", "true");
    else n.removeAttribute("data-uncovered");
  }
  // An option no case chose, `menu:key` (or `menu:speech`), marks the arrow from its menu
  // whose label names that key.
  for (const e of document.querySelectorAll("#graph .edge")) {
    const labels = (e.dataset.label || "").split(/[;,] ?/).map((l) => l.trim());
    const missed = state.uncoveredOptions.some((o) => {
      const [menu, key] = [o.slice(0, o.lastIndexOf(":")), o.slice(o.lastIndexOf(":") + 1)];
      return e.dataset.testid.startsWith(`edge-${menu}-`) && (key === "speech" ? labels.some((l) => l.startsWith('"')) : labels.includes(key));
    });
    if (missed) e.setAttribute("data-uncovered", "true");
    else e.removeAttribute("data-uncovered");
  }
}

// ---- phone -------------------------------------------------------------------------------

function resetCall() {
  state.script = [];
  state.buffer = "";
  state.waiting = null;
  state.heardCount = 0;
  $("transcript").textContent = "";
  $("outcome").textContent = "";
  if (window.speechSynthesis) speechSynthesis.cancel();
  highlight(null);
}

async function startCall() {
  resetCall();
  status(`calling ${state.flow}`);
  await step();
}

async function turn(t) {
  if (!state.waiting) return;
  state.script.push(t);
  await step();
}

function key(k) {
  if (!state.waiting) return;
  const w = state.waiting;
  // A multi-digit entry is typed in full, as on a phone, and sent at its finish key, at its
  // length, or when the caller stops typing ("Stay silent": the timeout passes).
  if (w.max_digits > 1) {
    state.buffer += k;
    if (k === w.finish_key || state.buffer.length >= w.max_digits) {
      const entry = state.buffer;
      state.buffer = "";
      turn(entry);
    } else {
      addLine("caller", `${state.buffer} …`, "typing");
    }
    return;
  }
  turn(k);
}

function silence() {
  if (state.buffer) { const entry = state.buffer; state.buffer = ""; turn(entry); return; }
  turn("-");
}

function speak(text) {
  const clean = text.replace(/"/g, "").trim();
  if (clean) turn(`say:"${clean}"`);
}

async function step() {
  const body = {
    at: $("call-time").value, lang: $("call-lang").value, script: state.script.join(" "),
    case: $("call-case").value.trim() || null,
  };
  const { ok, data } = await api("POST", `/api/flows/${encodeURIComponent(state.flow)}/call`, body);
  if (!ok) { status(data.error); state.waiting = null; return; }
  state.waiting = data.waiting;
  showTranscript(data.entries);
  highlight(data.current);
  $("outcome").textContent = data.outcome || "";
  if (data.after) {
    // Talking to a person: the caller's next key comes after the conversation, at `after`.
    state.waiting = { max_digits: 1, finish_key: null, timeout_ms: 0, speech: false };
    status(`talking to a person; when they hang up the flow goes on at ${data.after}: press the caller's next key, or hang up`);
  } else if (data.outcome) status(`call ended: ${data.outcome}`);
}

function clock(ms) {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function addLine(cls, text, testid) {
  const list = $("transcript");
  const typing = list.querySelector('[data-testid="typing"]');
  if (typing) typing.remove();
  const li = document.createElement("li");
  li.className = cls;
  li.textContent = text;
  if (testid) li.dataset.testid = testid;
  list.appendChild(li);
  list.scrollTop = list.scrollHeight;
}

function describe(e) {
  switch (e.kind) {
    case "node": return ["note", `→ ${e.id}`];
    case "prompt": return ["prompt", `🔊 ${e.text ?? e.file}`];
    case "keys": return ["caller", `☎ keys ${e.keys}`];
    case "speech": return ["caller", `🗣 "${e.text}"`];
    case "silence": return ["caller", `… silence ${Math.round(e.duration_ms / 1000)} s`];
    case "gather": return null;
    case "pause": return ["note", `pause ${Math.round(e.duration_ms / 1000)} s`];
    case "note": return ["note", e.text];
    case "enqueue": return ["note", `queued: ${e.queue}`];
    case "dial": return ["note", `dialling ${e.number}`];
    case "record": return ["note", `recording a message for ${e.mailbox}`];
    case "fetch": {
      const answer = e.answer == null ? "" : ` ${JSON.stringify(e.answer)}`;
      const result = e.status == null ? "failed" : `${e.status}${answer}`;
      return ["note", `⇄ ${e.method} ${e.url} → ${result} (${e.duration_ms} ms)`];
    }
    case "hangup": return ["note", e.by_caller ? "the caller hung up" : "the call ends"];
    default: return ["note", e.kind];
  }
}

function showTranscript(entries) {
  $("transcript").textContent = "";
  for (const e of entries) {
    const d = describe(e);
    if (d) addLine(d[0], `[${clock(e.at_ms)}] ${d[1]}`);
  }
  const fresh = entries.slice(state.heardCount).filter((e) => e.kind === "prompt");
  state.heardCount = entries.length;
  for (const p of fresh) play(p);
}

// Prompts play in order: the recording when there is one, else the browser's speech synthesis
// in the prompt's language; where neither works (a headless browser) the text above is all.
let chain = Promise.resolve();
function play(p) {
  chain = chain.then(() => new Promise((done) => {
    const fallback = () => {
      if (!window.speechSynthesis || !p.text) { done(); return; }
      const u = new SpeechSynthesisUtterance(p.text);
      u.lang = p.lang;
      u.onend = u.onerror = () => done();
      speechSynthesis.speak(u);
      setTimeout(done, Math.max(1000, p.duration_ms + 500));
    };
    if (p.file) {
      const audio = new Audio(`/sounds/${encodeURIComponent(p.file)}`);
      audio.onended = () => done();
      audio.onerror = fallback;
      audio.play().catch(fallback);
    } else {
      fallback();
    }
  }));
}

// ---- tests and waits ---------------------------------------------------------------------

async function runTests() {
  const out = $("test-results");
  out.textContent = "running…";
  const { ok, data } = await api("POST", `/api/flows/${encodeURIComponent(state.flow)}/tests`);
  out.textContent = "";
  if (!ok) { out.textContent = data.error; return; }
  if (data.error) {
    const pre = document.createElement("pre");
    pre.className = "fail";
    pre.textContent = data.error;
    out.appendChild(pre);
  }
  for (const c of data.cases) {
    const div = document.createElement("div");
    div.className = c.passed ? "pass" : "fail";
    div.textContent = `${c.passed ? "ok  " : "FAIL"} ${c.name}`;
    out.appendChild(div);
    if (!c.passed) {
      const pre = document.createElement("pre");
      pre.textContent = c.problems.join("\n");
      out.appendChild(pre);
    }
  }
  if (data.uncovered_nodes && data.uncovered_nodes.length) {
    const div = document.createElement("div");
    div.textContent = `nodes no case entered: ${data.uncovered_nodes.join(", ")}`;
    out.appendChild(div);
  }
  if (data.uncovered_options && data.uncovered_options.length) {
    const div = document.createElement("div");
    div.textContent = `options no case chose: ${data.uncovered_options.join(", ")}`;
    out.appendChild(div);
  }
  const summary = document.createElement("div");
  summary.dataset.testid = "test-summary";
  summary.textContent = data.summary;
  out.appendChild(summary);
  state.uncovered = data.uncovered_nodes || [];
  state.uncoveredOptions = data.uncovered_options || [];
  markUncovered();
}

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
function waitColour(s) {
  // Green under a minute, through yellow, to red at ten minutes and over.
  const t = Math.min(1, Math.log1p(s / 60) / Math.log1p(10));
  return `hsl(${120 - 120 * t}, 70%, ${85 - 25 * t}%)`;
}

async function loadWaits(name) {
  const box = $("heatmap");
  box.textContent = "";
  const { ok, data } = await api("GET", `/api/flows/${encodeURIComponent(name)}/waits`);
  if (!ok) { box.textContent = data.error; return; }
  if (!data.queues.length) { box.textContent = "This flow names no queue model."; return; }
  for (const q of data.queues) {
    const h = document.createElement("div");
    h.textContent = `${q.name}: expected wait (minutes:seconds); hatched = closed`;
    box.appendChild(h);
    const hours = [...new Set(q.cells.map((c) => c.hour))].sort((a, b) => a - b);
    const table = document.createElement("table");
    table.dataset.queue = q.name;
    const head = table.insertRow();
    head.appendChild(document.createElement("th"));
    for (const hr of hours) { const th = document.createElement("th"); th.textContent = hr; head.appendChild(th); }
    for (const day of DAYS) {
      const row = table.insertRow();
      const th = document.createElement("th");
      th.textContent = day;
      row.appendChild(th);
      for (const hr of hours) {
        const cell = q.cells.find((c) => c.day === day && c.hour === hr);
        const td = row.insertCell();
        if (!cell || !cell.open || cell.wait_s == null) { td.className = "closed"; td.title = `${day} ${hr}:00 closed`; continue; }
        td.style.background = waitColour(cell.wait_s);
        td.textContent = clock(cell.wait_s * 1000);
        td.title = `${day} ${hr}:00 — ${Math.round(cell.wait_s)} s`;
      }
    }
    box.appendChild(table);
    const best = document.createElement("ul");
    best.dataset.testid = `best-${q.name}`;
    for (const line of q.best) { const li = document.createElement("li"); li.textContent = line; best.appendChild(li); }
    box.appendChild(best);
  }
}

// ---- wiring ------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("editor").addEventListener("input", scheduleCheck);
  $("editor").addEventListener("scroll", () => { $("gutter").scrollTop = $("editor").scrollTop; });
  $("save").addEventListener("click", save);
  $("call-start").addEventListener("click", startCall);
  $("call-silence").addEventListener("click", silence);
  $("call-hangup").addEventListener("click", () => turn("hangup"));
  $("run-tests").addEventListener("click", runTests);
  for (const b of document.querySelectorAll("#keypad button")) b.addEventListener("click", () => key(b.dataset.key));
  $("speech-input").addEventListener("keydown", (e) => {
    if (e.key === "Enter") { speak(e.target.value); e.target.value = ""; }
  });
  document.addEventListener("keydown", (e) => {
    const typing = ["TEXTAREA", "INPUT", "SELECT"].includes(document.activeElement?.tagName);
    if (!typing && /^[0-9*#]$/.test(e.key)) key(e.key);
  });
  loadList();
});
