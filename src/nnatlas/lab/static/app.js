// nnatlas lab: the page's behaviour. Talks to the lab's own /api only; draws with draw.js.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { info: null, runs: [], pgJob: null, trJob: null, streams: {} };

// -- talking to the server ------------------------------------------------------------------
async function api(path, options = {}) {
  const response = await fetch(path, { credentials: "same-origin", ...options });
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    const detail = body && body.detail ? body.detail : `${response.status} ${response.statusText}`;
    throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  return body;
}

const post = (path, value) =>
  api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(value) });

function say(text) {
  const box = $("message");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(say.timer);
  say.timer = setTimeout(() => (box.hidden = true), 8000);
}

// Run an action; a refusal is shown on the page (never thrown to the console).
const guarded = (fn) => async (...args) => {
  try { await fn(...args); } catch (err) { say(err.message); }
};

// Follow one job's server-sent events; handlers by event name. Returns the EventSource.
function follow(jobId, handlers) {
  const source = new EventSource(`/api/jobs/${jobId}/events`);
  for (const [name, handler] of Object.entries(handlers)) {
    source.addEventListener(name, (event) => handler(JSON.parse(event.data)));
  }
  source.addEventListener("end", (event) => {
    source.close();
    if (handlers.finished) handlers.finished(JSON.parse(event.data));
    refreshQueue();
  });
  source.onerror = () => {};  // the browser reconnects by itself; the queue view shows the state
  return source;
}

// -- tabs -----------------------------------------------------------------------------------
function showTab(name) {
  document.querySelectorAll("#tabs button").forEach((b) => b.classList.toggle("active", b.dataset.tab === name));
  document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t.id === `tab-${name}`));
  if (name === "runs" || name === "cnn" || name === "seq") guarded(refreshRuns)();
}

// -- playground -----------------------------------------------------------------------------
const ACTIVATIONS = ["tanh", "relu", "leaky_relu", "gelu", "sigmoid"];

function addLayer(width = 8, activation = "tanh") {
  const row = document.createElement("div");
  row.className = "layer";
  const input = document.createElement("input");
  Object.assign(input, { type: "number", min: 1, max: 256, value: width, className: "pg-width" });
  const select = document.createElement("select");
  select.className = "pg-activation";
  ACTIVATIONS.forEach((a) => select.add(new Option(a, a, false, a === activation)));
  const label = document.createElement("span");
  label.textContent = `layer ${$("pg-layers").children.length + 1}`;
  row.append(label, input, select);
  $("pg-layers").append(row);
}

function playgroundSpec() {
  const number = (id) => Number($(id).value);
  return {
    data: $("pg-data").value,
    points: number("pg-points"),
    noise: number("pg-noise"),
    hidden: [...document.querySelectorAll(".pg-width")].map((i) => Number(i.value)),
    activations: [...document.querySelectorAll(".pg-activation")].map((s) => s.value),
    dropout: number("pg-dropout"),
    residual: $("pg-residual").checked,
    loss: $("pg-loss").value,
    optimizer: $("pg-optimizer").value,
    lr: number("pg-lr"),
    batch_size: number("pg-batch"),
    epochs: number("pg-epochs"),
    pace_ms: number("pg-pace"),
  };
}

async function startPlayground() {
  const job = await post("/api/playground", playgroundSpec());
  if (state.streams.pg) state.streams.pg.close();
  state.pgJob = job.id;
  const curves = { "train loss": [], "test loss": [] };
  let points = null, frames = 0;
  const canvas = $("pg-boundary"), curve = $("pg-curve");
  canvas.dataset.frames = "0"; curve.dataset.points = "0";
  $("pg-export").hidden = true;
  setRunning(true);
  state.streams.pg = follow(job.id, {
    points: (p) => { points = p; drawBoundary(canvas, null, points); },
    boundary: (grid) => {
      drawBoundary(canvas, grid, points);
      canvas.dataset.frames = String(++frames);
    },
    metrics: (m) => {
      curves["train loss"].push([m.step, m.train_loss]);
      curves["test loss"].push([m.step, m.test_loss]);
      drawCurves(curve, curves, "step");
      curve.dataset.points = String(curves["train loss"].length);
      $("pg-status").textContent =
        `step ${m.step}  epoch ${m.epoch.toFixed(1)}  train loss ${m.train_loss.toFixed(4)}  ` +
        `accuracy ${m.train_accuracy.toFixed(3)}  test ${m.test_accuracy.toFixed(3)}`;
    },
    state: (s) => {
      $("pg-pause").textContent = s.state === "paused" ? "Resume" : "Pause";
      if (s.error) say(s.error);
    },
    finished: (summary) => {
      setRunning(false);
      if (summary.state === "done") {
        const link = $("pg-export");
        link.href = `/api/playground/${summary.id}/export.py`;
        link.hidden = false;
      }
      $("pg-status").textContent += `  (${summary.state})`;
    },
  });
  refreshQueue();
}

function setRunning(running) {
  $("pg-start").disabled = running;
  $("pg-pause").disabled = !running;
  $("pg-stop").disabled = !running;
  $("pg-pause").textContent = "Pause";
}

async function uploadCsv() {
  const file = $("pg-csv").files[0];
  if (!file) return;
  const result = await api("/api/playground/csv", { method: "POST", body: file, headers: { "Content-Type": "text/csv" } });
  const option = new Option(`${file.name} (${result.rows} rows, ${result.classes.length} classes)`, result.data);
  $("pg-data").add(option);
  $("pg-data").value = result.data;
}

// -- zoo trainings --------------------------------------------------------------------------
function fillTrainForm() {
  const data = $("tr-data");
  state.info.datasets.forEach((d) => data.add(new Option(d.name, d.name, false, d.name === "digits")));
  data.addEventListener("change", fillModels);
  fillModels();
}

function fillModels() {
  const chosen = state.info.datasets.find((d) => d.name === $("tr-data").value);
  const models = $("tr-model");
  models.replaceChildren(new Option("(the dataset's default)", ""));
  (state.info.models_by_task[chosen.task] || []).forEach((m) => models.add(new Option(m, m)));
  $("tr-path").disabled = !chosen.family || !state.info.path_families.includes(chosen.family);
}

async function startTraining() {
  const chosen = state.info.datasets.find((d) => d.name === $("tr-data").value);
  const data = chosen.family ? `${chosen.family}:${$("tr-path").value}` : chosen.name;
  const value = (id) => $(id).value || null;
  const job = await post("/api/train", {
    data, model: value("tr-model"), engine: $("tr-engine").value, epochs: value("tr-epochs"),
    lr: value("tr-lr"), batch_size: value("tr-batch"), limit: value("tr-limit"), run_name: value("tr-name"),
  });
  watchTraining(job.id);
  refreshQueue();
}

function watchTraining(jobId) {
  if (state.streams.tr) state.streams.tr.close();
  state.trJob = jobId;
  const curves = { "step loss": [], "train loss": [], "val loss": [] };
  let perEpoch = null;
  state.streams.tr = follow(jobId, {
    step: (s) => { curves["step loss"].push([s.step, s.loss]); drawCurves($("tr-curve"), curves, "step"); },
    epoch: (row) => {
      perEpoch = row;
      curves["train loss"].push([row.step, row.train_loss]);
      if (row.val_loss !== undefined) curves["val loss"].push([row.step, row.val_loss]);
      drawCurves($("tr-curve"), curves, "step");
      const acc = row.val_accuracy !== undefined ? `  val accuracy ${row.val_accuracy.toFixed(4)}` : "";
      $("tr-status").textContent = `job ${jobId}: epoch ${row.epoch}  train loss ${row.train_loss.toFixed(4)}${acc}`;
    },
    state: (s) => { if (s.error) say(s.error); },
    finished: (summary) => {
      const metrics = summary.result && summary.result.test_metrics;
      const acc = metrics && metrics.accuracy !== undefined ? `  test accuracy ${metrics.accuracy.toFixed(4)}` : "";
      $("tr-status").textContent = `job ${jobId} ${summary.state}${acc}${summary.error ? ": " + summary.error : ""}`;
      if (!perEpoch && summary.state !== "done") say(summary.error || `job ${jobId} ${summary.state}`);
    },
  });
}

// -- the queue ------------------------------------------------------------------------------
async function refreshQueue() {
  const jobs = await api("/api/jobs");
  const list = $("queue");
  list.replaceChildren(...jobs.slice().reverse().map((job) => {
    const item = document.createElement("li");
    item.dataset.job = job.id;
    const title = document.createElement("div");
    title.textContent = `#${job.id} ${job.title}`;
    const status = document.createElement("div");
    status.className = "state";
    status.textContent = job.state + (job.seconds ? ` · ${job.seconds.toFixed(1)} s` : "") + (job.error ? ` · ${job.error}` : "");
    item.append(title, status);
    const control = (label, action) => {
      const b = document.createElement("button");
      b.textContent = label;
      b.addEventListener("click", guarded(async () => { await post(`/api/jobs/${job.id}/${action}`, {}); refreshQueue(); }));
      item.append(b);
    };
    if (job.state === "running" || job.state === "queued") control("pause", "pause");
    if (job.state === "paused") control("resume", "resume");
    if (!["done", "failed", "stopped", "stopping"].includes(job.state)) control("stop", "stop");
    if (job.kind === "train") {
      const b = document.createElement("button");
      b.textContent = "watch";
      b.addEventListener("click", () => { showTab("train"); watchTraining(job.id); });
      item.append(b);
    }
    return item;
  }));
}

// -- run browser ----------------------------------------------------------------------------
async function refreshRuns() {
  state.runs = await api("/api/runs");
  const body = $("runs-list").querySelector("tbody");
  body.replaceChildren(...state.runs.map((run) => {
    const row = document.createElement("tr");
    row.dataset.run = run.name;
    const acc = run.test_metrics && run.test_metrics.accuracy !== undefined ? run.test_metrics.accuracy.toFixed(4) : "";
    [run.name, run.model || "?", run.data || "?", run.engine || "?", acc].forEach((text) => {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.append(cell);
    });
    row.addEventListener("click", guarded(() => openRun(run.name)));
    return row;
  }));
  fillRunSelect($("cnn-run"), ["image"]);
  fillRunSelect($("seq-run"), ["tokens", "lm"]);
  const reports = await api("/api/reports");
  $("reports-list").replaceChildren(...(reports.length ? reports : [null]).map((report) => {
    const item = document.createElement("li");
    if (!report) { item.textContent = "no lesson reports yet (reports/)"; return item; }
    const link = document.createElement("a");
    link.href = "#";
    link.textContent = report.title;
    link.addEventListener("click", (event) => { event.preventDefault(); openReport(report.path); });
    item.append(link);
    return item;
  }));
}

function fillRunSelect(select, kinds) {
  const before = select.value;
  const runs = state.runs.filter((r) => kinds.includes(r.kind));
  select.replaceChildren(...runs.map((r) => new Option(`${r.name} (${r.model})`, r.name)));
  if (runs.some((r) => r.name === before)) select.value = before;
}

const fileUrl = (run, path) => `/api/files/runs/${encodeURIComponent(run)}/${path.split("/").map(encodeURIComponent).join("/")}`;

async function openRun(name) {
  const run = await api(`/api/runs/${encodeURIComponent(name)}`);
  document.querySelectorAll("#runs-list tr").forEach((r) => r.classList.toggle("selected", r.dataset.run === name));
  const panel = $("run-detail");
  panel.replaceChildren();
  const heading = document.createElement("h2");
  heading.textContent = `${run.name}: ${run.model} on ${run.data} (${run.engine})`;
  panel.append(heading);
  const table = document.createElement("table");
  table.className = "metrics";
  table.id = "run-metrics";
  Object.entries(run.test_metrics || {}).forEach(([key, value]) => {
    const row = table.insertRow();
    row.insertCell().textContent = `test ${key}`;
    row.insertCell().textContent = typeof value === "number" ? value.toFixed(4) : String(value);
  });
  const facts = { epochs: run.config && run.config.epochs, "learning rate": run.config && run.config.lr,
                  classes: run.classes ? run.classes.join(", ") : null,
                  sizes: run.sizes ? Object.entries(run.sizes).map(([k, v]) => `${k} ${v}`).join(", ") : null };
  Object.entries(facts).filter(([, v]) => v !== null && v !== undefined).forEach(([key, value]) => {
    const row = table.insertRow();
    row.insertCell().textContent = key;
    row.insertCell().textContent = String(value);
  });
  panel.append(table);
  if (run.history.length) {
    const canvas = document.createElement("canvas");
    canvas.width = 520; canvas.height = 220; canvas.id = "run-curve";
    const series = {};
    for (const key of Object.keys(run.history[0])) {
      if (key.endsWith("_loss")) series[key.replace("_", " ")] = run.history.map((r) => [r.epoch, r[key]]);
    }
    const h = document.createElement("h2");
    h.textContent = "Curves";
    panel.append(h, canvas);
    drawCurves(canvas, series, "epoch");
  }
  const images = run.files.filter((f) => f.path.endsWith(".png"));
  if (images.length) {
    const h = document.createElement("h2");
    h.textContent = "Plots";
    const box = document.createElement("div");
    box.className = "figures";
    images.slice(0, 12).forEach((f) => {
      const figure = document.createElement("figure");
      const img = document.createElement("img");
      img.src = fileUrl(run.name, f.path);
      img.alt = f.path;
      const caption = document.createElement("figcaption");
      caption.textContent = f.path;
      figure.append(img, caption);
      box.append(figure);
    });
    panel.append(h, box);
  }
  const h = document.createElement("h2");
  h.textContent = "Checkpoints and files";
  const list = document.createElement("ul");
  run.files.filter((f) => !f.path.endsWith(".png")).forEach((f) => {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = fileUrl(run.name, f.path);
    link.textContent = `${f.path} (${(f.bytes / 1024).toFixed(1)} KB)`;
    item.append(link);
    list.append(item);
  });
  panel.append(h, list);
}

function openReport(path) {
  const panel = $("run-detail");
  const frame = document.createElement("iframe");
  frame.id = "report-frame";
  frame.src = `/api/files/reports/${path.split("/").map(encodeURIComponent).join("/")}`;
  const heading = document.createElement("h2");
  heading.textContent = path;
  panel.replaceChildren(heading, frame);
}

// -- explorers ------------------------------------------------------------------------------
async function exploreImage() {
  const file = $("cnn-file").files[0];
  const run = $("cnn-run").value;
  if (!file) return;
  if (!run) throw new Error("no image run yet: train a CNN first (Train tab), then pick it here");
  $("cnn-prediction").textContent = "computing ...";
  const result = await api(`/api/explore/image?run=${encodeURIComponent(run)}`, {
    method: "POST", body: file, headers: { "Content-Type": file.type || "application/octet-stream", "X-File-Name": file.name },
  });
  $("cnn-prediction").textContent = `${result.model} predicts ` +
    result.prediction.map(([c, p]) => `${c} ${(100 * p).toFixed(1)}%`).join(", ") +
    ` · feature maps of ${result.feature_maps.layer} ${result.feature_maps.shape.join("x")}`;
  $("cnn-featuremaps").src = result.figures.featuremaps;
  $("cnn-gradcam").src = result.figures.gradcam;
  if (result.figures.filters) $("cnn-filters").src = result.figures.filters;
}

async function exploreText() {
  const run = $("seq-run").value;
  if (!run) throw new Error("no text run yet: train an LSTM or GRU on a text dataset first");
  $("seq-prediction").textContent = "computing ...";
  const result = await post("/api/explore/text", { run, text: $("seq-text").value });
  const predicted = Array.isArray(result.prediction)
    ? result.prediction.map(([c, p]) => `${c} ${(100 * p).toFixed(1)}%`).join(", ")
    : result.prediction;
  $("seq-prediction").textContent = `${result.model} (${result.cell.toUpperCase()} ${result.layer}): ${predicted}`;
  const box = $("seq-heatmaps");
  box.replaceChildren();
  for (const [gate, values] of Object.entries(result.gates)) {
    const units = mostVarying(values, 32);
    const canvas = document.createElement("canvas");
    canvas.className = "gate-heatmap";
    canvas.dataset.gate = gate;
    const signed = gate === "g" || gate === "n";
    drawHeatmap(canvas, values.map((row) => units.map((u) => row[u])), result.tokens, signed,
                `gate ${gate}: ${units.length} of ${values[0].length} units`);
    box.append(canvas);
  }
  $("seq-gates").src = result.figures.gates;
  $("seq-states").src = result.figures.states;
}

function mostVarying(values, count) {  // the units whose gate changes most over the tokens
  const H = values[0].length;
  const spread = [...Array(H).keys()].map((u) => {
    const column = values.map((row) => row[u]);
    const mean = column.reduce((a, b) => a + b, 0) / column.length;
    return [column.reduce((a, b) => a + (b - mean) ** 2, 0), u];
  });
  return spread.sort((a, b) => b[0] - a[0]).slice(0, count).map((s) => s[1]).sort((a, b) => a - b);
}

// -- start ----------------------------------------------------------------------------------
async function start() {
  // The token, when the lab asks for one, came in the address: the server set a cookie; drop
  // it from the address bar so it is not bookmarked or shared by accident.
  if (location.search.includes("token=")) history.replaceState(null, "", location.pathname);
  document.querySelectorAll("#tabs button").forEach((b) => b.addEventListener("click", () => showTab(b.dataset.tab)));
  state.info = await api("/api/info");
  const data = $("pg-data");
  ["moons", "circles", "spirals", "xor"].forEach((name) => data.add(new Option(name, name)));
  state.info.data_files.filter((f) => f.kind === "csv").forEach((f) => data.add(new Option(`${f.name} (data folder)`, `csv:${f.name}`)));
  addLayer(8, "tanh"); addLayer(8, "tanh");
  $("pg-add-layer").addEventListener("click", () => addLayer());
  $("pg-remove-layer").addEventListener("click", () => { const l = $("pg-layers"); if (l.children.length > 1) l.lastChild.remove(); });
  $("pg-start").addEventListener("click", guarded(startPlayground));
  $("pg-pause").addEventListener("click", guarded(async () => {
    const action = $("pg-pause").textContent === "Pause" ? "pause" : "resume";
    await post(`/api/jobs/${state.pgJob}/${action}`, {});
    refreshQueue();
  }));
  $("pg-stop").addEventListener("click", guarded(async () => { await post(`/api/jobs/${state.pgJob}/stop`, {}); }));
  $("pg-csv").addEventListener("change", guarded(uploadCsv));
  fillTrainForm();
  $("tr-start").addEventListener("click", guarded(startTraining));
  $("runs-refresh").addEventListener("click", guarded(refreshRuns));
  $("cnn-file").addEventListener("change", guarded(exploreImage));
  $("cnn-run").addEventListener("change", guarded(exploreImage));
  $("seq-go").addEventListener("click", guarded(exploreText));
  await refreshQueue();
  setInterval(guarded(refreshQueue), 3000);
  document.body.dataset.ready = "1";
}

document.addEventListener("DOMContentLoaded", guarded(start));
