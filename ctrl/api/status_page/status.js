// xlb status page: polls /api/v1/state once a second and redraws. Everything is built with DOM
// calls and textContent (never parsed as HTML), so no label from the configuration can inject markup.
// The charts' points arrive once: the first poll asks for all of them (since=0), every later one
// for those of the rate readings after the last reply's rates.seq, which the page appends to the
// series it keeps per real (docs/api.md).
"use strict";

const POLL_MS = 1000;
let offset = 0;
let lastGood = null;
let pageSize = 100;
let since = 0;               // rates.seq of the last reply whose points the page holds
const series = new Map();    // "service real" -> [[unix_ms, pps, bytes/s], ...], oldest first

function realKey(service, r) {
  return serviceLabel(service) + " " + endpoint(r.address, r.port);
}

// Folds the reply's points into the kept series; returns whether the next poll must ask for all.
function mergeHistory(state) {
  const windowMs = state.rates.interval_ms * state.rates.points;
  const nowMs = Date.parse(state.generated_at) || Date.now();
  const seen = new Set();
  let missing = false;
  for (const s of state.services.items) {
    for (const r of s.reals) {
      const key = realKey(s, r);
      seen.add(key);
      const points = r.history || [];
      if (since === 0 || !series.has(key)) {
        if (since !== 0) missing = true;  // a real this page has no series for: ask for all once
        series.set(key, points.slice());
        continue;
      }
      const kept = series.get(key);
      const last = kept.length ? kept[kept.length - 1][0] : -Infinity;
      for (const p of points) if (p[0] > last) kept.push(p);
      while (kept.length && kept[0][0] < nowMs - windowMs) kept.shift();
    }
  }
  for (const key of [...series.keys()]) if (!seen.has(key)) series.delete(key);
  return missing;
}

const el = chart.el;

function endpoint(address, port) {
  return (address.includes(":") ? "[" + address + "]" : address) + ":" + port;
}

function serviceLabel(s) {
  return s.fwmark ? "FWM " + s.fwmark : s.protocol + " " + endpoint(s.address, s.port);
}

function rate(value, unit) {
  const v = Number(value) || 0;
  const steps = [[1e9, "G"], [1e6, "M"], [1e3, "k"]];
  for (const [size, prefix] of steps) if (v >= size) return (v / size).toFixed(1) + " " + prefix + unit;
  return v.toFixed(v < 10 && v !== 0 ? 1 : 0) + " " + unit;
}

function clock(iso) {
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleTimeString([], { hour12: false });
}

function badge(text, cls) {
  return el("span", { class: "badge " + (cls || text) }, text);
}

// A sparkline of packets per second over the sampler's window, newest at the right (chart.js).
function sparkline(history, windowMs, nowMs) {
  return chart.sparkline(history || [], nowMs - windowMs, nowMs,
                         (max) => "packets/s over the last " + Math.round(windowMs / 60000) + " min, peak " + rate(max, "pps"));
}

function renderInstances(state) {
  const box = document.getElementById("instances");
  const instances = state.status.instances || [];
  if (instances.length === 0) {
    box.replaceChildren(el("p", { class: "empty" }, "no vrrp_instance: every VIP is always served here"));
    return;
  }
  const transitions = (name) =>
    state.events.filter((e) => e.kind === "vrrp" && e.subject === name).slice(0, 3);
  box.replaceChildren(
    el("div", { class: "grid" },
      instances.map((i) =>
        el("div", { class: "card instance", "data-instance": i.name, "data-state": i.state },
          el("h3", {}, i.name, " ", badge(i.state)),
          el("dl", {},
            el("dt", {}, "priority"), el("dd", {}, i.priority + (i.priority !== i.base_priority ? " (configured " + i.base_priority + ")" : "")),
            el("dt", {}, "master"), el("dd", {}, i.state === "MASTER" ? "this node" : (i.master || "unknown")),
            el("dt", {}, "VRID / dev"), el("dd", {}, i.vrid + " on " + i.interface),
            el("dt", {}, "VIPs"), el("dd", {}, (i.vips || []).join(", ") || "none"),
            i.split_brain ? [el("dt", {}, "split brain"), el("dd", {}, String(i.split_brain))] : null,
            el("dt", {}, "last changes"),
            el("dd", {}, transitions(i.name).length === 0
              ? (i.last_transition || "none since start")
              : el("ul", { class: "transitions" }, transitions(i.name).map((e) => el("li", {}, clock(e.at) + " " + e.text))))))))
  );
}

function realRow(r, service, windowMs, nowMs) {
  const health = String(r.health || "");
  const first = health.split(",")[0];
  const marks = health.split(",").slice(1);
  const pps = r.rate ? r.rate.packets_per_second : 0;
  return el("tr", { class: "real", "data-real": endpoint(r.address, r.port), "data-health": first,
                    "data-service": serviceLabel(service), "data-pps": pps },
    el("td", {}, endpoint(r.address, r.port)),
    el("td", {}, badge(first), marks.map((m) => [" ", badge(m, m === "serving" ? "sorry" : m)])),
    el("td", { class: "num" }, r.weight + (r.weight !== r.configured_weight ? "/" + r.configured_weight : "")),
    el("td", { class: "num" }, String(r.active_conns)),
    el("td", { class: "num hide-narrow" }, String(r.inactive_conns)),
    el("td", { class: "num" }, rate(r.rate && r.rate.packets_per_second, "pps")),
    el("td", { class: "num hide-narrow" }, rate(r.rate && r.rate.bytes_per_second, "B/s")),
    el("td", {}, sparkline(series.get(realKey(service, r)), windowMs, nowMs)));
}

function renderServices(state) {
  const box = document.getElementById("vips");
  const page = state.services;
  const windowMs = state.rates.interval_ms * state.rates.points;
  const nowMs = Date.parse(state.generated_at) || Date.now();
  const announce = new Map(((state.status.announce || {}).vips || []).map((v) => [v.vip, v]));
  const owner = new Map();
  for (const i of state.status.instances || []) for (const v of i.vips || []) owner.set(v.split("/")[0], i);
  const byVip = new Map();
  for (const s of page.items) {
    const key = s.fwmark ? "fwmark " + s.fwmark : s.address;
    if (!byVip.has(key)) byVip.set(key, []);
    byVip.get(key).push(s);
  }
  if (byVip.size === 0) {
    box.replaceChildren(el("p", { class: "empty" }, "no virtual_server"));
  } else {
    box.replaceChildren(...[...byVip].map(([vip, services]) => {
      const a = announce.get(vip);
      const o = owner.get(vip);
      return el("div", { class: "card vip", "data-vip": vip },
        el("h3", {}, vip, " ",
          o ? badge(o.name + " " + o.state, o.state) : badge("no VRRP", "none"), " ",
          a ? badge(a.announced ? "announced" : "withdrawn") : null,
          a && !a.announced ? el("small", {}, " " + a.reason + " since " + a.since) : null),
        services.map((s) =>
          el("div", { class: "service", "data-service": serviceLabel(s) },
            el("p", {}, el("strong", {}, serviceLabel(s)), " " + s.scheduler,
              s.persistence ? " persistence " + s.persistence + "s" : "",
              " \u00b7 ", s.active ? "forwarding" : "standby (not VIP owner)",
              s.sorry_server ? [" \u00b7 ", badge("sorry server " + s.sorry_server + " serving", "sorry")] : null,
              " \u00b7 " + s.stats.conns + " conns, " + s.stats.packets + " packets"),
            el("div", { class: "table-wrap" },
              el("table", {},
                el("thead", {}, el("tr", {},
                  el("th", {}, "real"), el("th", {}, "health"), el("th", {}, "weight"), el("th", {}, "active"),
                  el("th", { class: "hide-narrow" }, "inactive"), el("th", {}, "pps"), el("th", { class: "hide-narrow" }, "bytes/s"),
                  el("th", {}, "last " + Math.round(windowMs / 60000) + " min"))),
                el("tbody", {}, s.reals.map((r) => realRow(r, s, windowMs, nowMs))))))));
    }));
  }
  const nav = document.getElementById("pages");
  nav.hidden = page.total <= page.limit;
  document.getElementById("page-text").textContent =
    "services " + (page.total === 0 ? 0 : page.offset + 1) + "\u2013" + Math.min(page.total, page.offset + page.limit) + " of " + page.total;
  document.getElementById("prev").disabled = page.offset === 0;
  document.getElementById("next").disabled = page.offset + page.limit >= page.total;
}

function renderEvents(state) {
  const list = document.getElementById("events");
  if (state.events.length === 0) {
    list.replaceChildren(el("li", { class: "empty" }, "nothing since xlbd started"));
    return;
  }
  list.replaceChildren(...state.events.map((e) =>
    el("li", { class: "event " + e.severity, "data-kind": e.kind, "data-subject": e.subject, "data-seq": e.seq },
      el("time", { datetime: e.at }, clock(e.at)),
      el("span", { class: "kind" }, e.kind),
      el("span", { class: "text" }, e.text))));
}

function render(state) {
  document.getElementById("node").textContent = state.node;
  document.title = "xlb " + state.node;
  const s = state.status;
  const masters = (s.instances || []).filter((i) => i.state === "MASTER").length;
  document.getElementById("summary").textContent =
    "backend " + s.backend + " \u00b7 " + masters + " of " + (s.instances || []).length + " VRRP instance(s) master here \u00b7 " +
    state.services.total + " service(s) \u00b7 reloads " + s.reloads + (s.reloads_refused ? " (" + s.reloads_refused + " refused)" : "") +
    (s.announce && s.announce.operator_withdrawn ? " \u00b7 WITHDRAWN by the operator" : "");
  renderInstances(state);
  renderServices(state);
  renderEvents(state);
  document.body.dataset.updated = state.generated_at;
}

async function update() {
  const fresh = document.getElementById("freshness");
  try {
    const reply = await fetch("/api/v1/state?offset=" + offset + "&since=" + since, { cache: "no-store" });
    if (!reply.ok) throw new Error("HTTP " + reply.status);
    const state = await reply.json();
    if (state.rates.seq < since) {  // xlbd started again: its readings count from 1
      series.clear();
      since = 0;
      return update();
    }
    const missing = mergeHistory(state);
    since = missing ? 0 : state.rates.seq;
    render(state);
    pageSize = state.services.limit;
    lastGood = new Date();
    fresh.dataset.state = "live";
    fresh.textContent = "live \u00b7 updated " + clock(state.generated_at);
  } catch (err) {
    fresh.dataset.state = "stale";
    fresh.textContent = "NOT UPDATING (" + err.message + ")" + (lastGood ? " \u00b7 last update " + lastGood.toLocaleTimeString([], { hour12: false }) : "");
  }
}

async function loop() {
  await update();
  setTimeout(loop, POLL_MS);
}

// Another page of services: other reals, whose points the page does not have yet.
function turn(to) {
  offset = to;
  since = 0;
  series.clear();
  update();
}
document.getElementById("prev").addEventListener("click", () => turn(Math.max(0, offset - pageSize)));
document.getElementById("next").addEventListener("click", () => turn(offset + pageSize));
loop();
