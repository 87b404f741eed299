// The dashboard view's data source (docs/api.md, "The dashboard view"): the Prometheus text
// format read from xlbd's own /metrics, the samples of a few minutes kept as a Prometheus
// would keep them, and the subset of PromQL that packaging/grafana/xlb-dashboard.json uses,
// evaluated with Prometheus 2.x's rules (extrapolated rate and increase, 5-minute lookback,
// staleness when a series leaves a scrape). An expression outside the subset throws
// Unsupported, which the panel shows instead of a chart. Loaded by dashboard.html, and by
// node in tests/unit/dashboard, so it touches no DOM.
"use strict";

(function (root) {
  class Unsupported extends Error {}

  const LOOKBACK_MS = 5 * 60 * 1000;
  const STALE = null;  // a series missing from a scrape ends there, as Prometheus' stale marker

  // ---- the exposition format ----

  function parseNumber(text) {
    if (text === "+Inf" || text === "Inf") return Infinity;
    if (text === "-Inf") return -Infinity;
    if (text === "NaN") return NaN;
    const v = Number(text);
    if (text === "" || Number.isNaN(v)) throw new Error("not a number: " + text);
    return v;
  }

  // "text" -> [{labels: {__name__, ...}, value, id}]; a malformed line throws with its number.
  // names: only the samples of these metric names (the others are not parsed further).
  const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?[ \t]+(\S+)(?:[ \t]+(-?\d+))?[ \t]*$/;
  const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)/y;

  function parseExposition(text, names) {
    const out = [];
    let start = 0, n = 0;
    while (start < text.length) {
      let end = text.indexOf("\n", start);
      if (end < 0) end = text.length;
      const line = text.slice(start, end).trim();
      start = end + 1;
      n++;
      if (line === "" || line[0] === "#") continue;
      if (names) {
        const nameEnd = line.search(/[{ \t]/);
        if (!names.has(nameEnd < 0 ? line : line.slice(0, nameEnd))) continue;
      }
      try {
        out.push(parseSampleLine(line));
      } catch (e) {
        throw new Error("line " + n + ": " + e.message);
      }
    }
    return out;
  }

  function parseSampleLine(line) {
    const m = SAMPLE.exec(line);
    if (!m) {
      if (/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(line)) throw new Error("no value");
      throw new Error("not a sample: " + line.slice(0, 60));
    }
    const labels = { __name__: m[1] };
    if (m[2]) {
      const body = m[2].slice(1, -1);
      LABEL.lastIndex = 0;
      while (LABEL.lastIndex < body.length && !/^\s*$/.test(body.slice(LABEL.lastIndex))) {
        const at = LABEL.lastIndex;
        const l = LABEL.exec(body);
        if (!l) throw new Error("bad label at " + JSON.stringify(body.slice(at, at + 20)));
        labels[l[1]] = l[2].indexOf("\\") < 0 ? l[2] : l[2].replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
        if (l[3] === "" && LABEL.lastIndex < body.length) throw new Error("expected , between labels");
      }
    }
    // id: the series as written, which the store maps to its labels once, not at every scrape.
    return { labels, value: parseNumber(m[3]), id: m[1] + (m[2] || "") };
  }

  function labelKey(labels) {
    return Object.keys(labels).sort().map((k) => k + "\u0000" + labels[k]).join("\u0001");
  }

  // The samples of the scrapes kept, per series. A scrape adds the target's labels as a
  // Prometheus scrape configuration with honor_labels: false would: a label of the page that is
  // named like one of them keeps its value as exported_NAME.
  class SampleStore {
    constructor(keepMs, names) {
      this.keepMs = keepMs;
      this.names = names ? new Set(names) : null;  // only the metric names the queries read
      this.series = new Map();  // key -> {labels, points: [[t, v or STALE], ...]}
      this.byName = new Map();  // __name__ -> Set of keys
      this.times = [];          // the scrapes' times
      this.keyOf = new Map();   // target and series as written -> key
    }

    add(t, samples, target) {
      const seen = new Set();
      const targetId = labelKey(target || {}) + "\u0003";
      for (const s of samples) {
        if (this.names && !this.names.has(s.labels.__name__)) continue;
        let key = s.id === undefined ? undefined : this.keyOf.get(targetId + s.id);
        let labels;
        if (key === undefined) {
          labels = Object.assign({}, s.labels);
          for (const [k, v] of Object.entries(target || {})) {
            if (k in labels) labels["exported_" + k] = labels[k];
            labels[k] = v;
          }
          key = labelKey(labels);
          if (s.id !== undefined) this.keyOf.set(targetId + s.id, key);
        }
        let series = this.series.get(key);
        if (!series) {
          series = { labels, points: [] };
          this.series.set(key, series);
          if (!this.byName.has(labels.__name__)) this.byName.set(labels.__name__, new Set());
          this.byName.get(labels.__name__).add(key);
        }
        series.points.push([t, s.value]);
        seen.add(key);
      }
      for (const [key, series] of this.series) {
        const last = series.points[series.points.length - 1];
        if (!seen.has(key) && last && last[1] !== STALE) series.points.push([t, STALE]);
      }
      this.times.push(t);
      this.prune(t - this.keepMs);
    }

    prune(before) {
      while (this.times.length && this.times[0] < before) this.times.shift();
      for (const [key, series] of this.series) {
        while (series.points.length && series.points[0][0] < before) series.points.shift();
        if (series.points.length === 0 || (series.points.length === 1 && series.points[0][1] === STALE)) {
          this.series.delete(key);
          this.keyOf.clear();  // rare (a series gone for the whole window): rebuilt as scrapes come
          this.byName.get(series.labels.__name__).delete(key);
        }
      }
    }

    named(name) {
      return [...(this.byName.get(name) || [])].map((k) => this.series.get(k));
    }

    // label_values(metric, label): the distinct values, sorted.
    labelValues(name, label) {
      const values = new Set();
      for (const s of this.named(name)) if (label in s.labels) values.add(s.labels[label]);
      return [...values].sort();
    }
  }

  // ---- the PromQL subset ----

  const AGGREGATIONS = new Set(["sum", "max", "min", "avg", "count"]);
  const RANGE_FUNCTIONS = new Set(["rate", "irate", "increase", "changes"]);
  const COMPARISONS = new Set(["==", "!=", ">", "<", ">=", "<="]);
  const UNITS_MS = { ms: 1, s: 1000, m: 60000, h: 3600000, d: 86400000, w: 604800000, y: 31536000000 };

  function tokenize(text) {
    const tokens = [];
    const re = /\s*(?:(\d+(?:\.\d+)?(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*)(?![\w.])|(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|([a-zA-Z_:][a-zA-Z0-9_:]*)|("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(=~|!~|==|!=|>=|<=|[-+*/%^(){}\[\],=<>]))/y;
    let m;
    let at = 0;
    while (at < text.length) {
      if (/^\s*$/.test(text.slice(at))) break;
      re.lastIndex = at;
      m = re.exec(text);
      if (!m) throw new Unsupported("cannot read " + JSON.stringify(text.slice(at).trim().slice(0, 20)));
      at = re.lastIndex;
      if (m[1]) tokens.push({ kind: "duration", text: m[1] });
      else if (m[2]) tokens.push({ kind: "number", text: m[2] });
      else if (m[3]) tokens.push({ kind: "ident", text: m[3] });
      else if (m[4]) tokens.push({ kind: "string", text: m[4] });
      else tokens.push({ kind: "op", text: m[5] });
    }
    return tokens;
  }

  function durationMs(text) {
    let ms = 0;
    for (const [, n, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|[smhdwy])/g)) ms += Number(n) * UNITS_MS[unit];
    return ms;
  }

  function unquote(text) {
    const body = text.slice(1, -1);
    return body.replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c === "t" ? "\t" : c));
  }

  // Recursive descent over PromQL's precedence: comparisons, then + -, then * / %.
  class Parser {
    constructor(text) {
      this.tokens = tokenize(text);
      this.i = 0;
    }
    peek(k = 0) { return this.tokens[this.i + k]; }
    next() { return this.tokens[this.i++]; }
    is(text) { const t = this.peek(); return t && t.kind !== "string" && t.text === text; }
    expect(text) {
      const t = this.next();
      if (!t || t.text !== text) throw new Unsupported("expected " + text + (t ? " before " + t.text : " at the end"));
      return t;
    }
    parse() {
      const e = this.comparison();
      if (this.peek()) throw new Unsupported("unexpected " + this.peek().text);
      return e;
    }
    comparison() {
      let left = this.additive();
      while (this.peek() && this.peek().kind === "op" && COMPARISONS.has(this.peek().text)) {
        const op = this.next().text;
        if (this.is("bool")) throw new Unsupported("the bool modifier");
        this.modifiers();
        left = { kind: "binary", op, left, right: this.additive() };
      }
      return left;
    }
    additive() {
      let left = this.multiplicative();
      while (this.is("+") || this.is("-")) {
        const op = this.next().text;
        this.modifiers();
        left = { kind: "binary", op, left, right: this.multiplicative() };
      }
      return left;
    }
    multiplicative() {
      let left = this.unary();
      while (this.is("*") || this.is("/") || this.is("%")) {
        const op = this.next().text;
        this.modifiers();
        left = { kind: "binary", op, left, right: this.unary() };
      }
      if (this.is("^")) throw new Unsupported("the ^ operator");
      return left;
    }
    modifiers() {
      const t = this.peek();
      if (t && t.kind === "ident" && ["on", "ignoring", "group_left", "group_right"].includes(t.text)) {
        throw new Unsupported("vector matching with " + t.text + "()");
      }
    }
    unary() {
      if (this.is("-")) {
        this.next();
        return { kind: "binary", op: "*", left: { kind: "number", value: -1 }, right: this.unary() };
      }
      if (this.is("+")) this.next();
      return this.primary();
    }
    primary() {
      const t = this.next();
      if (!t) throw new Unsupported("the expression ends early");
      if (t.kind === "number") return { kind: "number", value: Number(t.text) };
      if (t.text === "(") {
        const e = this.comparison();
        this.expect(")");
        return this.rangeSuffix(e);
      }
      if (t.kind === "ident" && (this.is("(") || (AGGREGATIONS.has(t.text) && (this.is("by") || this.is("without"))))) {
        if (AGGREGATIONS.has(t.text)) return this.aggregation(t.text);
        if (RANGE_FUNCTIONS.has(t.text)) {
          this.expect("(");
          const arg = this.comparison();
          this.expect(")");
          if (arg.kind !== "range") throw new Unsupported(t.text + "() of something other than a range selector");
          return { kind: "call", fn: t.text, arg };
        }
        throw new Unsupported("the function " + t.text + "()");
      }
      if (t.kind === "ident" || t.text === "{") {
        if (t.kind === "ident" && ["and", "or", "unless", "offset", "bool"].includes(t.text)) throw new Unsupported("the keyword " + t.text);
        return this.rangeSuffix(this.selector(t.kind === "ident" ? t.text : null, t.text === "{"));
      }
      throw new Unsupported("unexpected " + t.text);
    }
    rangeSuffix(e) {
      if (this.is("[")) {
        this.next();
        const d = this.next();
        if (!d || d.kind !== "duration") throw new Unsupported("a range that is not a duration");
        if (this.is(":")) throw new Unsupported("subqueries");
        this.expect("]");
        if (e.kind !== "selector") throw new Unsupported("subqueries");
        e = { kind: "range", selector: e, rangeMs: durationMs(d.text) };
      }
      if (this.is("offset") || this.is("@")) throw new Unsupported("offset and @ modifiers");
      return e;
    }
    selector(name, braceTaken) {
      const matchers = [];
      if (name) matchers.push(matcher("__name__", "=", name));
      if (braceTaken || this.is("{")) {
        if (!braceTaken) this.next();
        while (!this.is("}")) {
          const label = this.next();
          if (!label || label.kind !== "ident") throw new Unsupported("a label matcher");
          const op = this.next();
          if (!op || !["=", "!=", "=~", "!~"].includes(op.text)) throw new Unsupported("a label matcher's operator");
          const value = this.next();
          if (!value || value.kind !== "string") throw new Unsupported("a label matcher's value");
          matchers.push(matcher(label.text, op.text, unquote(value.text)));
          if (this.is(",")) this.next();
          else if (!this.is("}")) throw new Unsupported("expected , or } in a selector");
        }
        this.next();
      }
      if (matchers.length === 0) throw new Unsupported("an empty selector");
      return { kind: "selector", matchers };
    }
    aggregation(op) {
      let grouping = null;
      const clause = () => {
        const how = this.next().text;
        this.expect("(");
        const labels = [];
        while (!this.is(")")) {
          const l = this.next();
          if (!l || l.kind !== "ident") throw new Unsupported("a label in " + how + "()");
          labels.push(l.text);
          if (this.is(",")) this.next();
        }
        this.next();
        grouping = { how, labels };
      };
      if (this.is("by") || this.is("without")) clause();
      this.expect("(");
      const arg = this.comparison();
      if (this.is(",")) throw new Unsupported(op + "() with a parameter");
      this.expect(")");
      if (!grouping && (this.is("by") || this.is("without"))) clause();
      return { kind: "aggregate", op, grouping, arg };
    }
  }

  function matcher(name, op, value) {
    if (op === "=~" || op === "!~") {
      let re;
      try {
        re = new RegExp("^(?:" + value + ")$");
      } catch (e) {
        throw new Unsupported("the regular expression " + value);
      }
      return { name, op, value, test: (v) => re.test(v) === (op === "=~") };
    }
    return { name, op, value, test: (v) => (v === value) === (op === "=") };
  }

  function parse(text) {
    return new Parser(text).parse();
  }

  // ---- evaluation at one instant ----

  function withoutName(labels) {
    const out = Object.assign({}, labels);
    delete out.__name__;
    return out;
  }

  function selectSeries(store, matchers) {
    const name = matchers.find((m) => m.name === "__name__" && m.op === "=");
    const candidates = name ? store.named(name.value) : [...store.series.values()];
    return candidates.filter((s) => matchers.every((m) => m.test(s.labels[m.name] === undefined ? "" : s.labels[m.name])));
  }

  // The last sample at or before t within the lookback, unless the series went stale.
  function instantValue(points, t) {
    let lo = 0, hi = points.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (points[mid][0] <= t) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    if (found < 0) return undefined;
    const [at, v] = points[found];
    if (v === STALE || at <= t - LOOKBACK_MS) return undefined;
    return v;
  }

  // The samples in [t - range, t] (Prometheus 2.x: both ends included), stale markers left out.
  function rangePoints(points, t, rangeMs) {
    let lo = 0, hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (points[mid][0] < t - rangeMs) lo = mid + 1; else hi = mid;
    }
    const out = [];
    for (let i = lo; i < points.length && points[i][0] <= t; i++) if (points[i][1] !== STALE) out.push(points[i]);
    return out;
  }

  // Prometheus' extrapolatedRate (promql/functions.go): the increase seen between the first and
  // last samples, corrected for counter resets, extrapolated towards the range's ends.
  function extrapolated(points, t, rangeMs, isRate) {
    if (points.length < 2) return undefined;
    const first = points[0], last = points[points.length - 1];
    let result = last[1] - first[1];
    for (let i = 1; i < points.length; i++) if (points[i][1] < points[i - 1][1]) result += points[i - 1][1];
    const rangeStart = t - rangeMs;
    let toStart = (first[0] - rangeStart) / 1000;
    const toEnd = (t - last[0]) / 1000;
    const sampled = (last[0] - first[0]) / 1000;
    const average = sampled / (points.length - 1);
    if (result > 0 && first[1] >= 0) {
      const toZero = sampled * (first[1] / result);
      if (toZero < toStart) toStart = toZero;
    }
    const threshold = average * 1.1;
    let interval = sampled;
    interval += toStart < threshold ? toStart : average / 2;
    interval += toEnd < threshold ? toEnd : average / 2;
    result *= interval / sampled;
    return isRate ? result / (rangeMs / 1000) : result;
  }

  function callFunction(fn, points, t, rangeMs) {
    switch (fn) {
      case "rate": return extrapolated(points, t, rangeMs, true);
      case "increase": return extrapolated(points, t, rangeMs, false);
      case "irate": {
        if (points.length < 2) return undefined;
        const [a, b] = points.slice(-2);
        const dt = (b[0] - a[0]) / 1000;
        if (dt === 0) return undefined;
        return (b[1] < a[1] ? b[1] : b[1] - a[1]) / dt;
      }
      case "changes": {
        if (points.length === 0) return undefined;
        let n = 0;
        for (let i = 1; i < points.length; i++) if (points[i][1] !== points[i - 1][1] && !(Number.isNaN(points[i][1]) && Number.isNaN(points[i - 1][1]))) n++;
        return n;
      }
    }
    throw new Unsupported("the function " + fn + "()");
  }

  const ARITHMETIC = {
    "+": (a, b) => a + b, "-": (a, b) => a - b, "*": (a, b) => a * b, "/": (a, b) => a / b,
    "%": (a, b) => a % b,
  };
  const COMPARE = {
    "==": (a, b) => a === b, "!=": (a, b) => a !== b, ">": (a, b) => a > b, "<": (a, b) => a < b,
    ">=": (a, b) => a >= b, "<=": (a, b) => a <= b,
  };

  function binary(op, left, right) {
    const compare = COMPARISONS.has(op);
    const f = compare ? COMPARE[op] : ARITHMETIC[op];
    if (left.scalar !== undefined && right.scalar !== undefined) {
      if (compare) throw new Unsupported("a comparison of two scalars without bool");
      return { scalar: f(left.scalar, right.scalar) };
    }
    if (left.scalar !== undefined || right.scalar !== undefined) {
      const vectorLeft = right.scalar !== undefined;
      const vector = vectorLeft ? left.vector : right.vector;
      const scalar = vectorLeft ? right.scalar : left.scalar;
      const out = [];
      for (const s of vector) {
        const a = vectorLeft ? s.value : scalar, b = vectorLeft ? scalar : s.value;
        if (compare) {
          if (f(a, b)) out.push(s);  // a filter: the vector's sample as it is
        } else {
          out.push({ labels: withoutName(s.labels), value: f(a, b) });
        }
      }
      return { vector: out };
    }
    // One-to-one vector matching on all labels but the name.
    const rightBy = new Map();
    for (const s of right.vector) {
      const key = labelKey(withoutName(s.labels));
      if (rightBy.has(key)) throw new Unsupported("many-to-many matching: duplicate series on the right of " + op);
      rightBy.set(key, s);
    }
    const out = [];
    const seen = new Set();
    for (const s of left.vector) {
      const key = labelKey(withoutName(s.labels));
      const r = rightBy.get(key);
      if (!r) continue;
      if (seen.has(key)) throw new Unsupported("many-to-many matching: duplicate series on the left of " + op);
      seen.add(key);
      if (compare) {
        if (f(s.value, r.value)) out.push(s);
      } else {
        out.push({ labels: withoutName(s.labels), value: f(s.value, r.value) });
      }
    }
    return { vector: out };
  }

  function aggregate(node, input) {
    if (input.vector === undefined) throw new Unsupported(node.op + "() of a scalar");
    const groups = new Map();
    for (const s of input.vector) {
      let labels = {};
      if (node.grouping && node.grouping.how === "by") {
        for (const l of node.grouping.labels) if (s.labels[l] !== undefined && s.labels[l] !== "") labels[l] = s.labels[l];
      } else if (node.grouping && node.grouping.how === "without") {
        labels = withoutName(s.labels);
        for (const l of node.grouping.labels) delete labels[l];
      }
      const key = labelKey(labels);
      if (!groups.has(key)) groups.set(key, { labels, values: [] });
      groups.get(key).values.push(s.value);
    }
    const out = [];
    for (const { labels, values } of groups.values()) {
      let value;
      switch (node.op) {
        case "sum": value = values.reduce((a, b) => a + b, 0); break;
        case "avg": value = values.reduce((a, b) => a + b, 0) / values.length; break;
        case "count": value = values.length; break;
        case "max": value = values.reduce((a, b) => (Number.isNaN(a) || b > a ? b : a)); break;
        case "min": value = values.reduce((a, b) => (Number.isNaN(a) || b < a ? b : a)); break;
      }
      out.push({ labels, value });
    }
    return { vector: out };
  }

  function evaluate(node, store, t) {
    switch (node.kind) {
      case "number": return { scalar: node.value };
      case "selector": {
        const out = [];
        for (const s of selectSeries(store, node.matchers)) {
          const v = instantValue(s.points, t);
          if (v !== undefined) out.push({ labels: s.labels, value: v });
        }
        return { vector: out };
      }
      case "range": throw new Unsupported("a range selector outside a function");
      case "call": {
        const out = [];
        for (const s of selectSeries(store, node.arg.selector.matchers)) {
          const v = callFunction(node.fn, rangePoints(s.points, t, node.arg.rangeMs), t, node.arg.rangeMs);
          if (v !== undefined) out.push({ labels: withoutName(s.labels), value: v });
        }
        return { vector: out };
      }
      case "aggregate": return aggregate(node, evaluate(node.arg, store, t));
      case "binary": return binary(node.op, evaluate(node.left, store, t), evaluate(node.right, store, t));
    }
    throw new Unsupported("a " + node.kind);
  }

  // The metric names an expression reads (for SampleStore's filter).
  function metricNames(node, out = new Set()) {
    if (!node || typeof node !== "object") return out;
    if (node.kind === "selector") {
      const m = node.matchers.find((x) => x.name === "__name__" && x.op === "=");
      if (m) out.add(m.value);
    }
    for (const v of Object.values(node)) if (v && typeof v === "object") metricNames(v, out);
    return out;
  }

  // Grafana's template variables made concrete, as Grafana sends a query to Prometheus.
  function interpolate(expr, variables) {
    return expr.replace(/\$(\w+)|\$\{(\w+)\}/g, (whole, a, b) => {
      const name = a || b;
      return name in variables ? variables[name] : whole;
    });
  }

  // Grafana's legendFormat: {{label}} replaced by the series' value of it (empty when absent).
  function legend(format, labels) {
    if (!format) return "{" + Object.keys(labels).filter((k) => k !== "__name__").sort().map((k) => k + "=\"" + labels[k] + "\"").join(", ") + "}";
    return format.replace(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g, (_, name) => (labels[name] === undefined ? "" : labels[name]));
  }

  // A regex that matches any of values, each quoted for PromQL's double-quoted string as Grafana does.
  function regexOf(values) {
    const escaped = values.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/\\/g, "\\\\"));
    return escaped.length === 1 ? escaped[0] : "(" + escaped.join("|") + ")";
  }

  const api = { Unsupported, parseExposition, SampleStore, parse, evaluate, metricNames, interpolate, legend,
                regexOf, labelKey, durationMs, STALE, LOOKBACK_MS };
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  else root.promql = api;
})(typeof globalThis !== "undefined" ? globalThis : this);
