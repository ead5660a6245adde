/// The page served at `/`: plain HTML, CSS and JavaScript in one string, shipped inside the
/// binary (no CDN, no build step, works offline). One panel per task the server has a model
/// for: sentences with a coloured tag under each word; reviews (typed or a CSV file) with a
/// probability bar per label and a link to the labelled CSV; head characters for acrostic
/// poems; and each model's card. Element ids (`tag-input`, `tag-submit`, `tag-output`, …) are
/// what the browser test drives.
enum WebPage {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>SeqModels</title>
<style>
  :root { --ink: #1d2330; --muted: #667085; --line: #d0d5dd; --accent: #3559e0; --bg: #f7f8fa; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Noto Sans CJK SC", sans-serif; color: var(--ink); background: var(--bg); }
  header { padding: 14px 24px; background: #fff; border-bottom: 1px solid var(--line); display: flex; align-items: baseline; gap: 16px; }
  header h1 { font-size: 20px; margin: 0; }
  header span { color: var(--muted); }
  main { max-width: 1000px; margin: 0 auto; padding: 16px 24px 48px; display: grid; gap: 16px; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 16px 18px; }
  section h2 { font-size: 16px; margin: 0 0 10px; }
  textarea, input[type=text] { width: 100%; font: inherit; padding: 8px 10px; border: 1px solid var(--line); border-radius: 6px; }
  textarea { min-height: 70px; resize: vertical; }
  .row { display: flex; gap: 8px; align-items: center; margin-top: 8px; flex-wrap: wrap; }
  button { font: inherit; padding: 6px 14px; border: 0; border-radius: 6px; background: var(--accent); color: #fff; cursor: pointer; }
  button:disabled { opacity: .5; cursor: wait; }
  select, input[type=number] { font: inherit; padding: 5px; border: 1px solid var(--line); border-radius: 6px; }
  .error { color: #b42318; margin-top: 8px; white-space: pre-wrap; }
  .sentence { display: flex; flex-wrap: wrap; gap: 6px 4px; margin: 12px 0; }
  .token { display: inline-flex; flex-direction: column; align-items: center; padding: 2px 6px; border-radius: 6px; background: #f2f4f7; }
  .token .word { font-size: 16px; }
  .token .tag { font: 600 11px/1.4 ui-monospace, monospace; padding: 0 5px; border-radius: 4px; color: #fff; }
  .result { margin: 10px 0; padding: 8px 10px; border: 1px solid var(--line); border-radius: 8px; }
  .result .text { color: var(--muted); font-size: 13px; margin-bottom: 6px; }
  .bar { display: grid; grid-template-columns: 90px 1fr 60px; align-items: center; gap: 8px; font-size: 13px; }
  .bar .track { height: 10px; background: #eef0f4; border-radius: 5px; overflow: hidden; }
  .bar .fill { height: 100%; background: var(--accent); }
  .poem { font-size: 22px; line-height: 1.7; margin: 12px 0; letter-spacing: 2px; font-family: "Noto Serif CJK SC", "Songti SC", serif; }
  .poem .head { color: var(--accent); font-weight: 700; }
  .poem .score { font-size: 12px; color: var(--muted); letter-spacing: 0; font-family: system-ui, sans-serif; }
  .card { font-size: 13px; color: var(--muted); margin: 4px 0 0; }
  .hidden { display: none; }
  table { border-collapse: collapse; font-size: 13px; width: 100%; }
  td, th { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eef0f4; vertical-align: top; }
</style>
</head>
<body>
<header><h1>SeqModels</h1><span>LSTM models for tagging, classifying and writing</span></header>
<main>
  <section id="tag-panel" class="hidden">
    <h2>Part-of-speech tagging</h2>
    <textarea id="tag-input" placeholder="One sentence per line">The old lighthouse keeper wrote one line in her book every morning.</textarea>
    <div class="row"><button id="tag-submit">Tag</button><select id="tag-model"></select></div>
    <div id="tag-error" class="error"></div>
    <div id="tag-output"></div>
    <p class="card" id="tag-card"></p>
  </section>
  <section id="classify-panel" class="hidden">
    <h2>Review classification</h2>
    <textarea id="classify-input" placeholder="One review per line">A warm, funny and beautifully acted film.
Two hours of my life I will not get back.</textarea>
    <div class="row"><button id="classify-submit">Classify</button><select id="classify-model"></select>
      <span>or a CSV file (column <input type="text" id="csv-column" value="text" style="width:80px">)</span>
      <input type="file" id="csv-file" accept=".csv,.tsv,text/csv"><a id="csv-download" class="hidden" download="labelled.csv">download labelled CSV</a></div>
    <div id="classify-error" class="error"></div>
    <div id="classify-output"></div>
    <p class="card" id="classify-card"></p>
  </section>
  <section id="acrostic-panel" class="hidden">
    <h2>Acrostic poems · 藏头诗</h2>
    <input type="text" id="acrostic-input" value="春花秋月" maxlength="16">
    <div class="row"><button id="acrostic-submit">Write</button><select id="acrostic-model"></select>
      <label>line <select id="acrostic-length"><option>7</option><option>5</option></select></label>
      <label><input type="checkbox" id="acrostic-rhyme"> rhyme</label>
      <label>beam <input type="number" id="acrostic-beam" value="1" min="1" max="10" style="width:60px"></label>
      <label>poems <input type="number" id="acrostic-count" value="2" min="1" max="10" style="width:60px"></label></div>
    <div id="acrostic-error" class="error"></div>
    <div id="acrostic-output"></div>
    <p class="card" id="acrostic-card"></p>
  </section>
  <section id="models-panel">
    <h2>Models</h2>
    <table id="models-table"><tr><th>name</th><th>task</th><th>parameters</th><th>vocabulary</th><th>trained to</th><th>labels / tags</th></tr></table>
    <p class="card">API: <a href="/openapi.yaml">/openapi.yaml</a> · <a href="/metrics">/metrics</a> · <a href="/health">/health</a></p>
  </section>
</main>
<script>
"use strict";
const palette = ["#3559e0", "#d92d20", "#039855", "#dc6803", "#7a5af8", "#0e9384", "#c11574", "#475467", "#4e5ba6", "#b54708", "#099250", "#6938ef", "#e31b54", "#0086c9", "#667085", "#ca8504", "#155eef"];
const colours = {};
function colourOf(tag) { if (!(tag in colours)) colours[tag] = palette[Object.keys(colours).length % palette.length]; return colours[tag]; }
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) { if (k === "class") node.className = v; else node.setAttribute(k, v); }
  for (const child of children) node.append(child);
  return node;
}
async function call(path, body) {
  const response = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const data = await response.json().catch(() => ({ error: { message: "HTTP " + response.status } }));
  if (!response.ok) throw new Error(data.error ? data.error.message : "HTTP " + response.status);
  return data;
}
function lines(id) { return document.getElementById(id).value.split("\n").map(s => s.trim()).filter(s => s.length > 0); }
function busy(button, on) { document.getElementById(button).disabled = on; }
function describeCard(card) {
  const trained = card.trained_to ? `${card.trained_to.metric} ${card.trained_to.value.toFixed(4)} (epoch ${card.trained_to.epoch})` : "";
  return `${card.name}: ${card.parameters.toLocaleString()} parameters, vocabulary ${card.vocabulary_size.toLocaleString()}` + (trained ? `, trained to ${trained}` : "");
}
let cards = [];
function selected(task) { const s = document.getElementById(task + "-model"); return s.value || undefined; }

async function tag() {
  const output = document.getElementById("tag-output"), error = document.getElementById("tag-error");
  error.textContent = ""; busy("tag-submit", true);
  try {
    const data = await call("/v1/tag", { sentences: lines("tag-input"), model: selected("tag") });
    output.replaceChildren(...data.sentences.map(s => el("div", { class: "sentence" },
      ...s.tokens.map((token, i) => { const t = el("span", { class: "tag" }, s.tags[i]); t.style.background = colourOf(s.tags[i]);
        return el("span", { class: "token" }, el("span", { class: "word" }, token), t); }))));
  } catch (e) { error.textContent = e.message; } finally { busy("tag-submit", false); }
}
function showClassifications(texts, results) {
  document.getElementById("classify-output").replaceChildren(...results.map((r, i) => el("div", { class: "result" },
    el("div", { class: "text" }, texts[i]),
    ...Object.entries(r.probabilities).sort((a, b) => b[1] - a[1]).map(([label, p]) => {
      const fill = el("div", { class: "fill" }); fill.style.width = (100 * p).toFixed(1) + "%";
      return el("div", { class: "bar" }, el("span", {}, label), el("div", { class: "track" }, fill), el("span", {}, (100 * p).toFixed(1) + "%"));
    }))));
}
async function classify() {
  const error = document.getElementById("classify-error"); error.textContent = ""; busy("classify-submit", true);
  try { const texts = lines("classify-input"); const data = await call("/v1/classify", { texts, model: selected("classify") }); showClassifications(texts, data.results); }
  catch (e) { error.textContent = e.message; } finally { busy("classify-submit", false); }
}
async function classifyFile() {
  const file = document.getElementById("csv-file").files[0], error = document.getElementById("classify-error");
  if (!file) return;
  error.textContent = "";
  const params = new URLSearchParams({ text_column: document.getElementById("csv-column").value, format: file.name.endsWith(".tsv") ? "tsv" : "csv" });
  if (selected("classify")) params.set("model", selected("classify"));
  const response = await fetch("/v1/classify/csv?" + params, { method: "POST", headers: { "Content-Type": "text/csv" }, body: file });
  if (!response.ok) { const data = await response.json().catch(() => ({})); error.textContent = data.error ? data.error.message : "HTTP " + response.status; return; }
  const link = document.getElementById("csv-download");
  link.href = URL.createObjectURL(await response.blob()); link.download = file.name.replace(/(\.[a-z]+)?$/, ".labelled$1"); link.classList.remove("hidden");
}
async function acrostic() {
  const output = document.getElementById("acrostic-output"), error = document.getElementById("acrostic-error");
  error.textContent = ""; busy("acrostic-submit", true);
  try {
    const data = await call("/v1/acrostic", { head: document.getElementById("acrostic-input").value.trim(), model: selected("acrostic"),
      line_length: Number(document.getElementById("acrostic-length").value), rhyme: document.getElementById("acrostic-rhyme").checked,
      beam: Number(document.getElementById("acrostic-beam").value), count: Number(document.getElementById("acrostic-count").value) });
    output.replaceChildren(...data.poems.map(p => el("div", { class: "poem" },
      ...p.lines.map(line => el("div", {}, el("span", { class: "head" }, line[0]), line.slice(1))),
      el("div", { class: "score" }, `mean log-probability ${p.meanLogProbability.toFixed(3)} · ` +
        Object.entries(p.constraints).filter(([, ok]) => !ok).map(([k]) => k + " ✗").join(" ") || "every constraint holds"))));
  } catch (e) { error.textContent = e.message; } finally { busy("acrostic-submit", false); }
}
async function start() {
  const response = await fetch("/v1/models"); cards = (await response.json()).models;
  const panels = { tagger: "tag", classifier: "classify", generator: "acrostic" };
  for (const [task, panel] of Object.entries(panels)) {
    const mine = cards.filter(c => c.task === task);
    if (mine.length === 0) continue;
    document.getElementById(panel + "-panel").classList.remove("hidden");
    document.getElementById(panel + "-model").replaceChildren(...mine.map(c => el("option", { value: c.name }, c.name)));
    if (mine.length === 1) document.getElementById(panel + "-model").classList.add("hidden");
    document.getElementById(panel + "-card").textContent = mine.map(describeCard).join(" · ");
  }
  const table = document.getElementById("models-table");
  for (const c of cards) {
    const trained = c.trained_to ? `${c.trained_to.metric} ${c.trained_to.value.toFixed(4)}` : "";
    table.append(el("tr", {}, el("td", {}, c.name), el("td", {}, c.task), el("td", {}, c.parameters.toLocaleString()),
      el("td", {}, c.vocabulary_size.toLocaleString()), el("td", {}, trained), el("td", {}, (c.labels || []).join(" "))));
  }
  document.getElementById("tag-submit").onclick = tag;
  document.getElementById("classify-submit").onclick = classify;
  document.getElementById("csv-file").onchange = classifyFile;
  document.getElementById("acrostic-submit").onclick = acrostic;
  document.body.dataset.ready = "true";
}
start();
</script>
</body>
</html>
"""#
}
