// What the pages build with: el() for HTML (text is always a text node, never parsed as markup),
// and the charts, SVG built with DOM calls, one drawing code for the status page's per-real
// sparklines and the dashboard view's panels (time series with axes, state timelines).
"use strict";

const chart = (() => {
  const NS = "http://www.w3.org/2000/svg";
  // Grafana's classic palette, so that the colours read as they would in Grafana.
  const PALETTE = ["#7eb26d", "#eab839", "#6ed0e0", "#ef843c", "#e24d42", "#1f78c1", "#ba43a9", "#705da0",
                   "#508642", "#cca300", "#447ebc", "#c15c17", "#890f02", "#0a437c", "#6d1f62", "#584477"];

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") node.className = v;
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function svgEl(tag, attrs) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    return node;
  }

  function titled(node, text) {
    const title = svgEl("title");
    title.textContent = text;
    node.append(title);
    return node;
  }

  // The polylines of one series in a box: a gap longer than maxGapMs breaks the line.
  function lines(points, box, maxGapMs) {
    const out = [];
    let current = [];
    let lastT = null;
    for (const [t, v] of points) {
      if (t < box.from || t > box.to || !Number.isFinite(v)) continue;
      if (lastT !== null && maxGapMs && t - lastT > maxGapMs && current.length) {
        out.push(current);
        current = [];
      }
      const x = box.x + ((t - box.from) / (box.to - box.from)) * box.w;
      const span = box.max - box.min || 1;
      const y = box.y + box.h - ((v - box.min) / span) * box.h;
      current.push(x.toFixed(1) + "," + y.toFixed(1));
      lastT = t;
    }
    if (current.length) out.push(current);
    return out;
  }

  // The status page's sparkline: one series, no axes, scaled to its own peak.
  function sparkline(points, fromMs, toMs, peakText) {
    const w = 120, h = 28;
    const svg = svgEl("svg", { class: "spark", viewBox: `0 0 ${w} ${h}`, preserveAspectRatio: "none", role: "img" });
    svg.append(svgEl("line", { x1: 0, y1: h - 1, x2: w, y2: h - 1 }));
    const shown = points.filter((p) => p[0] >= fromMs);
    const max = Math.max(1, ...shown.map((p) => p[1]));
    for (const xy of lines(shown, { from: fromMs, to: toMs, x: 0, y: 2, w, h: h - 4, min: 0, max }, 0)) {
      svg.append(svgEl("polyline", { points: xy.join(" ") }));
    }
    titled(svg, peakText(max));
    svg.dataset.points = String(shown.length);
    return svg;
  }

  // A round step for about `count` grid lines between min and max.
  function niceStep(span, count) {
    const raw = span / count;
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * power >= raw) return m * power;
    return 10 * power;
  }

  // One formatter for every label: toLocaleTimeString builds a new one at each call.
  const CLOCK = new Intl.DateTimeFormat([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  function clockText(ms) {
    return CLOCK.format(new Date(ms));
  }

  // A time series panel: series [{name, color, points: [[ms, value]]}], marks [{at, text, color}].
  function timeSeries(series, opts) {
    const { width, height, from, to, format, maxGapMs, marks } = opts;
    const svg = svgEl("svg", { class: "ts", width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
    const values = series.flatMap((s) => s.points.filter((p) => p[0] >= from).map((p) => p[1])).filter(Number.isFinite);
    let min = Math.min(0, ...values), max = Math.max(0, ...values);
    if (max === min) max = min + 1;
    const step = niceStep(max - min, Math.max(2, Math.floor(height / 40)));
    min = Math.floor(min / step) * step;
    max = Math.ceil(max / step) * step;
    const left = 58, bottom = 18;
    const box = { from, to, x: left, y: 6, w: Math.max(10, width - left - 6), h: Math.max(10, height - bottom - 6), min, max };
    for (let v = min; v <= max + step / 2; v += step) {
      const y = box.y + box.h - ((v - min) / (max - min)) * box.h;
      svg.append(svgEl("line", { class: "grid", x1: box.x, x2: box.x + box.w, y1: y, y2: y }));
      const label = svgEl("text", { class: "axis", x: box.x - 4, y: y + 4, "text-anchor": "end" });
      label.textContent = format(v);
      svg.append(label);
    }
    for (const [t, anchor] of [[from, "start"], [(from + to) / 2, "middle"], [to, "end"]]) {
      const label = svgEl("text", { class: "axis", x: box.x + ((t - from) / (to - from)) * box.w, y: height - 4, "text-anchor": anchor });
      label.textContent = clockText(t);
      svg.append(label);
    }
    for (const m of marks || []) {
      if (m.at < from || m.at > to) continue;
      const x = box.x + ((m.at - from) / (to - from)) * box.w;
      svg.append(titled(svgEl("line", { class: "mark", x1: x, x2: x, y1: box.y, y2: box.y + box.h, stroke: m.color }),
                        clockText(m.at) + " " + m.text));
    }
    for (const s of series) {
      for (const xy of lines(s.points, box, maxGapMs)) {
        if (xy.length === 1) {
          const [x, y] = xy[0].split(",");
          svg.append(svgEl("circle", { cx: x, cy: y, r: 1.5, fill: s.color }));
        } else {
          svg.append(titled(svgEl("polyline", { class: "line", points: xy.join(" "), stroke: s.color }), s.name));
        }
      }
    }
    return svg;
  }

  // A state timeline: one band per series, its name on the left, each stretch coloured and
  // labelled by its value's mapping.
  function stateTimeline(series, opts) {
    const { width, from, to, mapping, maxGapMs } = opts;
    const bandH = 20, gap = 4, bottom = 18;
    const left = Math.min(Math.round(width * 0.4), 260);
    const height = Math.max(opts.height, series.length * (bandH + gap) + bottom);
    const svg = svgEl("svg", { class: "st", width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
    const w = Math.max(10, width - left - 4);
    const xOf = (t) => left + ((t - from) / (to - from)) * w;
    series.forEach((s, i) => {
      const y = i * (bandH + gap);
      const name = svgEl("text", { class: "axis name", x: left - 6, y: y + 14, "text-anchor": "end" });
      name.textContent = s.name;
      svg.append(titled(name, s.name));
      const pts = s.points.filter((p) => p[0] >= from && p[0] <= to);
      let k = 0;
      while (k < pts.length) {
        // One rect per stretch of equal values without a gap.
        let j = k;
        while (j + 1 < pts.length && pts[j + 1][1] === pts[k][1] && pts[j + 1][0] - pts[j][0] <= maxGapMs) j++;
        const end = j + 1 < pts.length && pts[j + 1][0] - pts[j][0] <= maxGapMs ? pts[j + 1][0] : Math.min(to, pts[j][0] + maxGapMs / 2);
        const m = mapping(pts[k][1], i);
        const x0 = xOf(pts[k][0]), x1 = Math.max(xOf(end), x0 + 1);
        svg.append(titled(svgEl("rect", { x: x0.toFixed(1), y, width: (x1 - x0).toFixed(1), height: bandH, fill: m.color }),
                          s.name + ": " + m.text + " from " + clockText(pts[k][0])));
        if (x1 - x0 > 30) {
          const label = svgEl("text", { class: "band", x: (x0 + 4).toFixed(1), y: y + 14 });
          label.textContent = m.text;
          svg.append(label);
        }
        k = j + 1;
      }
    });
    for (const [t, anchor] of [[from, "start"], [to, "end"]]) {
      const label = svgEl("text", { class: "axis", x: xOf(t), y: height - 4, "text-anchor": anchor });
      label.textContent = clockText(t);
      svg.append(label);
    }
    return svg;
  }

  return { el, svgEl, sparkline, timeSeries, stateTimeline, PALETTE, clockText };
})();
