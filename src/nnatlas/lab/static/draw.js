// Canvas drawing for the lab: the decision boundary, line curves and heatmaps. No library.
"use strict";

const PALETTE = ["#2f6fd6", "#e8702a", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                 "#7f7f7f", "#bcbd22", "#17becf"];

function rgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

// The predicted class of each grid cell, its colour's strength the probability; then the points.
// grid: {size, box: [x0, x1, y0, y1], cls, p} row by row from the top; cls and p are base64,
// one byte per cell (the class; the probability times 255).
function bytes(text) {
  const raw = atob(text), out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

function drawBoundary(canvas, grid, points) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  const classes = points ? points.classes.length : 2;
  if (grid) {
    const n = grid.size, image = ctx.createImageData(n, n);
    const cls = bytes(grid.cls), prob = bytes(grid.p);
    for (let i = 0; i < n * n; i++) {
      const [r, g, b] = rgb(PALETTE[cls[i] % PALETTE.length]);
      // Chance (1/classes) is white; certainty is the class's colour at 70%.
      const strength = Math.max(0, (prob[i] / 255 - 1 / classes) / (1 - 1 / classes)) * 0.7;
      image.data[4 * i] = 255 + (r - 255) * strength;
      image.data[4 * i + 1] = 255 + (g - 255) * strength;
      image.data[4 * i + 2] = 255 + (b - 255) * strength;
      image.data[4 * i + 3] = 255;
    }
    const off = document.createElement("canvas");
    off.width = n; off.height = n;
    off.getContext("2d").putImageData(image, 0, 0);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(off, 0, 0, w, h);
  }
  if (!points) return;
  const box = (grid && grid.box) || points.box;
  const sx = (x) => ((x - box[0]) / (box[1] - box[0])) * w;
  const sy = (y) => h - ((y - box[2]) / (box[3] - box[2])) * h;
  const dot = (xy, c, test) => {
    ctx.beginPath();
    ctx.arc(sx(xy[0]), sy(xy[1]), 3.2, 0, 2 * Math.PI);
    ctx.fillStyle = PALETTE[c % PALETTE.length];
    ctx.fill();
    ctx.lineWidth = test ? 1.5 : 0.6;
    ctx.strokeStyle = test ? "#000" : "#fff";
    ctx.stroke();
  };
  points.train.forEach((xy, i) => dot(xy, points.train_y[i], false));
  points.test.forEach((xy, i) => dot(xy, points.test_y[i], true));
}

// Lines of (x, y) pairs: series = {name: [[x, y], ...]}, autoscaled, with a legend.
function drawCurves(canvas, series, xLabel) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, left = 48, bottom = 26, top = 10, right = 10;
  ctx.clearRect(0, 0, w, h);
  const all = Object.values(series).flat().filter((p) => Number.isFinite(p[1]));
  if (!all.length) return;
  let x0 = Math.min(...all.map((p) => p[0])), x1 = Math.max(...all.map((p) => p[0]));
  let y0 = Math.min(0, ...all.map((p) => p[1])), y1 = Math.max(...all.map((p) => p[1]));
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) y1 = y0 + 1;
  const sx = (x) => left + ((x - x0) / (x1 - x0)) * (w - left - right);
  const sy = (y) => h - bottom - ((y - y0) / (y1 - y0)) * (h - top - bottom);
  ctx.strokeStyle = "#999"; ctx.lineWidth = 1; ctx.fillStyle = "#555"; ctx.font = "11px sans-serif";
  ctx.beginPath(); ctx.moveTo(left, top); ctx.lineTo(left, h - bottom); ctx.lineTo(w - right, h - bottom);
  ctx.stroke();
  for (let k = 0; k <= 4; k++) {
    const y = y0 + ((y1 - y0) * k) / 4;
    ctx.fillText(y.toPrecision(3), 2, sy(y) + 4);
  }
  ctx.fillText(`${xLabel} ${Math.round(x1)}`, w - right - 90, h - 8);
  Object.entries(series).forEach(([name, pts], i) => {
    const colour = PALETTE[i % PALETTE.length];
    ctx.strokeStyle = colour; ctx.lineWidth = 1.6; ctx.beginPath();
    pts.filter((p) => Number.isFinite(p[1])).forEach((p, j) => (j ? ctx.lineTo(sx(p[0]), sy(p[1])) : ctx.moveTo(sx(p[0]), sy(p[1]))));
    ctx.stroke();
    ctx.fillStyle = colour;
    ctx.fillText(name, left + 8 + i * 110, top + 10);
  });
}

// One gate as a heatmap: rows are units, columns the tokens. values: (T, H).
function drawHeatmap(canvas, values, tokens, signed, title) {
  const ctx = canvas.getContext("2d");
  const T = values.length, H = values[0].length, cell = 18, rowH = Math.max(3, Math.min(8, 240 / H));
  const left = 40, top = 18, bottom = 70;
  canvas.width = left + T * cell + 10;
  canvas.height = top + H * rowH + bottom;
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = "#222"; ctx.font = "12px sans-serif"; ctx.fillText(title, left, 13);
  for (let t = 0; t < T; t++) {
    for (let u = 0; u < H; u++) {
      const v = values[t][u];
      ctx.fillStyle = signed ? diverging(v) : sequential(v);
      ctx.fillRect(left + t * cell, top + u * rowH, cell, rowH);
    }
  }
  ctx.fillStyle = "#444"; ctx.font = "11px sans-serif";
  ctx.fillText("unit", 4, top + 10);
  tokens.forEach((tok, t) => {
    ctx.save();
    ctx.translate(left + t * cell + cell / 2 + 3, top + H * rowH + 6);
    ctx.rotate(Math.PI / 3);
    ctx.fillText(tok.slice(0, 12), 0, 0);
    ctx.restore();
  });
}

function sequential(v) {  // [0, 1]: dark blue -> green -> yellow (viridis-like)
  const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  return ramp(stops, Math.min(1, Math.max(0, v)));
}

function diverging(v) {  // [-1, 1]: blue -> white -> red
  return ramp([[33, 102, 172], [247, 247, 247], [178, 24, 43]], (Math.min(1, Math.max(-1, v)) + 1) / 2);
}

function ramp(stops, f) {
  const x = f * (stops.length - 1), i = Math.min(stops.length - 2, Math.floor(x)), t = x - i;
  const c = stops[i].map((a, k) => Math.round(a + (stops[i + 1][k] - a) * t));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}
