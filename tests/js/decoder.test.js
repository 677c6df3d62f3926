// Decoder: the page's geometry, quantised [lat, lon] steps with one running cursor per
// layer (strukturbild.render.web._Encoder writes them), back to degrees.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const {loadMap, pythonSide} = require("./harness.js");

const {Decoder} = loadMap();
const Q = 10000;

test("a path: each step adds to the last point, in 1/q degrees, [lat, lon]", () => {
  const d = new Decoder(Q);
  assert.deepEqual(d.path([556000, 130000, 10, -20, -5, 0]),
                   [[55.6, 13], [55.601, 12.998], [55.6005, 12.998]]);
});

test("the cursor runs on from path to path, and from call to call", () => {
  const d = new Decoder(Q);
  assert.deepEqual(d.path([556000, 130000]), [[55.6, 13]]);
  assert.deepEqual(d.path([1000, 2000, 0, 1]), [[55.7, 13.2], [55.7, 13.2001]]);
  assert.deepEqual(d.lines([[-1000, 0]]), [[[55.6, 13.2001]]]);
  // each layer starts at 0, 0 with a decoder of its own
  assert.deepEqual(new Decoder(Q).path([10, 20]), [[0.001, 0.002]]);
});

test("negative steps and coordinates, across the equator and Greenwich", () => {
  const d = new Decoder(Q);
  assert.deepEqual(d.path([-334489, -706693, 334489, 706693, 5000, -5123]),
                   [[-33.4489, -70.6693], [0, 0], [0.5, -0.5123]]);
});

test("polygons: [[ring, ring…], …] with the cursor through all rings", () => {
  const d = new Decoder(Q);
  const polys = d.polygons([[[556000, 130000, 0, 100, 100, 0], [20, -80, 0, 10, 10, 0]],
                            [[1000, 0, 0, 50, 50, 0]]]);
  assert.deepEqual(polys, [
    [[[55.6, 13], [55.6, 13.01], [55.61, 13.01]],
     [[55.612, 13.002], [55.612, 13.003], [55.613, 13.003]]],
    [[[55.713, 13.003], [55.713, 13.008], [55.718, 13.008]]],
  ]);
  assert.deepEqual(new Decoder(Q).polygons([]), []);
});

test("lines: [part, part…]", () => {
  const d = new Decoder(Q);
  assert.deepEqual(d.lines([[100, 200, 1, 1], [-1, -1]]),
                   [[[0.01, 0.02], [0.0101, 0.0201]], [[0.01, 0.02]]]);
});

// Within half a quantum (and a little for floating point) of where Python put it.
function near(got, want, where) {
  assert.equal(got.length, want.length, `${where}: ${got.length} points, not ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    for (let k = 0; k < 2; k++) {
      const err = Math.abs(got[i][k] - want[i][k]);
      assert.ok(err <= 0.5 / Q + 1e-9,
                `${where}, point ${i}: ${got[i]} is not ${want[i]} (off by ${err})`);
    }
  }
}

test("round trip: the layers Python encoded decode to their coordinates", () => {
  const py = pythonSide("geometry");
  assert.equal(py.q, Q);
  const {polygons, lines, hemispheres, own} = py.layers;

  let d = new Decoder(py.q);
  assert.equal(polygons.encoded.length, 3);
  polygons.encoded.forEach((feature, f) => {
    const got = d.polygons(feature), want = polygons.expected[f];
    assert.equal(got.length, want.length, `polygon ${f}: parts`);
    got.forEach((rings, p) => {
      assert.equal(rings.length, want[p].length, `polygon ${f}.${p}: rings`);
      rings.forEach((ring, r) => near(ring, want[p][r], `polygon ${f}.${p} ring ${r}`));
    });
  });
  // the first polygon has a hole
  assert.equal(polygons.expected[0][0].length, 2);

  for (const [name, layer] of [["lines", lines], ["hemispheres", hemispheres]]) {
    const dec = new Decoder(py.q);
    layer.encoded.forEach((feature, f) => {
      const got = dec.lines(feature), want = layer.expected[f];
      assert.equal(got.length, want.length, `${name} ${f}: parts`);
      got.forEach((part, p) => near(part, want[p], `${name} ${f}.${p}`));
    });
  }

  // an own layer: polygons (2), lines (1) and points (0) on one cursor, decoded as
  // the page's ownLayer does
  d = new Decoder(py.q);
  assert.deepEqual(own.encoded.map((f) => f[0]), [2, 1, 0, 0]);
  own.encoded.forEach(([kind, g], f) => {
    const want = own.expected[f];
    if (kind === 2) {
      d.polygons(g).forEach((rings, p) => rings.forEach((ring, r) => near(
        ring, want[p][r], `own ${f}.${p} ring ${r}`)));
    } else if (kind === 1) {
      d.lines(g).forEach((part, p) => near(part, want[p], `own ${f}.${p}`));
    } else {
      near(d.path(g), want.flat(), `own ${f} points`);
    }
  });
});
