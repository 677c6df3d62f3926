// What the map's script needs around it in node: a stand-in for the few parts of
// Leaflet and of the DOM that fmt, Decoder and Labels use, a map of fixed size and
// projection, and the Python side's output (python_side.py).
//
// Leaflet itself is not loaded: it needs a whole browser DOM, and the page's tests in
// Chromium (tests/test_browser.py) already run the script with the real Leaflet. Here
// the script's own logic is tested: the stand-in only records what Labels asks of it.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");
const {execFileSync} = require("node:child_process");

const REPO = path.resolve(__dirname, "..", "..");
const MAP_JS = path.join(REPO, "src", "strukturbild", "render", "assets", "map.js");

// ------------------------------------------------------------------------ the DOM

// Label text measured as a browser would, roughly: 7 px a character, 4 px padding
// each side, 16 px high.
const CHAR_W = 7;
const PAD = 4;
const LINE_H = 16;

class Element {
  constructor(tag) {
    this.tagName = tag.toUpperCase();
    this.className = "";
    this.textContent = "";
    this.style = {};
    this.children = [];
    this.parentNode = null;
    this.position = null;  // where L.DomUtil.setPosition put it
  }

  appendChild(child) {
    child.parentNode = this;
    this.children.push(child);
    return child;
  }

  removeChild(child) {
    this.children = this.children.filter((c) => c !== child);
    child.parentNode = null;
    return child;
  }

  get offsetWidth() {
    return this.textContent.length * CHAR_W + 2 * PAD;
  }

  get offsetHeight() {
    return LINE_H;
  }

  classes() {
    return this.className.split(/\s+/).filter(Boolean);
  }
}

const document = {createElement: (tag) => new Element(tag)};

// --------------------------------------------------------------------- Leaflet

// Class.extend as Leaflet has it: initialize is the constructor, the methods are the
// prototype's, a layer's addTo gives it its map and calls onAdd.
function extendable(Base) {
  Base.extend = function (props) {
    const Parent = this;
    function Child(...args) {
      if (this.initialize) { this.initialize(...args); }
    }
    Child.prototype = Object.create(Parent.prototype);
    Object.assign(Child.prototype, props);
    Child.prototype.constructor = Child;
    Child.extend = Parent.extend;
    return Child;
  };
  return Base;
}

function leaflet() {
  const Layer = extendable(function Layer() {});
  Layer.prototype.addTo = function (map) {
    map.addLayer(this);
    return this;
  };
  Layer.prototype.remove = function () {
    if (this._map) { this._map.removeLayer(this); }
    return this;
  };
  const Polyline = extendable(function Polyline() {});
  const Control = extendable(function Control() {});
  return {
    Layer, Polyline, Control,
    point: (x, y) => ({x, y}),
    DomUtil: {
      setPosition(el, point) { el.position = {x: point.x, y: point.y}; },
      addClass(el, name) {
        if (!el.classes().includes(name)) { el.className = (el.className + " " + name).trim(); }
      },
      removeClass(el, name) {
        el.className = el.classes().filter((c) => c !== name).join(" ");
      },
      hasClass(el, name) { return el.classes().includes(name); },
      remove(el) { if (el.parentNode) { el.parentNode.removeChild(el); } },
    },
  };
}

// ------------------------------------------------------------------------ the map

// A map of width x height pixels whose layer points are its container points (no
// panning): longitude and latitude linear at `scale` pixels a degree at `zoom`, twice
// that a zoom level in, `centre` in the middle of the map.
class FakeMap {
  constructor({width = 800, height = 600, zoom = 8, centre = [55.7, 13.4], scale = 100} = {}) {
    this.size = {x: width, y: height};
    this.zoom = zoom;
    this.centre = centre;
    this.scale = scale;
    this.z = zoom;  // the zoom at which `scale` holds
    this.panes = {};
    this.handlers = [];
    this.layers = [];
    this.container = {
      // an empty frame: no controls over the map
      getBoundingClientRect: () => ({left: 0, top: 0, right: width, bottom: height,
                                     width, height}),
      querySelectorAll: () => [],
    };
  }

  // the layer point of a place: [lat, lon]
  latLngToLayerPoint(ll) {
    const k = this.scale * Math.pow(2, this.zoom - this.z);
    return {x: this.size.x / 2 + (ll[1] - this.centre[1]) * k,
            y: this.size.y / 2 - (ll[0] - this.centre[0]) * k};
  }

  // the [lat, lon] at a layer point: the inverse of latLngToLayerPoint
  layerPointToLatLng(p) {
    const k = this.scale * Math.pow(2, this.zoom - this.z);
    return [this.centre[0] - (p.y - this.size.y / 2) / k,
            this.centre[1] + (p.x - this.size.x / 2) / k];
  }

  containerPointToLayerPoint(p) {
    return Array.isArray(p) ? {x: p[0], y: p[1]} : {x: p.x, y: p.y};
  }

  getSize() { return {x: this.size.x, y: this.size.y}; }
  getZoom() { return this.zoom; }
  getContainer() { return this.container; }
  getPane(name) { return this.panes[name]; }
  createPane(name) {
    this.panes[name] = new Element("div");
    return this.panes[name];
  }

  on(type, fn, ctx) { this.handlers.push({type, fn, ctx}); return this; }
  off(type, fn, ctx) {
    this.handlers = this.handlers.filter((h) => !(h.type === type && h.fn === fn &&
                                                  h.ctx === ctx));
    return this;
  }

  fire(type) {
    for (const h of this.handlers.slice()) {
      if (h.type === type) { h.fn.call(h.ctx, {type}); }
    }
  }

  setZoom(zoom) {
    this.zoom = zoom;
    this.fire("moveend");
  }

  addLayer(layer) {
    layer._map = this;
    this.layers.push(layer);
    layer.onAdd(this);
  }

  removeLayer(layer) {
    layer.onRemove(this);
    this.layers = this.layers.filter((l) => l !== layer);
    layer._map = null;
  }
}

// ------------------------------------------------------------------- the script

// Run map.js as the page does, around the stand-ins, and return what it exports for
// its tests (fmt, Decoder, Labels). Compiled in this realm, so that its arrays are
// this test's arrays (assert.deepStrictEqual compares prototypes).
function loadMap() {
  const source = fs.readFileSync(MAP_JS, "utf8");
  const wrapped = vm.runInThisContext(
    "(function (module, L, window, document) {" + source + "\n})",
    {filename: MAP_JS});
  const module = {exports: {}};
  const window = {};
  wrapped(module, leaflet(), window, document);
  if (typeof window.strukturbildDraw !== "function") {
    throw new Error("map.js did not define window.strukturbildDraw");
  }
  return module.exports;
}

// ------------------------------------------------------------- the Python side

// The Python that runs strukturbild: $STRUKTURBILD_PYTHON, else the repository's .venv
// (make test sets it up and passes it).
function python() {
  const exe = process.env.STRUKTURBILD_PYTHON || path.join(REPO, ".venv", "bin", "python");
  if (!fs.existsSync(exe)) {
    throw new Error(`no Python with strukturbild at ${exe}: run 'make .venv/.installed-test' ` +
                    "or set STRUKTURBILD_PYTHON");
  }
  return exe;
}

// What python_side.py prints for `what` (fmt, geometry), parsed.
function pythonSide(what) {
  const out = execFileSync(python(), [path.join(__dirname, "python_side.py"), what],
                           {encoding: "utf8", cwd: REPO, maxBuffer: 64 * 1024 * 1024});
  return JSON.parse(out);
}

module.exports = {Element, FakeMap, MAP_JS, REPO, document, leaflet, loadMap, pythonSide,
                  CHAR_W, PAD, LINE_H};
