// fmt: numbers in the map's popups, as the Python writer writes them (groups of three
// with a no-break space, a decimal comma in Swedish, a point in English).
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const {loadMap, pythonSide} = require("./harness.js");

const {fmt} = loadMap();
const NBSP = "\u00a0";

test("Swedish: groups of three with a no-break space, a decimal comma", () => {
  assert.equal(fmt(1234567.891, 2, "sv", "okänd"), `1${NBSP}234${NBSP}567,89`);
  assert.equal(fmt(12345, 0, "sv", "okänd"), `12${NBSP}345`);
  assert.equal(fmt(999, 0, "sv", "okänd"), "999");
  assert.equal(fmt(1000, 1, "sv", "okänd"), `1${NBSP}000,0`);
  assert.equal(fmt(0.5, 3, "sv", "okänd"), "0,500");
});

test("English: the same groups, a decimal point", () => {
  assert.equal(fmt(1234567.891, 2, "en", "unknown"), `1${NBSP}234${NBSP}567.89`);
  assert.equal(fmt(1234.5, 1, "en", "unknown"), `1${NBSP}234.5`);
  assert.equal(fmt(0.125, 3, "en", "unknown"), "0.125");
});

test("the decimals are never grouped", () => {
  assert.equal(fmt(1234.56789, 4, "sv", "okänd"), `1${NBSP}234,5679`);
  assert.equal(fmt(0.12345, 5, "en", "unknown"), "0.12345");
});

test("negatives keep their sign; what rounds to zero has none", () => {
  assert.equal(fmt(-1234.5, 1, "sv", "okänd"), `-1${NBSP}234,5`);
  assert.equal(fmt(-0.4, 0, "sv", "okänd"), "0");
  assert.equal(fmt(-0.04, 1, "en", "unknown"), "0.0");
  assert.equal(fmt(-0, 2, "en", "unknown"), "0.00");
  assert.equal(fmt(-0.06, 1, "en", "unknown"), "-0.1");
});

test("a missing or non-finite value reads as the page's word for unknown", () => {
  for (const v of [null, undefined, NaN, Infinity, -Infinity]) {
    assert.equal(fmt(v, 0, "sv", "okänd"), "okänd", String(v));
    assert.equal(fmt(v, 2, "en", "unknown"), "unknown", String(v));
  }
});

test("halves held exactly in binary round to even, as Python's format does", () => {
  assert.equal(fmt(2.5, 0, "en", "unknown"), "2");
  assert.equal(fmt(3.5, 0, "en", "unknown"), "4");
  assert.equal(fmt(-2.5, 0, "en", "unknown"), "-2");
  assert.equal(fmt(0.5, 0, "sv", "okänd"), "0");
  assert.equal(fmt(12.25, 1, "sv", "okänd"), "12,2");
  assert.equal(fmt(0.125, 2, "en", "unknown"), "0.12");
  assert.equal(fmt(0.375, 2, "en", "unknown"), "0.38");
  // not halves in binary: rounded as their exact value lies
  assert.equal(fmt(1.005, 2, "en", "unknown"), "1.00");  // 1.00499999…
  assert.equal(fmt(0.45, 1, "en", "unknown"), "0.5");    // 0.450000000000000011…
});

test("the same text as strukturbild.render.style.format_number, case by case", () => {
  const py = pythonSide("fmt");
  assert.ok(py.cases.length > 500, `only ${py.cases.length} cases from Python`);
  const wrong = [];
  for (const [value, dec, lang, expected] of py.cases) {
    const got = fmt(value, dec, lang, py.unknown[lang]);
    if (got !== expected) { wrong.push(`${value} (${dec}, ${lang}): ${got} != ${expected}`); }
  }
  assert.deepEqual(wrong, []);
  for (const lang of ["sv", "en"]) {
    assert.equal(fmt(null, 0, lang, py.unknown[lang]), py.missing[lang]);
  }
});
