// Labels: the map's name labels. Tiers by zoom, then the first candidate position
// that overlaps no label already placed, no larger circle and stays in view.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const {FakeMap, loadMap, CHAR_W, PAD, LINE_H} = require("./harness.js");

const {Labels} = loadMap();

// A label item as the page makes it (strukturbildDraw's places(), names(), context()).
function place(text, ll, r, extra) {
  return Object.assign({ll, text, r, tier: 0, pri: 1, idx: 0, layer: "places",
                        mode: "around", cls: ""}, extra);
}

function name(text, ll, extra) {
  return Object.assign({ll, text, r: 0, tier: 0, pri: 3, idx: 0, layer: "regions",
                        mode: "centre", cls: "sb-region"}, extra);
}

// The labels laid out on `map`; `visible` says which layers are on (all by default).
function layout(items, {map = new FakeMap(), step = 1, visible = () => true, z0} = {}) {
  const labels = new Labels(items, step, visible, z0);
  labels.addTo(map);
  return {labels, map};
}

const shown = (it) => Boolean(it.el) && it.el.classes().includes("sb-on");

// A shown label's box [x0, y0, x1, y1], from where it was put and its size.
function box(it) {
  const p = it.el.position;
  return [p.x, p.y, p.x + it.el.offsetWidth, p.y + it.el.offsetHeight];
}

// Boxes that overlap, or stand closer than 2 px side by side (the page keeps that gap).
function overlap(a, b) {
  return a[0] < b[2] + 2 && a[2] + 2 > b[0] && a[1] < b[3] && a[3] > b[1];
}

function width(text) { return text.length * CHAR_W + 2 * PAD; }

test("a place's name goes right of its circle, centred on it, when nothing is in the way", () => {
  const lund = place("Lund", [55.7, 13.2], 5);
  const {labels, map} = layout([lund]);
  const p = map.latLngToLayerPoint(lund.ll);
  assert.ok(shown(lund));
  assert.deepEqual(lund.el.position, {x: p.x + 5 + 2, y: p.y - LINE_H / 2});
  assert.equal(lund.el.textContent, "Lund");
  assert.deepEqual(lund.el.classes(), ["sb-label", "sb-t0", "sb-on"]);
  assert.equal(labels.shown, 1);
});

test("two names at one place do not overlap: the second takes the next side", () => {
  const a = place("Malmö", [55.6, 13.0], 3);
  const b = place("Malmö C", [55.6, 13.0], 3, {idx: 1});
  const {labels, map} = layout([a, b]);
  const p = map.latLngToLayerPoint(a.ll);
  assert.ok(shown(a) && shown(b));
  // the first to the right of the circle, the second to the left
  assert.deepEqual(a.el.position, {x: p.x + 3 + 2, y: p.y - LINE_H / 2});
  assert.deepEqual(b.el.position, {x: p.x - 3 - 2 - width("Malmö C"), y: p.y - LINE_H / 2});
  assert.ok(!overlap(box(a), box(b)));
  assert.equal(labels.shown, 2);
});

test("where every position is taken, the label first in order wins, the other is hidden", () => {
  // a name centred on its point: centre, above, below all overlap the first one's
  const first = name("Nordvästra Skåne", [56.1, 12.9]);
  const second = name("Skåne", [56.1, 12.9], {idx: 1});
  let run = layout([first, second]);
  assert.ok(shown(first) && !shown(second));
  assert.equal(run.labels.shown, 1);
  // in the other order, the other one
  const again = [name("Skåne", [56.1, 12.9]), name("Nordvästra Skåne", [56.1, 12.9])];
  run = layout(again);
  assert.ok(shown(again[0]) && !shown(again[1]));
});

test("a larger circle (r ≥ 4) is an obstacle to other labels, a small dot is not", () => {
  const map = new FakeMap();
  // Lomma's name to the right of its dot would run over Malmö's circle 40 px east
  const lomma = [55.7, 13.4];
  const px = map.latLngToLayerPoint(lomma);
  const east = map.layerPointToLatLng({x: px.x + 40, y: px.y});
  const big = place("Malmö", east, 9, {idx: 1});
  const small = place("Lomma", lomma, 3);
  layout([small, big], {map});
  assert.ok(shown(small));
  assert.equal(small.el.position.x, px.x - 3 - 2 - width("Lomma"));  // went left
  // the same dot beside a small one (r 3) keeps the right side
  const map2 = new FakeMap();
  const dot = place("Malmö", east, 3, {idx: 1});
  const small2 = place("Lomma", lomma, 3);
  layout([small2, dot], {map: map2});
  assert.equal(small2.el.position.x, px.x + 3 + 2);
});

test("a label stays inside the map: at the right edge it goes left, in a corner it hides", () => {
  const map = new FakeMap({width: 400, height: 300});
  const edge = place("Simrishamn", map.layerPointToLatLng({x: 395, y: 150}), 4);
  const corner = name("Bornholm", map.layerPointToLatLng({x: 399, y: 299}), {idx: 1});
  layout([edge, corner], {map});
  const p = map.latLngToLayerPoint(edge.ll);
  assert.ok(shown(edge));
  assert.ok(box(edge)[2] <= 400 && box(edge)[0] >= 0);
  assert.equal(edge.el.position.x, p.x - 4 - 2 - width("Simrishamn"));
  assert.ok(!shown(corner));
});

test("a country's name moves along to stay in view", () => {
  const map = new FakeMap({width: 400, height: 300});
  const dk = name("Danmark", map.layerPointToLatLng({x: 395, y: 100}),
                  {cls: "sb-country", layer: "base", pri: 4});
  layout([dk], {map});
  assert.ok(shown(dk));
  const p = map.latLngToLayerPoint(dk.ll);
  assert.deepEqual(dk.el.position, {x: 400 - 4 - width("Danmark"), y: p.y - LINE_H / 2});
});

test("lower tiers join as the map is zoomed in, from the first view's zoom", () => {
  const map = new FakeMap({zoom: 8});
  const items = [place("Malmö", [55.6, 13.0], 8),
                 place("Lund", [55.7, 13.2], 6, {tier: 1, idx: 1}),
                 place("Staffanstorp", [55.64, 13.21], 3, {tier: 2, idx: 2})];
  const {labels} = layout(items, {map, step: 1.5});
  assert.ok(shown(items[0]));
  assert.equal(items[1].el, undefined);  // not even made yet
  assert.equal(labels.shown, 1);
  map.setZoom(9.4);  // 1.4 levels in: still one tier
  assert.equal(labels.shown, 1);
  map.setZoom(9.5);  // 1.5 levels in: the second tier
  assert.ok(shown(items[1]) && !items[2].el);
  assert.equal(items[1].el.classes()[1], "sb-t1");
  map.setZoom(11);   // 3 levels in: all
  assert.ok(items.every(shown));
  assert.equal(labels.shown, 3);
  map.setZoom(8);    // back out: hidden again, not made again
  const made = items[2].el;
  assert.equal(labels.shown, 1);
  assert.ok(!shown(items[1]) && !shown(items[2]) && items[2].el === made);
});

test("tiers count from the page's first view, also when it opens zoomed in", () => {
  const map = new FakeMap({zoom: 10});
  const items = [place("Malmö", [55.6, 13.0], 8),
                 place("Lund", [55.7, 13.2], 6, {tier: 1, idx: 1})];
  const {labels} = layout(items, {map, step: 1.5, z0: 8});
  assert.equal(labels.shown, 2);
  // the print view: the first view is the current one again
  labels.refit();
  assert.equal(labels.shown, 1);
});

test("a layer that is off has no labels, and they take no room from others", () => {
  const region = name("Sydvästra Skåne", [55.6, 13.0]);
  const town = name("Malmö", [55.6, 13.0], {layer: "places", cls: "", pri: 1, idx: 1});
  const {labels, map} = layout([region, town],
                                {visible: (layer) => layer !== "regions"});
  const p = map.latLngToLayerPoint(town.ll);
  assert.ok(!shown(region) && shown(town));
  assert.deepEqual(town.el.position, {x: p.x - width("Malmö") / 2, y: p.y - LINE_H / 2});
  assert.equal(labels.shown, 1);
  // nor do their circles: a large grey dot of the context, switched off, 30 px east
  const map2 = new FakeMap();
  const q = map2.latLngToLayerPoint([55.6, 13.0]);
  const dot = place("Köpenhamn", map2.layerPointToLatLng({x: q.x + 30, y: q.y}), 9,
                    {layer: "context", cls: "sb-context", pri: 2});
  const lomma = place("Lomma", [55.6, 13.0], 3, {idx: 1});
  layout([dot, lomma], {map: map2, visible: (layer) => layer !== "context"});
  assert.ok(!shown(dot) && shown(lomma));
  assert.equal(lomma.el.position.x, q.x + 3 + 2);  // right, over the hidden dot
  // with the context on, the dot's circle sends the name left
  const dot2 = Object.assign({}, dot, {el: undefined});
  const lomma2 = Object.assign({}, lomma, {el: undefined});
  layout([dot2, lomma2], {map: new FakeMap()});
  assert.ok(shown(dot2) && shown(lomma2));
  assert.equal(lomma2.el.position.x, q.x - 3 - 2 - width("Lomma"));
});

// A crowded map, the same every run: n places at pseudo-random points and sizes.
function crowd(n, map) {
  let seed = 12345;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const items = [];
  for (let i = 0; i < n; i++) {
    const ll = map.layerPointToLatLng({x: rnd() * map.size.x, y: rnd() * map.size.y});
    items.push(place(`Ort ${i}`.padEnd(5 + Math.floor(rnd() * 10), "x"), ll,
                     2 + Math.floor(rnd() * 8), {idx: i, tier: 0}));
  }
  return items;
}

test("a crowded map: no two labels overlap, none leaves the view or covers a circle", () => {
  const map = new FakeMap({width: 800, height: 600});
  const items = crowd(300, map);
  const {labels} = layout(items, {map});
  const on = items.filter(shown);
  // some are shown and some are not: the test has something to check
  assert.ok(on.length > 40 && on.length < 300, `${on.length} of 300 shown`);
  assert.equal(labels.shown, on.length);
  for (let i = 0; i < on.length; i++) {
    const a = box(on[i]);
    assert.ok(a[0] >= 0 && a[1] >= 0 && a[2] <= 800 && a[3] <= 600, `${on[i].text} leaves`);
    for (let j = i + 1; j < on.length; j++) {
      assert.ok(!overlap(a, box(on[j])), `${on[i].text} overlaps ${on[j].text}`);
    }
    for (const c of items) {
      if (c === on[i] || c.r < 4) { continue; }
      const p = map.latLngToLayerPoint(c.ll);
      const dx = p.x - Math.max(a[0], Math.min(p.x, a[2]));
      const dy = p.y - Math.max(a[1], Math.min(p.y, a[3]));
      assert.ok(dx * dx + dy * dy >= c.r * c.r, `${on[i].text} covers ${c.text}'s circle`);
    }
  }
});

test("the same items give the same layout (the page is deterministic)", () => {
  const map1 = new FakeMap(), map2 = new FakeMap();
  const a = crowd(120, map1), b = crowd(120, map2);
  layout(a, {map: map1});
  layout(b, {map: map2});
  assert.deepEqual(a.map((it) => shown(it) && it.el.position),
                   b.map((it) => shown(it) && it.el.position));
});

test("removed from the map: the labels go, and the map's moves no longer lay them out", () => {
  const items = [place("Ystad", [55.43, 13.82], 5)];
  const {labels, map} = layout(items);
  const pane = map.getPane("sbLabels");
  assert.equal(pane.children.length, 1);
  assert.equal(pane.style.zIndex, 450);
  map.removeLayer(labels);
  assert.equal(pane.children.length, 0);
  assert.equal(items[0].el, null);
  assert.equal(map.handlers.length, 0);
});
