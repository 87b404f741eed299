// The dashboard view's exposition parser and PromQL subset (ctrl/api/status_page/promql.js),
// under Debian's node: values computed by hand with Prometheus 2.x's rules, what falls outside
// the subset, and every query of packaging/grafana/xlb-dashboard.json inside it.
// usage: node promql_test.js SOURCE_DIR
"use strict";
const assert = require("assert");
const fs = require("fs");
const path = require("path");

const src = path.resolve(process.argv[2] || ".");
const promql = require(path.join(src, "ctrl/api/status_page/promql.js"));
const { parseExposition, SampleStore, parse, evaluate, interpolate, legend, regexOf, Unsupported } = promql;

let failed = 0, passed = 0;
function test(name, body) {
  try {
    body();
    passed++;
  } catch (e) {
    failed++;
    console.error("FAIL " + name + ": " + (e.stack || e));
  }
}

function near(actual, expected, what) {
  assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual} != ${expected}`);
}

// A store with one series per metric text, scraped at the given times (seconds) with its values.
function storeOf(scrapes, target = { instance: "lb:9780", job: "xlbd" }) {
  const store = new SampleStore(10 * 60 * 1000);
  for (const [t, text] of scrapes) store.add(t * 1000, parseExposition(text), target);
  return store;
}

function query(store, expr, t, variables = {}) {
  return evaluate(parse(interpolate(expr, variables)), store, t * 1000);
}

function sorted(result) {
  return result.vector.map((s) => [JSON.stringify(Object.fromEntries(Object.entries(s.labels).sort())), s.value]).sort();
}

test("exposition: names, labels with escapes, special values, comments", () => {
  const samples = parseExposition([
    "# HELP xlb_up 1 while xlbd runs.",
    "# TYPE xlb_up gauge",
    "xlb_up 1",
    'xlb_real_up{vip="198.18.0.10:80/tcp",real="198.18.1.1:80",note="a \\"q\\" \\\\ b\\nc"} 0',
    "xlb_inf{a=\"x\",} +Inf 1700000000000",
    "xlb_nan NaN",
    "   ",
  ].join("\n"));
  assert.strictEqual(samples.length, 4);
  assert.deepStrictEqual(samples[0], { labels: { __name__: "xlb_up" }, value: 1, id: "xlb_up" });
  assert.strictEqual(samples[1].labels.note, 'a "q" \\ b\nc');
  assert.strictEqual(samples[1].labels.real, "198.18.1.1:80");
  assert.strictEqual(samples[2].value, Infinity);
  assert.ok(Number.isNaN(samples[3].value));
});

test("exposition: only the names asked for; braces and commas inside label values", () => {
  const text = 'a{x="}{,=\\""} 1\nb{y="2"} 2\nab 3\n';
  const samples = parseExposition(text, new Set(["a", "ab"]));
  assert.deepStrictEqual(samples.map((s) => s.labels), [{ __name__: "a", x: '}{,="' }, { __name__: "ab" }]);
  assert.strictEqual(parseExposition(text).length, 3);
});

test("exposition: a malformed line is refused with its number", () => {
  assert.throws(() => parseExposition("xlb_up 1\nxlb_x{a=\"1\" 2\n"), /line 2/);
  assert.throws(() => parseExposition("xlb_up\n"), /line 1: no value/);
  assert.throws(() => parseExposition("xlb_up one\n"), /not a number/);
});

test("scrape labels: instance and job added, the page's own instance kept as exported_instance", () => {
  const store = storeOf([[0, 'xlb_vrrp_priority{instance="VI_1"} 100\n']]);
  assert.deepStrictEqual(sorted(query(store, "xlb_vrrp_priority", 0)),
    [['{"__name__":"xlb_vrrp_priority","exported_instance":"VI_1","instance":"lb:9780","job":"xlbd"}', 100]]);
});

test("store keeps only the names asked for, and forgets what is older than its window", () => {
  const store = new SampleStore(60 * 1000, ["a"]);
  store.add(0, parseExposition("a 1\nb 2\n"), {});
  store.add(30000, parseExposition("a 2\n"), {});
  store.add(90000, parseExposition("a 3\n"), {});
  assert.deepStrictEqual(store.named("b"), []);
  assert.deepStrictEqual(store.named("a")[0].points, [[30000, 2], [90000, 3]]);
});

test("rate: no extrapolation needed (samples at both ends)", () => {
  const store = storeOf([0, 10, 20, 30].map((t) => [t, `c_total ${t}\n`]));
  near(query(store, "rate(c_total[30s])", 30).vector[0].value, 1, "rate");
  near(query(store, "increase(c_total[30s])", 30).vector[0].value, 30, "increase");
});

test("rate: extrapolated to the range's ends, and towards zero no further than the counter allows", () => {
  // samples at 5, 15, 25 s; range [0, 30]: 20 seen over 20 s, extrapolated by 5 s at each end.
  const store = storeOf([5, 15, 25].map((t) => [t, `c_total ${t + 100}\n`]));
  near(query(store, "increase(c_total[30s])", 30).vector[0].value, 30, "increase");
  near(query(store, "rate(c_total[30s])", 30).vector[0].value, 1, "rate");
  // A counter that starts near zero: extrapolated only back to where it would have been 0.
  const young = storeOf([[5, "c_total 2\n"], [15, "c_total 12\n"], [25, "c_total 22\n"]]);
  near(query(young, "increase(c_total[30s])", 30).vector[0].value, 20 * (20 + 2 + 5) / 20, "increase from zero");
  // Samples far from the ends: extrapolated by half the average interval only.
  const sparse = storeOf([[20, "c_total 100\n"], [30, "c_total 110\n"]]);
  near(query(sparse, "increase(c_total[60s])", 50).vector[0].value, 10 * (10 + 5 + 5) / 10, "half an interval each side");
});

test("rate: a counter reset counts the value before it", () => {
  const store = storeOf([[0, "c_total 0\n"], [10, "c_total 10\n"], [20, "c_total 5\n"]]);
  near(query(store, "increase(c_total[20s])", 20).vector[0].value, 15, "increase over a reset");
  near(query(store, "irate(c_total[20s])", 20).vector[0].value, 0.5, "irate after a reset");
});

test("irate, changes; fewer than two samples give no rate", () => {
  const store = storeOf([[0, "c_total 0\ng 1\n"], [10, "c_total 10\ng 1\n"], [12, "c_total 16\ng 2\n"]]);
  near(query(store, "irate(c_total[1m])", 12).vector[0].value, 3, "irate");
  near(query(store, "changes(g[1m])", 12).vector[0].value, 1, "changes");
  near(query(store, "changes(g[1m])", 10).vector[0].value, 0, "no change yet");
  assert.deepStrictEqual(query(store, "rate(c_total[5s])", 12).vector.length, 1);
  assert.deepStrictEqual(query(store, "rate(c_total[1s])", 12).vector.length, 0);
});

test("instant selectors: 5-minute lookback, and a series that leaves a scrape is gone (stale)", () => {
  const store = storeOf([[0, "a 1\nb 2\n"], [10, "a 1\n"]]);
  assert.strictEqual(query(store, "a", 200).vector.length, 1);
  assert.strictEqual(query(store, "a", 400).vector.length, 0);
  assert.strictEqual(query(store, "b", 5).vector.length, 1);
  assert.strictEqual(query(store, "b", 10).vector.length, 0);
});

test("label matchers: =, !=, =~ (anchored), !~; a missing label matches empty", () => {
  const store = storeOf([[0, 'p{what="drop_a"} 1\np{what="drop_b"} 2\np{what="tx"} 3\np{what="xdrop_c"} 4\np 5\n']]);
  const values = (e) => query(store, e, 0).vector.map((s) => s.value).sort();
  assert.deepStrictEqual(values('p{what=~"drop_.*"}'), [1, 2]);
  assert.deepStrictEqual(values('p{what!~"drop_.*"}'), [3, 4, 5]);
  assert.deepStrictEqual(values('p{what="tx"}'), [3]);
  assert.deepStrictEqual(values('p{what!="tx", what=~"x?drop.*"}'), [1, 2, 4]);
  assert.deepStrictEqual(values('p{what=""}'), [5]);
  assert.deepStrictEqual(values('p{what=~"tx|pass.*|sorry"}'), [3]);
});

test("aggregations: sum/max/min/avg/count by and without, clause before or after", () => {
  const store = storeOf([[0, 'm{vip="a",real="1"} 1\nm{vip="a",real="2"} 5\nm{vip="b",real="3"} 7\n']]);
  assert.deepStrictEqual(sorted(query(store, "sum by (vip) (m)", 0)), [['{"vip":"a"}', 6], ['{"vip":"b"}', 7]]);
  assert.deepStrictEqual(sorted(query(store, "max(m) by (vip)", 0)), [['{"vip":"a"}', 5], ['{"vip":"b"}', 7]]);
  assert.deepStrictEqual(sorted(query(store, "min by (vip) (m)", 0)), [['{"vip":"a"}', 1], ['{"vip":"b"}', 7]]);
  assert.deepStrictEqual(sorted(query(store, "avg(m)", 0)), [["{}", 13 / 3]]);
  assert.deepStrictEqual(sorted(query(store, "count without (real, instance, job) (m)", 0)), [['{"vip":"a"}', 2], ['{"vip":"b"}', 1]]);
});

test("binary operators: scalar arithmetic drops the name, comparisons filter and keep it, vector/vector matches", () => {
  const store = storeOf([[0, 'e{map="flows"} 25\nmx{map="flows"} 100\ne{map="other"} 1\n']]);
  assert.deepStrictEqual(sorted(query(store, "e / mx", 0)), [['{"instance":"lb:9780","job":"xlbd","map":"flows"}', 0.25]]);
  assert.deepStrictEqual(sorted(query(store, "e * 2 - 1", 0)).map((x) => x[1]).sort((a, b) => a - b), [1, 49]);
  assert.deepStrictEqual(sorted(query(store, "e > 1", 0)), [['{"__name__":"e","instance":"lb:9780","job":"xlbd","map":"flows"}', 25]]);
  assert.deepStrictEqual(sorted(query(store, "e == 1", 0)).length, 1);
  assert.strictEqual(query(store, "2 * 3 + 1", 0).scalar, 7);
  assert.strictEqual(query(store, "-(1) + 4 / 2", 0).scalar, 1);
});

test("$node as Grafana sends it: one value escaped, several as an alternation, All as .*", () => {
  const store = storeOf([[0, "xlb_up 1\n"]], { instance: "127.0.0.1:9780", job: "xlbd" });
  assert.strictEqual(query(store, 'xlb_up{instance=~"$node"}', 0, { node: regexOf(["127.0.0.1:9780"]) }).vector.length, 1);
  assert.strictEqual(query(store, 'xlb_up{instance=~"$node"}', 0, { node: regexOf(["127x0.0.1:9780"]) }).vector.length, 0);
  assert.strictEqual(query(store, 'xlb_up{instance=~"$node"}', 0, { node: regexOf(["a:1", "127.0.0.1:9780"]) }).vector.length, 1);
  assert.strictEqual(query(store, 'xlb_up{instance=~"${node}"}', 0, { node: ".*" }).vector.length, 1);
  assert.deepStrictEqual(store.labelValues("xlb_up", "instance"), ["127.0.0.1:9780"]);
});

test("legends: {{label}} from the series, absent labels empty", () => {
  assert.strictEqual(legend("{{vip}} -> {{ real }}", { vip: "a", real: "b" }), "a -> b");
  assert.strictEqual(legend("{{instance}} {{reason}}", { instance: "x" }), "x ");
  assert.strictEqual(legend("", { __name__: "m", a: "1" }), '{a="1"}');
});

test("outside the subset: said so, never a wrong answer", () => {
  for (const expr of ["histogram_quantile(0.9, rate(x[1m]))", "a and b", "a or b", "a offset 5m", "a / on(x) b",
                      "rate(x[5m:1m])", "topk(3, a)", "a ^ 2", "1 > bool 2", "rate(a)", "a[1m]", "sum(a) + "]) {
    assert.throws(() => evaluate(parse(expr), new SampleStore(1000), 0), Unsupported, expr);
  }
  const store = storeOf([[0, 'a{x="1"} 1\nb{x="1",y="1"} 1\nb{x="1",y="2"} 1\n']]);
  assert.throws(() => query(store, "sum without (y) (b) / ignoring(y) b", 0), Unsupported);
});

test("every query of packaging/grafana/xlb-dashboard.json is inside the subset", () => {
  const dash = JSON.parse(fs.readFileSync(path.join(src, "packaging/grafana/xlb-dashboard.json"), "utf8"));
  const exprs = [];
  for (const p of dash.panels) for (const t of p.targets || []) exprs.push([`panel ${p.id} (${p.title}) ${t.refId}`, t.expr]);
  for (const a of (dash.annotations || {}).list || []) if (a.expr) exprs.push([`annotation ${a.name}`, a.expr]);
  const outside = [];
  const store = new SampleStore(1000);
  for (const [where, expr] of exprs) {
    try {
      evaluate(parse(interpolate(expr, { node: ".*", __rate_interval: "8s" })), store, 0);
    } catch (e) {
      if (!(e instanceof Unsupported)) throw e;
      outside.push(`${where}: ${expr}: ${e.message}`);
    }
  }
  assert.deepStrictEqual(outside, [], "queries the dashboard view cannot evaluate:\n" + outside.join("\n"));
  console.log(`${exprs.length} dashboard queries, all inside the subset`);
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
