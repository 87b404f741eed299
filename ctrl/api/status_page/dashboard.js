// The dashboard view (/dashboard): the panels of packaging/grafana/xlb-dashboard.json, the very
// file that packaging ships (embedded at build time, served at /xlb-dashboard.json), laid out
// on Grafana's grid and drawn from data this page collects itself: it scrapes xlbd's /metrics
// every POLL_MS as a Prometheus would (adding instance and job), keeps WINDOW_MS of samples,
// and evaluates each panel's PromQL at every scrape (promql.js). xlbd does nothing for it beyond
// serving /metrics. A query outside promql.js' subset is said so in its panel, never guessed.
// Everything is built with DOM calls and textContent, as on the status page.
"use strict";

const POLL_MS = 2000;
const WINDOW_MS = 5 * 60 * 1000;
// Grafana's $__rate_interval for a data source scraped every POLL_MS: four scrape intervals.
const RATE_INTERVAL = (4 * POLL_MS) / 1000 + "s";
const ROW_PX = 30, GAP_PX = 8;  // Grafana's grid cell height and margin
// The panel types this view draws: those the packaged dashboard has. Another says so in its panel.
const DRAWN = new Set(["timeseries", "state-timeline"]);
// The labels a Prometheus scrape of this page's xlbd would add (job as in docs/operations.md).
const SCRAPE_TARGET = { instance: location.host, job: "xlbd" };

let dashboard = null;
let store = null;
let nodeVariable = null;
let nodeChoice = null;  // null: All
const views = [];       // per panel: {panel, section, plot, legend, targets: [{refId, expr, legendFormat, ast, error, results}]}
const annotations = []; // per annotation: {def, ast, error, results}
let lastGood = null;

const el = chart.el;

// Grafana's unit ids (fieldConfig.defaults.unit) that the dashboard uses, with SI prefixes.
function formatter(unit) {
  const number = (v) => {
    if (v === 0) return "0";
    const a = Math.abs(v);
    return String(a >= 100 ? Math.round(v) : Number(v.toPrecision(3)));
  };
  const si = (suffix) => (v) => {
    if (!Number.isFinite(v)) return String(v);
    for (const [size, p] of [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]]) {
      if (Math.abs(v) >= size) return number(v / size) + " " + p + suffix;
    }
    return number(v) + (suffix ? " " + suffix : "");
  };
  switch (unit) {
    case "pps": return si("p/s");
    case "Bps": return si("B/s");
    case "bps": return si("b/s");
    case "cps": return si("c/s");
    case "ops": return si("ops/s");
    case "reqps": return si("req/s");
    case "bytes": return si("B");
    case "s": return si("s");
    case "ms": return si("ms");
    case "percent": return (v) => number(v) + "%";
    case "percentunit": return (v) => number(v * 100) + "%";
    default: return si("");
  }
}

// Grafana's named colours as its theme draws them (a mapping's "green" is not CSS's dark green).
const NAMED_COLOURS = { green: "#73bf69", red: "#f2495c", orange: "#ff9830", yellow: "#fade2a", blue: "#5794f2",
                        purple: "#b877d9", "dark-green": "#37872d", "dark-red": "#c4162a" };

function colour(name) {
  return NAMED_COLOURS[name] || name;
}

// fieldConfig.defaults.mappings of type "value": a value's text and colour in a state timeline.
function mapper(panel, format) {
  const mappings = ((panel.fieldConfig || {}).defaults || {}).mappings || [];
  const table = {};
  for (const m of mappings) if (m.type === "value") Object.assign(table, m.options || {});
  return (value, index) => {
    const m = table[String(value)];
    return { text: m && m.text !== undefined ? m.text : format(value),
             color: m && m.color ? colour(m.color) : chart.PALETTE[index % chart.PALETTE.length] };
  };
}

function variables() {
  const values = store ? nodeValues() : [];
  let node;
  if (nodeChoice !== null) node = promql.regexOf([nodeChoice]);
  else if (nodeVariable && nodeVariable.allValue) node = nodeVariable.allValue;
  else node = values.length ? promql.regexOf(values) : ".*";
  return { node, __rate_interval: RATE_INTERVAL };
}

// label_values(metric, label): the node variable's own query, over the samples kept.
function nodeValues() {
  const m = /^label_values\((\w+),\s*(\w+)\)$/.exec((nodeVariable && nodeVariable.definition) || "");
  return m ? store.labelValues(m[1], m[2]) : [];
}

function compile(expr) {
  try {
    return { ast: promql.parse(promql.interpolate(expr, variables())), error: null };
  } catch (e) {
    return { ast: null, error: e instanceof promql.Unsupported ? "not supported here: " + e.message : String(e.message || e) };
  }
}

function compileAll() {
  for (const v of views) for (const t of v.targets) Object.assign(t, compile(t.expr), { results: [] });
  for (const a of annotations) Object.assign(a, compile(a.def.expr), { results: [] });
}

function evaluateAt(t) {
  const run = (q) => {
    if (!q.ast) return;
    try {
      const r = promql.evaluate(q.ast, store, t);
      q.results.push({ t, vector: r.vector || [{ labels: {}, value: r.scalar }] });
    } catch (e) {
      q.error = e instanceof promql.Unsupported ? "not supported here: " + e.message : String(e.message || e);
      q.ast = null;
    }
    while (q.results.length && q.results[0].t < t - WINDOW_MS) q.results.shift();
  };
  for (const v of views) v.targets.forEach(run);
  annotations.forEach(run);
}

// Grafana's Prometheus annotations: a mark where a series of the query starts to have values.
function marks() {
  const out = [];
  for (const a of annotations) {
    let before = new Set();
    for (const { t, vector } of a.results) {
      const now = new Set();
      for (const s of vector) {
        const key = promql.labelKey(s.labels);
        now.add(key);
        if (!before.has(key)) out.push({ at: t, text: promql.legend(a.def.titleFormat || a.def.name, s.labels), color: colour(a.def.iconColor || "orange"), name: a.def.name });
      }
      before = now;
    }
  }
  return out.sort((x, y) => y.at - x.at);
}

function layout() {
  const grid = document.getElementById("dash-grid");
  const panels = [...dashboard.panels].sort((a, b) => a.gridPos.y - b.gridPos.y || a.gridPos.x - b.gridPos.x);
  for (const panel of panels) {
    const g = panel.gridPos;
    const height = g.h * ROW_PX + (g.h - 1) * GAP_PX;
    let section;
    if (panel.type === "row") {
      // A collapsed row keeps its panels inside it, closed until opened in Grafana; here they stay closed.
      const inside = panel.collapsed && panel.panels && panel.panels.length;
      section = el("h2", { class: "dash-row", "data-id": panel.id, "data-type": "row" }, panel.title,
                   inside ? el("small", {}, " \u00b7 collapsed, " + panel.panels.length + " panel(s): open it in Grafana") : null);
    } else {
      const unit = ((panel.fieldConfig || {}).defaults || {}).unit;
      const plot = el("div", { class: "plot" }, el("p", { class: "message" }, "waiting for data"));
      const legend = el("ul", { class: "legend" });
      section = el("section", { class: "panel", "data-id": panel.id, "data-type": panel.type, "data-unit": unit || "" },
        el("h3", {}, el("span", { class: "title" }, panel.title), el("small", {}, unit || "")),
        plot, legend);
      if (panel.description) section.title = panel.description;
      views.push({ panel, section, plot, legend, visible: false, stale: true,
                   targets: (panel.targets || []).map((t) => ({ refId: t.refId, expr: t.expr, legendFormat: t.legendFormat, results: [] })) });
    }
    // Grafana's gridPos as CSS grid lines; the stacked (phone) layout keeps the height.
    section.style.gridColumn = `${g.x + 1} / span ${g.w}`;
    section.style.gridRow = `${g.y + 1} / span ${g.h}`;
    section.style.setProperty("--panel-height", height + "px");
    grid.append(section);
  }
  for (const def of (dashboard.annotations || {}).list || []) {
    if (def.expr && def.enable !== false) annotations.push({ def, results: [] });
  }
  compileAll();
  const observer = new IntersectionObserver((entries) => {
    let newlyShown = false;
    for (const e of entries) {
      const v = views.find((x) => x.section === e.target);
      v.visible = e.isIntersecting;
      newlyShown = newlyShown || (v.visible && v.stale);
    }
    if (newlyShown) render();
  }, { rootMargin: "200px" });
  for (const v of views) observer.observe(v.section);
}

function seriesOf(view) {
  const byKey = new Map();
  for (const t of view.targets) {
    for (const { t: at, vector } of t.results) {
      for (const s of vector) {
        // A step's samples are kept until they leave the window: their key is computed once.
        if (s.key === undefined) s.key = t.refId + "\u0002" + promql.labelKey(s.labels);
        const key = s.key;
        if (!byKey.has(key)) byKey.set(key, { ref: t.refId, labels: s.labels, name: promql.legend(t.legendFormat, s.labels), points: [] });
        byKey.get(key).points.push([at, s.value]);
      }
    }
  }
  const series = [...byKey.values()].sort((a, b) => (a.ref + a.name).localeCompare(b.ref + b.name));
  series.forEach((s, i) => { s.color = chart.PALETTE[i % chart.PALETTE.length]; });
  return series;
}

function renderPanel(view, now, from, allMarks, size) {
  const { panel, section, plot, legend } = view;
  const errors = view.targets.filter((t) => t.error).map((t) => t.refId + ": " + t.expr + ": " + t.error);
  if (!DRAWN.has(panel.type)) errors.unshift("not supported here: panel type " + panel.type + " (drawn: " + [...DRAWN].join(", ") + ")");
  const unit = ((panel.fieldConfig || {}).defaults || {}).unit;
  const format = formatter(unit);
  const series = seriesOf(view);
  const current = series.filter((s) => s.points.length && s.points[s.points.length - 1][0] === now);
  section.dataset.at = String(now);
  section.dataset.series = String(current.length);
  if (errors.length) section.dataset.error = errors.join("; ");
  else delete section.dataset.error;
  if (errors.length || series.length === 0) {
    plot.replaceChildren(el("p", { class: "message" }, errors.length ? errors.join("\n") : "No data"));
  } else {
    const width = Math.max(120, size.width), height = Math.max(60, size.height - 2);
    const opts = { width, height, from, to: now, format, maxGapMs: POLL_MS * 2.5, marks: allMarks };
    plot.replaceChildren(panel.type === "state-timeline"
      ? chart.stateTimeline(series, Object.assign(opts, { mapping: mapper(panel, format) }))
      : chart.timeSeries(series, opts));
  }
  // The legend is built again only when its series change; otherwise its values are updated in
  // place (with 1,000 reals, rebuilding 1,000 entries at every scrape was most of the page's time).
  const map = mapper(panel, format);
  const valueOf = (s, i) => {
    const last = s.points[s.points.length - 1];
    const live = last[0] === now;
    return { raw: live ? String(last[1]) : null,
             text: live ? (panel.type === "state-timeline" ? map(last[1], i).text : format(last[1])) : "gone" };
  };
  const keys = series.map((s) => s.ref + "\u0002" + s.name + "\u0002" + s.color).join("\u0001");
  if (view.legendKeys === keys) {
    [...legend.children].forEach((li, i) => {
      const v = valueOf(series[i], i);
      if (v.raw === null) delete li.dataset.value;
      else if (li.dataset.value !== v.raw) li.dataset.value = v.raw;
      if (li.lastChild.textContent !== v.text) li.lastChild.textContent = v.text;
    });
    return;
  }
  view.legendKeys = keys;
  legend.replaceChildren(...series.map((s, i) => {
    const v = valueOf(s, i);
    const swatch = el("span", { class: "swatch" });
    swatch.style.background = s.color;
    return el("li", { "data-ref": s.ref, "data-labels": JSON.stringify(s.labels), "data-value": v.raw, "data-legend": s.name },
      swatch, el("span", { class: "name" }, s.name), el("span", { class: "value" }, v.text));
  }));
}

function render() {
  if (!store || store.times.length === 0) return;
  const now = store.times[store.times.length - 1];
  const from = Math.min(now - 30000, Math.max(now - WINDOW_MS, store.times[0]));
  const allMarks = marks();
  // Only the panels on the screen are drawn (with 1,000 reals a panel holds 1,000 series); the
  // others when they are scrolled into view. Every size first, in one layout, before any change.
  const shown = views.filter((v) => v.visible);
  const sizes = shown.map((v) => ({ width: v.plot.clientWidth, height: v.plot.clientHeight }));
  shown.forEach((v, i) => renderPanel(v, now, from, allMarks, sizes[i]));
  for (const v of views) v.stale = !v.visible;
  document.getElementById("annotations").replaceChildren(...allMarks.map((m) =>
    el("li", { "data-annotation": m.name, "data-at": m.at }, chart.clockText(m.at) + " " + m.text)));
  document.getElementById("dash-range").textContent =
    "last " + Math.round((now - from) / 1000) + " s (up to " + WINDOW_MS / 60000 + " min, since this page opened) \u00b7 $__rate_interval " + RATE_INTERVAL;
  document.body.dataset.updated = String(now);
  document.body.dataset.rateInterval = RATE_INTERVAL;
}

function updatePicker() {
  const picker = document.getElementById("node-picker");
  const values = nodeValues();
  const wanted = [...(nodeVariable && nodeVariable.includeAll ? ["All"] : []), ...values];
  const have = [...picker.options].map((o) => o.textContent);
  if (JSON.stringify(have) === JSON.stringify(wanted)) return;
  picker.replaceChildren(...wanted.map((v) => el("option", { value: v === "All" ? "" : v }, v)));
  picker.value = nodeChoice === null ? "" : nodeChoice;
  if (nodeChoice === null && !(nodeVariable && nodeVariable.includeAll) && values.length) {
    nodeChoice = values[0];
    picker.value = nodeChoice;
    reevaluate();
  }
}

// Another $node: every step evaluated again from the samples kept.
function reevaluate() {
  compileAll();
  for (const t of store.times) evaluateAt(t);
  render();
}

async function scrape() {
  const fresh = document.getElementById("freshness");
  try {
    const reply = await fetch("/metrics", { cache: "no-store" });
    if (!reply.ok) throw new Error("/metrics: HTTP " + reply.status);
    const text = await reply.text();
    const t = Date.now();
    const work = performance.now();
    store.add(t, promql.parseExposition(text, store.names), SCRAPE_TARGET);
    const before = JSON.stringify(variables());
    updatePicker();
    if (JSON.stringify(variables()) !== before) {
      reevaluate();  // the node list changed what $node means: all steps again
    } else {
      evaluateAt(t);
      render();
    }
    lastGood = new Date(t);
    // This browser's work per scrape (parse, evaluate, draw): what the view costs, on its side.
    const workMs = performance.now() - work;
    document.body.dataset.workMs = workMs.toFixed(1);
    fresh.dataset.state = "live";
    fresh.textContent = "live \u00b7 scraped " + chart.clockText(t) + " (" + Math.round(text.length / 1024) + " KB) \u00b7 " +
      store.series.size + " series kept \u00b7 " + workMs.toFixed(0) + " ms to evaluate and draw";
  } catch (err) {
    fresh.dataset.state = "stale";
    fresh.textContent = "NOT UPDATING (" + err.message + ")" + (lastGood ? " \u00b7 last scrape " + chart.clockText(lastGood) : "");
  }
}

async function loop() {
  await scrape();
  setTimeout(loop, POLL_MS);
}

async function start() {
  const fresh = document.getElementById("freshness");
  try {
    const reply = await fetch("/xlb-dashboard.json", { cache: "no-store" });
    if (!reply.ok) throw new Error("/xlb-dashboard.json: HTTP " + reply.status);
    dashboard = await reply.json();
  } catch (err) {
    fresh.dataset.state = "stale";
    fresh.textContent = "cannot read the dashboard (" + err.message + ")";
    return;
  }
  document.getElementById("dash-title").textContent = dashboard.title;
  document.title = dashboard.title;
  nodeVariable = ((dashboard.templating || {}).list || []).find((v) => v.name === "node") || null;
  document.getElementById("node-picker-label").textContent = (nodeVariable && nodeVariable.label) || "node";
  document.getElementById("node-picker").addEventListener("change", (e) => {
    nodeChoice = e.target.value === "" ? null : e.target.value;
    reevaluate();
  });
  // Only the metrics the queries read are kept; the node variable's metric too.
  const names = new Set();
  const exprs = dashboard.panels.flatMap((p) => (p.targets || []).map((t) => t.expr))
    .concat(((dashboard.annotations || {}).list || []).map((a) => a.expr).filter(Boolean));
  for (const e of exprs) {
    try {
      for (const n of promql.metricNames(promql.parse(promql.interpolate(e, { node: ".*", __rate_interval: "1m" })))) names.add(n);
    } catch (err) {
      // The panel says it when it compiles the query.
    }
  }
  const nodeMetric = /^label_values\((\w+),/.exec((nodeVariable && nodeVariable.definition) || "");
  if (nodeMetric) names.add(nodeMetric[1]);
  store = new promql.SampleStore(WINDOW_MS + 60000, names);
  layout();
  window.addEventListener("resize", render);
  loop();
}

start();
