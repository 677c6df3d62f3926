// strukturbild web map: decodes the compact data of the page and draws it with Leaflet.
// Package data, inlined into every map by strukturbild.render.web (see _assets.py).
// It draws the scene strukturbild.render._scene made: the layers in their order, each
// link in the style the scene gave it, the legend rows the scene wrote.
// Every text of the data is put into the page with textContent, or escaped (esc)
// where Leaflet takes HTML (the names in the layer control).
(function () {
"use strict";

function el(tag, parent, cls) {
  var e = document.createElement(tag);
  if (cls) { e.className = cls; }
  if (parent) { parent.appendChild(e); }
  return e;
}

var ESC = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"};
function esc(s) {
  return String(s).replace(/[&<>"']/g, function (c) { return ESC[c]; });
}

// Numbers as in the Python writer: grouped with a no-break space, decimal comma in Swedish.
function fmt(v, dec, lang, unknown) {
  if (v === null || v === undefined || !isFinite(v)) { return unknown; }
  var a = Math.abs(v), f = a.toFixed(dec);
  // a half that binary holds exactly (2.5, 0.125): toFixed rounds it up, Python to
  // even; it is one where a * 2^(dec+1) is odd, and an odd last digit is one too high
  if (a * Math.pow(2, dec + 1) % 2 === 1 && /[13579]$/.test(f)) {
    f = f.slice(0, -1) + (Number(f.slice(-1)) - 1);
  }
  var s = f.split(".");
  var i = s[0].replace(/\B(?=(\d{3})+(?!\d))/g, "\u00a0");
  var sign = v < 0 && /[1-9]/.test(s.join("")) ? "-" : "";
  return sign + i + (s.length > 1 ? (lang === "sv" ? "," : ".") + s[1] : "");
}

// Popup sentences: a template's slots ({name}, {pop} …) filled in one pass, as
// strukturbild.render.popups.fill does; a value is never read for slots again.
function fill(template, value) {
  return template.replace(/\{([a-z]+)\}/g, function (m, slot) {
    return slot === "lb" ? "{" : slot === "rb" ? "}" : value(slot);
  });
}

// Geometry: paths of quantised [lat, lon] steps, one running cursor per layer.
function Decoder(q) { this.y = 0; this.x = 0; this.q = q; }
Decoder.prototype.path = function (c) {
  var pts = new Array(c.length / 2);
  for (var i = 0; i < c.length; i += 2) {
    this.y += c[i]; this.x += c[i + 1];
    pts[i / 2] = [this.y / this.q, this.x / this.q];
  }
  return pts;
};
Decoder.prototype.polygons = function (f) {  // [[ring, ring…], …]
  var polys = [];
  for (var p = 0; p < f.length; p++) {
    var rings = [];
    for (var r = 0; r < f[p].length; r++) { rings.push(this.path(f[p][r])); }
    polys.push(rings);
  }
  return polys;
};
Decoder.prototype.lines = function (f) {  // [part, part…]
  var parts = [];
  for (var p = 0; p < f.length; p++) { parts.push(this.path(f[p])); }
  return parts;
};

function column(c, i) {
  return Array.isArray(c) ? c[i] : c.u[c.i[i]];
}

// A link between two places: one shape for both directions. The width at each end
// follows the commuters who leave from that end, so the link narrows towards the
// place that receives the most. Weak links are dashed.
var Taper = L.Polyline.extend({
  _updatePath: function () {
    var r = this._renderer;
    if (!r._drawing || !this._parts.length) { return; }
    var a = this._rings[0][0], b = this._rings[0][1], ctx = r._ctx, o = this.options;
    var dx = b.x - a.x, dy = b.y - a.y, len = Math.sqrt(dx * dx + dy * dy);
    if (!len) { return; }
    var nx = -dy / len, ny = dx / len, h0 = o.w0 / 2, h1 = o.w1 / 2;
    function quad(t0, t1) {
      var w0 = h0 + (h1 - h0) * t0, w1 = h0 + (h1 - h0) * t1;
      var x0 = a.x + dx * t0, y0 = a.y + dy * t0, x1 = a.x + dx * t1, y1 = a.y + dy * t1;
      ctx.moveTo(x0 + nx * w0, y0 + ny * w0);
      ctx.lineTo(x1 + nx * w1, y1 + ny * w1);
      ctx.lineTo(x1 - nx * w1, y1 - ny * w1);
      ctx.lineTo(x0 - nx * w0, y0 - ny * w0);
      ctx.closePath();
    }
    ctx.beginPath();
    if (!o.dash) {
      quad(0, 1);
    } else {
      // dash only the visible part of the link
      var part = this._parts[0], p0 = part[0], p1 = part[part.length - 1];
      var s0 = ((p0.x - a.x) * dx + (p0.y - a.y) * dy) / len;
      var s1 = ((p1.x - a.x) * dx + (p1.y - a.y) * dy) / len;
      var period = o.dash[0] + o.dash[1];
      for (var s = Math.floor(Math.min(s0, s1) / period) * period; s < Math.max(s0, s1);
           s += period) {
        quad(Math.max(s, 0) / len, Math.min(s + o.dash[0], len) / len);
      }
    }
    r._fillStroke(ctx, this);
  },
  _clickTolerance: function () {
    return Math.max(this.options.w0, this.options.w1) / 2 +
      ((this._renderer && this._renderer.options.tolerance) || 0);
  }
});

// Name labels: highest tiers first, then by priority (joint designations, places by
// size, regions, countries), the stråk's names last (they take the room the places'
// names leave); a label is shown at the first of its candidate positions that
// overlaps no label already placed and no larger circle, else hidden. Lower tiers
// join as the map is zoomed in. Labels of a layer that is off are not placed.
var Labels = L.Layer.extend({
  initialize: function (items, zoomStep, visible, z0) {
    this._items = items;
    this._step = zoomStep;
    this._visible = visible;
    // tiers count from the first view (the data fitted to the page), also when the
    // page opens at a view of its address (#zoom/lat/lon)
    this._z0 = z0;
  },
  onAdd: function (map) {
    var pane = map.getPane("sbLabels") || map.createPane("sbLabels");
    pane.style.zIndex = 450;
    pane.style.pointerEvents = "none";
    pane.className += " leaflet-zoom-hide";
    this._box = el("div", pane, "sb-labels");
    this._made = 0;
    if (this._z0 === undefined) { this._z0 = map.getZoom(); }
    map.on("moveend", this._layout, this);
    this._layout();
  },
  refit: function () {
    // the first view changed (the page was resized for print): tiers count from it
    this._z0 = this._map.getZoom();
    this._layout();
  },
  onRemove: function (map) {
    map.off("moveend", this._layout, this);
    L.DomUtil.remove(this._box);
    for (var i = 0; i < this._items.length; i++) { this._items[i].el = null; }
    this._made = 0;
  },
  _make: function (upto) {
    // create and measure the labels of tiers < upto, once
    var fresh = [], it, i;
    if (upto <= this._made) { return; }
    for (i = 0; i < this._items.length; i++) {
      it = this._items[i];
      if (it.el || it.tier >= upto) { continue; }
      it.el = el("div", this._box, "sb-label sb-t" + Math.min(it.tier, 1) +
                 (it.tier === 0 && it.level !== undefined ? " sb-l" + it.level : "") +
                 (it.cls ? " " + it.cls : ""));
      it.el.textContent = it.text;
      fresh.push(it);
    }
    this._made = upto;
    for (i = 0; i < fresh.length; i++) {
      fresh[i].w = fresh[i].el.offsetWidth;
      fresh[i].h = fresh[i].el.offsetHeight;
    }
  },
  _layout: function () {
    var map = this._map;
    if (!map) { return; }
    var upto = Math.max(1, Math.floor((map.getZoom() - this._z0) / this._step + 1e-9) + 1);
    this._make(upto);
    var items = this._items, placed = [], circles = [], i, k, it, b, ok;
    // the map's visible part, in layer points: a label must stay inside it
    var tl = map.containerPointToLayerPoint([0, 0]),
        br = map.containerPointToLayerPoint(map.getSize());
    // the title, the legend and the other controls cover the map: no label under them
    var frame = map.getContainer().getBoundingClientRect(),
        controls = map.getContainer().querySelectorAll(".leaflet-control");
    for (i = 0; i < controls.length; i++) {
      var cr = controls[i].getBoundingClientRect();
      if (!cr.width || !cr.height) { continue; }
      var c0 = map.containerPointToLayerPoint([cr.left - frame.left - 3, cr.top - frame.top - 3]),
          c1 = map.containerPointToLayerPoint([cr.right - frame.left + 3,
                                               cr.bottom - frame.top + 3]);
      placed.push([c0.x, c0.y, c1.x, c1.y]);
    }
    var ui = placed.length;
    for (i = 0; i < items.length; i++) {
      it = items[i];
      if (!it.el) { continue; }
      it.on = this._visible(it.layer);
      it.p = map.latLngToLayerPoint(it.ll);
      // the larger circles of places that may get a label are obstacles too
      if (it.on && it.tier < upto && it.r >= 4 && it.mode === "around") { circles.push(it); }
    }
    function free(b, self) {
      var j, q, x, y;
      for (j = 0; j < placed.length; j++) {
        q = placed[j];
        if (b[0] < q[2] + 2 && b[2] + 2 > q[0] && b[1] < q[3] && b[3] > q[1]) { return false; }
      }
      for (j = 0; j < circles.length; j++) {
        q = circles[j];
        if (q === self) { continue; }
        x = q.p.x - Math.max(b[0], Math.min(q.p.x, b[2]));
        y = q.p.y - Math.max(b[1], Math.min(q.p.y, b[3]));
        if (x * x + y * y < q.r * q.r) { return false; }
      }
      // a label's own test (a stråk's name touches no other stråk's band)
      return !self.clear || self.clear(b);
    }
    for (i = 0; i < items.length; i++) {
      it = items[i];
      ok = null;
      if (!it.el) { continue; }
      if (it.on && it.tier < upto) {
        var p = it.p, cand, m, q;
        if (it.mode === "along") {
          // a stråk's name: on the band at one of its points (those far from the
          // places first) or just above or below the band there; else beside it
          cand = [];
          var aside = [];
          for (m = 0; m < it.cands.length; m++) {
            q = map.latLngToLayerPoint([it.cands[m][0], it.cands[m][1]]);
            cand.push([q.x - it.w / 2, q.y - it.h / 2],
                      [q.x - it.w / 2, q.y - it.cands[m][2] - it.h],
                      [q.x - it.w / 2, q.y + it.cands[m][2]]);
            aside.push([q.x + it.cands[m][2] + 2, q.y - it.h / 2],
                       [q.x - it.cands[m][2] - 2 - it.w, q.y - it.h / 2]);
          }
          cand = cand.concat(aside);
        } else if (it.mode === "around") {
          cand = [[p.x + it.r + 2, p.y - it.h / 2], [p.x - it.r - 2 - it.w, p.y - it.h / 2],
                  [p.x - it.w / 2, p.y - it.r - it.h], [p.x - it.w / 2, p.y + it.r]];
        } else {  // centred on its point, else just above or below it
          cand = [[p.x - it.w / 2, p.y - it.h / 2], [p.x - it.w / 2, p.y - it.r - it.h],
                  [p.x - it.w / 2, p.y + it.r]];
        }
        for (k = 0; k < cand.length && !ok; k++) {
          b = [cand[k][0], cand[k][1], cand[k][0] + it.w, cand[k][1] + it.h];
          if (it.cls === "sb-country") {
            // a country's name may move along to stay in view
            var sx = Math.max(0, tl.x + 4 - b[0]) - Math.max(0, b[2] - br.x + 4);
            var sy = Math.max(0, tl.y + 4 - b[1]) - Math.max(0, b[3] - br.y + 4);
            b = [b[0] + sx, b[1] + sy, b[2] + sx, b[3] + sy];
          }
          if (b[0] < tl.x || b[1] < tl.y || b[2] > br.x || b[3] > br.y) { continue; }
          // a stråk's name keeps a word's room from the other names, so that two names
          // side by side do not read as one
          if (it.mode === "along") { b = [b[0] - 8, b[1] - 1, b[2] + 8, b[3] + 1]; }
          if (free(b, it)) { ok = it.mode === "along" ? [b[0] + 8, b[1] + 1, b[2] - 8,
                                                           b[3] - 1] : b; }
        }
      }
      if (ok) {
        placed.push(ok);
        L.DomUtil.setPosition(it.el, L.point(ok[0], ok[1]));
        L.DomUtil.addClass(it.el, "sb-on");
      } else {
        L.DomUtil.removeClass(it.el, "sb-on");
      }
    }
    this.shown = placed.length - ui;
  }
});

// A4 landscape within 8 mm margins, in CSS pixels (96 per inch): 281 x 194 mm.
var PRINT_SIZE = [1062, 733];

function control(position, cls, build) {
  var C = L.Control.extend({
    onAdd: function () {
      var div = el("div", null, cls);
      build(div);
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    }
  });
  return new C({position: position});
}

// The view in the URL: #zoom/lat/lon, as other web maps keep it.
function readHash() {
  var m = /^#(\d{1,2}(?:\.\d+)?)\/(-?\d{1,2}(?:\.\d+)?)\/(-?\d{1,3}(?:\.\d+)?)$/
    .exec(window.location.hash);
  return m ? [parseFloat(m[1]), parseFloat(m[2]), parseFloat(m[3])] : null;
}

function writeHash(map) {
  var c = map.getCenter();
  var h = "#" + (Math.round(map.getZoom() * 100) / 100) + "/" + c.lat.toFixed(4) + "/" +
    c.lng.toFixed(4);
  try {
    window.history.replaceState(null, "", h);
  } catch (e) {
    // a sandboxed frame (a notebook) may not change its address: keep the view only
  }
}

// Names compared without case and accents: "malmo" finds Malmö.
function fold(s) {
  return String(s).toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "");
}

window.strukturbildDraw = function (id, D) {
  var T = D.text, lang = D.lang, q = D.q, order = D.order, i;
  var map = L.map(id, D.map);
  if (D.tiles) { L.tileLayer(D.tiles.url, D.tiles.options).addTo(map); }
  document.documentElement.lang = lang;
  var renderer = L.canvas({tolerance: 3});
  var groups = {};
  for (i = 0; i < order.length; i++) { groups[order[i]] = L.featureGroup(); }
  var state = {map: map, groups: groups, counts: {}, labels: null, moved: false,
               fitting: false, hash: readHash()};
  var tr = function (t, th, td) {
    var row = el("tr", t);
    el("th", row).textContent = th;
    el("td", row).textContent = td;
  };
  var num = function (v, dec) { return fmt(v, dec, lang, T.unknown); };
  if (D.sea) { map.getContainer().style.background = D.sea; }

  // title, zoom, search, legend, scale and source: controls around the map
  if (D.title) {
    control("topleft", "sb-box sb-title", function (div) { div.textContent = D.title; })
      .addTo(map);
  }
  L.control.zoom({position: "topleft", zoomInTitle: T.zoom_in, zoomOutTitle: T.zoom_out})
    .addTo(map);
  // The legend: a button shows or hides it (hidden at first in a small frame, a
  // notebook's); it never grows over the layer list above it.
  var legendBody, legendButton;
  var legend = control("bottomright", "sb-box sb-legend", function (div) {
    legendButton = el("button", div, "sb-legend-toggle");
    legendButton.type = "button";
    legendButton.textContent = T.legend;
    legendBody = el("div", div, "sb-legend-body");
    legendBody.id = id + "-legend";
    legendButton.setAttribute("aria-controls", legendBody.id);
    legendBody.innerHTML = D.legend;  // built and escaped by the Python writer
  }).addTo(map);
  function showLegend(open) {
    L.DomUtil[open ? "removeClass" : "addClass"](legend.getContainer(), "sb-collapsed");
    legendButton.setAttribute("aria-expanded", open ? "true" : "false");
    legendButton.title = open ? T.legend_hide : T.legend_show;
    fitLegend();
    if (state.labels && state.labels._map) { state.labels._layout(); }
  }
  function fitLegend() {
    // the legend's height: what the map leaves under the layer list (and above the
    // attribution); its rows scroll beyond it
    var box = map.getContainer().getBoundingClientRect(), top = box.top + 10;
    var above = map.getContainer().querySelectorAll(".leaflet-top.leaflet-right .leaflet-control");
    for (var a = 0; a < above.length; a++) {
      top = Math.max(top, above[a].getBoundingClientRect().bottom + 10);
    }
    var bottom = legend.getContainer().getBoundingClientRect().bottom;
    var room = bottom - top - legendButton.offsetHeight - 16;
    legendBody.style.maxHeight = Math.max(room, 40) + "px";
    // the source line wraps beside the legend, not under it
    if (source) {
      source.getContainer().style.maxWidth = Math.max(160, map.getSize().x -
        legend.getContainer().offsetWidth - 40) + "px";
    }
  }
  L.DomEvent.on(legendButton, "click", function () {
    showLegend(L.DomUtil.hasClass(legend.getContainer(), "sb-collapsed"));
  });
  var small = map.getSize().x < 760 || map.getSize().y < 700;
  if (small) { L.DomUtil.addClass(legend.getContainer(), "sb-collapsed"); }
  legendButton.setAttribute("aria-expanded", small ? "false" : "true");
  legendButton.title = small ? T.legend_show : T.legend_hide;
  map.on("resize", function () { fitLegend(); });
  L.control.scale({position: "bottomleft", imperial: false, maxWidth: 160}).addTo(map);
  var source = control("bottomleft", "sb-box sb-source", function (div) {
    div.textContent = D.source;
  }).addTo(map);
  // the data fill the map beside the legend; again for printing, unless the user
  // has moved the map (then the print keeps the centre and the zoom)
  function fit() {
    state.fitting = true;
    map.fitBounds(D.bounds, {paddingTopLeft: [20, 50], animate: false,
                             paddingBottomRight: [legend.getContainer().offsetWidth + 30, 60]});
    state.fitting = false;
    if (state.labels && state.labels._map) { state.labels.refit(); }
  }
  fit();
  state.z0 = map.getZoom();
  if (state.hash) {
    map.setView([state.hash[1], state.hash[2]], state.hash[0], {animate: false});
    state.moved = true;
  }
  map.on("zoomstart movestart", function () { state.moved = state.moved || !state.fitting; });
  map.on("moveend", function () { writeHash(map); });
  // Printing: the map takes the page (A4 landscape, see map.css) and is drawn again
  // at that size before the page is laid out for print; afterwards it is restored.
  function resized() {
    state.fitting = true;
    map.invalidateSize({animate: false});
    state.fitting = false;
    if (!state.moved) { fit(); }
  }
  window.addEventListener("beforeprint", function () {
    var c = map.getContainer();
    state.screen = state.screen || [c.style.width, c.style.height];
    c.style.width = PRINT_SIZE[0] + "px";
    c.style.height = PRINT_SIZE[1] + "px";
    resized();
  });
  window.addEventListener("afterprint", function () {
    if (!state.screen) { return; }
    var c = map.getContainer();
    c.style.width = state.screen[0];
    c.style.height = state.screen[1];
    state.screen = null;
    resized();
  });

  var P = D.places, n = P.n.length, lat = new Array(n);
  for (i = 0; i < n; i++) { lat[i] = [P.ll[2 * i] / q, P.ll[2 * i + 1] / q]; }
  var items = [];

  function polygons(A, group, style) {
    var dec = new Decoder(q), opts = L.extend({renderer: renderer, interactive: false,
      smoothFactor: 0.5}, style), count = 0;
    for (var f = 0; f < A.length; f++) {
      var shapes = dec.polygons(A[f]);
      if (shapes.length) { L.polygon(shapes, opts).addTo(group); count++; }
    }
    return count;
  }

  function lines(A, group, style) {
    var dec = new Decoder(q), opts = L.extend({renderer: renderer, interactive: false,
      smoothFactor: 0.5}, style);
    for (var f = 0; f < A.length; f++) {
      var parts = dec.lines(A[f]);
      if (parts.length) { L.polyline(parts, opts).addTo(group); }
    }
  }

  function names(list, layer, cls, priority) {
    for (var k = 0; k < list.length; k++) {
      items.push({ll: [list[k][1], list[k][2]], text: list[k][0], r: 0, tier: 0,
                  pri: priority, idx: k, layer: layer, cls: cls, mode: "centre"});
    }
  }

  function base() {
    var B = D.base;
    state.counts.base = polygons(B.g, groups.base, B.style);
    if (B.lines) { lines(B.lines, groups.base, B.line_style); }
    names(B.names || [], "base", "sb-country", 4);
  }

  function areas() {
    var A = D.areas;
    state.counts.areas = polygons(A.g, groups.areas, A.style);
    if (A.lines) { lines(A.lines, groups.areas, A.line_style); }
  }

  // the context beyond the project: ferry lines, small grey places, grey names after
  // the places' (they give way to them)
  function context() {
    var C = D.context, pts = C.p || [];
    if (C.f) { lines(C.f, groups.context, C.style); }
    for (var k = 0; k < pts.length; k++) {
      L.circleMarker([pts[k][1], pts[k][2]], {renderer: renderer, interactive: false,
        radius: pts[k][3], color: "#fff", weight: 0.8, fillColor: C.dot, fillOpacity: 0.95
      }).addTo(groups.context);
      items.push({ll: [pts[k][1], pts[k][2]], text: pts[k][0], r: pts[k][3], tier: 0,
                  pri: 2, idx: k, layer: "context", cls: "sb-context", mode: "around"});
    }
    state.counts.context = pts.length;
  }

  function regions() {
    var R = D.regions;
    state.counts.regions = polygons(R.g, groups.regions, R.style);
    names(R.names || [], "regions", "sb-region", 3);
  }

  function ownLayer(n, key) {
    var Y = D.layers[n], s = Y.st, dec = new Decoder(q), group = groups[key];
    var line = {renderer: renderer, color: s.color, weight: s.weight, opacity: s.opacity,
                dashArray: s.dash, lineCap: "round", lineJoin: "round", smoothFactor: 0.5};
    var area = {renderer: renderer, color: s.color, weight: Math.min(s.weight, 3),
                opacity: 1, dashArray: s.dash, fill: s.fill !== "none",
                fillColor: s.fill === "none" ? s.color : s.fill, fillOpacity: s.opacity,
                smoothFactor: 0.5};
    var point = {renderer: renderer, radius: Math.max(3, Math.min(s.weight, 8)),
                 color: "#fff", weight: 1, fillColor: s.fill === "none" ? s.color : s.fill,
                 fillOpacity: Math.max(s.opacity, 0.6)};
    for (var f = 0; f < Y.f.length; f++) {
      var kind = Y.f[f][0], g = Y.f[f][1], opts;
      if (kind === 2) {
        opts = L.extend({i: f}, area);
        var shapes = dec.polygons(g);
        if (shapes.length) { L.polygon(shapes, opts).addTo(group); }
      } else if (kind === 1) {
        opts = L.extend({i: f}, line);
        var parts = dec.lines(g);
        if (parts.length) { L.polyline(parts, opts).addTo(group); }
      } else {
        var pts = dec.path(g);
        for (var k = 0; k < pts.length; k++) {
          L.circleMarker(pts[k], L.extend({i: f}, point)).addTo(group);
        }
      }
    }
    state.counts[key] = Y.f.length;
    group.on("click", function (e) {
      var j = e.layer.options.i, box = el("div", null, "sb-pop"), t;
      el("div", box, "sb-pop-title").textContent = Y.name;
      t = el("table", box);
      for (var c = 0; c < Y.a.length; c++) {
        var v = column(Y.a[c][1], j);
        if (v !== null && v !== "") { tr(t, Y.a[c][0], String(v)); }
      }
      L.popup({maxWidth: 360}).setLatLng(e.latlng).setContent(box).openOn(map);
    });
  }

  // Does the segment a-b (layer points) come within d of the box b?
  function touches(a, c, box, d) {
    var x0 = box[0] - d, y0 = box[1] - d, x1 = box[2] + d, y1 = box[3] + d;
    var t0 = 0, t1 = 1, dx = c.x - a.x, dy = c.y - a.y;
    var p = [-dx, dx, -dy, dy], r = [a.x - x0, x1 - a.x, a.y - y0, y1 - a.y];
    for (var e = 0; e < 4; e++) {
      if (p[e] === 0) { if (r[e] < 0) { return false; } continue; }
      var t = r[e] / p[e];
      if (p[e] < 0) { if (t > t1) { return false; } if (t > t0) { t0 = t; } }
      else { if (t < t0) { return false; } if (t < t1) { t1 = t; } }
    }
    return true;
  }

  // Stråk: each section a band of its width class, round-ended, in one opaque colour,
  // so that the sections of a stråk merge into one band.
  function strak() {
    var S = D.strak, dec = new Decoder(q), group = groups.strak, lines = [];
    // the bands in layer points, projected again when the view's origin moves
    var seen = null, bands = [];
    function project() {
      var key = map.getZoom() + "/" + map.getPixelOrigin().toString();
      if (key === seen) { return bands; }
      seen = key;
      bands = lines.map(function (x) {
        return [x[0], x[1], x[2].map(function (part) {
          return part.map(function (ll) { return map.latLngToLayerPoint(ll); });
        })];
      });
      return bands;
    }
    function clearOf(own) {
      return function (box) {
        var all = project();
        for (var u = 0; u < all.length; u++) {
          if (all[u][0] === own) { continue; }
          for (var v = 0; v < all[u][2].length; v++) {
            var pts = all[u][2][v];
            for (var z = 1; z < pts.length; z++) {
              if (touches(pts[z - 1], pts[z], box, all[u][1] / 2)) { return false; }
            }
          }
        }
        return true;
      };
    }
    for (var f = 0; f < S.g.length; f++) {
      var parts = dec.lines(S.g[f]);
      if (!parts.length) { continue; }
      lines.push([S.k[f], S.w[f], parts]);
      L.polyline(parts, {renderer: renderer, color: S.st.color, opacity: S.st.opacity,
                         weight: S.w[f], lineCap: "round", lineJoin: "round",
                         smoothFactor: 0.5, i: f}).addTo(group);
    }
    state.counts.strak = S.g.length;
    // each stråk's name: [name, [lat, lon, band width, …], its stråk], its points best
    // first; it touches no other stråk's band, so that it names the one it stands by
    for (var k = 0; k < (S.lab || []).length; k++) {
      var at = S.lab[k][1], cands = [];
      for (var m = 0; m + 2 < at.length; m += 3) {
        cands.push([at[m], at[m + 1], at[m + 2] / 2 + 1]);
      }
      items.push({ll: [cands[0][0], cands[0][1]], cands: cands, text: S.lab[k][0], r: 0,
                  tier: 0, pri: 5, late: 1, idx: k, layer: "strak", cls: "sb-strak",
                  mode: "along", clear: clearOf(S.lab[k][2])});
    }
    group.on("click", function (e) {
      var f = e.layer.options.i, s = S.s[S.k[f]], box = el("div", null, "sb-pop"), t;
      el("div", box, "sb-pop-title").textContent = s[0];
      t = el("table", box);
      tr(t, T.strak_section, num(S.f[f], 0) + " " + T.per_day);
      tr(t, T.strak_flow, num(s[1], 0) + " " + T.per_day);
      tr(t, T.strak_length, num(s[2], 1) + " km");
      tr(t, T.strak_places, s[3]);
      L.popup({maxWidth: 360}).setLatLng(e.latlng).setContent(box).openOn(map);
    });
  }

  function links() {
    var K = D.links;
    state.counts.links = 0;
    state.counts.weak = 0;
    for (var j = 0; j < K.o.length; j++) {
      var a = K.a[j], b = K.b[j], m = Math.max(a, b, 1e-9), w = K.w[j];
      // the style the scene gave the link: colour, dashes, opacity, layer ("links", or
      // "weak": the weak links' layer, off at start)
      var st = K.sty[K.k[j]];
      new Taper([lat[K.o[j]], lat[K.d[j]]], {
        renderer: renderer, stroke: false, fill: true, fillColor: st[0], fillOpacity: st[2],
        w0: Math.max(w * a / m, 0.6), w1: Math.max(w * b / m, 0.6), dash: st[1], i: j
      }).addTo(groups[st[3]]);
      state.counts[st[3]]++;
    }
    var click = function (e) {
      var j = e.layer.options.i, A = P.n[K.o[j]], B = P.n[K.d[j]], pop = D.pop.v.pop;
      // named as its sentences name it: the larger place first
      var title = pop[K.o[j]] >= pop[K.d[j]] ? A + " \u2013 " + B : B + " \u2013 " + A;
      var box = sentences(title, D.pop.link, j, function (slot) {
        if (slot === "o") { return A; }
        if (slot === "d") { return B; }
        if (slot === "ab") { return num(K.a[j], 0); }
        if (slot === "ba") { return num(K.b[j], 0); }
        if (slot === "share") { return num(K.s[j] * 100, 1); }
        return "";
      });
      L.popup({maxWidth: 340}).setLatLng(e.latlng).setContent(box).openOn(map);
    };
    groups.links.on("click", click);
    if (groups.weak) { groups.weak.on("click", click); }
  }

  // A popup in sentences: the title, then each of the item's templates filled
  // (strukturbild.render.popups decided which); all of it as text.
  function sentences(title, packed, j, value) {
    var box = el("div", null, "sb-pop"), ids = packed.u[packed.i[j]];
    el("div", box, "sb-pop-title").textContent = title;
    for (var s = 0; s < ids.length; s++) {
      var t = D.pop.tpl[ids[s]];
      el("p", box, t[1] ? "sb-pop-" + t[1] : "").textContent = fill(t[0], value);
    }
    return box;
  }

  function openPlace(j) {
    var V = D.pop.v, C = D.pop.c, dec = D.pop.dec;
    var box = sentences(P.n[j], D.pop.place, j, function (slot) {
      if (slot === "name") { return P.n[j]; }
      if (slot === "role") { return D.pop.rl[P.k[j]]; }
      if (slot === "derived") { return D.pop.rl[V.derived[j]]; }
      if (slot === "top") { return P.n[V.top[j]]; }
      if (Object.prototype.hasOwnProperty.call(C, slot)) { return C[slot]; }
      if (Object.prototype.hasOwnProperty.call(dec, slot)) { return num(V[slot][j], dec[slot]); }
      return String(V[slot][j]);
    });
    L.popup({maxWidth: 340}).setLatLng(lat[j]).setContent(box).openOn(map);
  }

  function places() {
    var j, k;
    // joint designations: one band joining their places, under the circles, one label
    for (k = 0; k < D.groups.length; k++) {
      var G = D.groups[k], pts = [], y = 0, x = 0;
      for (j = 0; j < G[3].length; j++) {
        pts.push(lat[G[3][j]]);
      }
      L.polyline(pts, {renderer: renderer, interactive: false, color: D.roles[G[1]][1],
                       weight: G[2], opacity: D.group_opacity, lineCap: "round",
                       lineJoin: "round"}).addTo(groups.places);
      // the label at the middle of the band
      var half = [pts[Math.floor((pts.length - 1) / 2)], pts[Math.ceil((pts.length - 1) / 2)]];
      y = (half[0][0] + half[1][0]) / 2;
      x = (half[0][1] + half[1][1]) / 2;
      items.push({ll: [y, x], text: G[0], r: G[2] / 2, tier: D.label_tier[G[1]], pri: 0,
                  idx: k, level: D.label_level[G[1]], layer: "places", cls: "sb-group",
                  mode: "centre"});
    }
    for (j = 0; j < n; j++) {
      var role = D.roles[P.k[j]];
      L.circleMarker(lat[j], {renderer: renderer, radius: P.r[j], color: "#fff",
        weight: P.r[j] < 3 ? 0.5 : 0.9, fillColor: role[1], fillOpacity: 0.92, i: j
      }).addTo(groups.places);
    }
    state.counts.places = n;
    groups.places.on("click", function (e) { openPlace(e.layer.options.i); });
    for (k = 0; k < n; k++) {
      // every place is named at its dot, a joint designation's too (the band keeps its
      // own name)
      items.push({ll: lat[k], text: P.n[k], r: P.r[k], tier: D.label_tier[P.k[k]], pri: 1,
                  idx: k, level: D.label_level[P.k[k]], layer: "places", mode: "around",
                  cls: ""});
    }
  }

  for (i = 0; i < order.length; i++) {
    var key = order[i];
    if (key === "links") { links(); }
    else if (key === "weak") { continue; }
    else if (key === "places") { places(); }
    else if (key === "base") { base(); }
    else if (key === "areas") { areas(); }
    else if (key === "regions") { regions(); }
    else if (key === "strak") { strak(); }
    else if (key === "context") { context(); }
    else { ownLayer(parseInt(key.slice(6), 10), key); }
  }

  // the layers and their control (named by the data: escaped, Leaflet takes HTML)
  var layerControl = L.control.layers(null, null, {collapsed: false, position: "topright"});
  var on = {};
  for (i = 0; i < D.overlays.length; i++) { on[D.overlays[i][0]] = D.overlays[i][2]; }
  for (i = 0; i < order.length; i++) {
    if (on[order[i]]) { groups[order[i]].addTo(map); }
  }
  for (i = D.overlays.length - 1; i >= 0; i--) {
    layerControl.addOverlay(groups[D.overlays[i][0]], esc(D.overlays[i][1]));
  }
  layerControl.addTo(map);
  fitLegend();

  items.sort(function (x, y) {
    return (x.late || 0) - (y.late || 0) || x.tier - y.tier || x.pri - y.pri || x.idx - y.idx;
  });
  state.labels = new Labels(items, D.label_zoom_step, function (layer) {
    return groups[layer] ? map.hasLayer(groups[layer]) : false;
  }, state.z0);
  state.labels.addTo(map);

  // A layer switched off hides its legend section (the weak links' is dimmed, with
  // a hint); one switched on goes back under the layers above it.
  var sectionsOf = function (key) {
    return legend.getContainer().querySelectorAll('[data-layer="' + key + '"]');
  };
  function showSection(key, visible) {
    var secs = sectionsOf(key);
    // the weak links' hint only where the other links show (with stråk they may not)
    var hint = key === "weak" && !(groups.links && !map.hasLayer(groups.links));
    for (var s = 0; s < secs.length; s++) {
      if (key === "weak") { L.DomUtil[visible ? "removeClass" : "addClass"](secs[s], "sb-off"); }
      secs[s].style.display = visible || hint ? "" : "none";
    }
  }
  for (i = 0; i < order.length; i++) { showSection(order[i], map.hasLayer(groups[order[i]])); }
  if (groups.weak) {
    var weakSecs = sectionsOf("weak");
    for (i = 0; i < weakSecs.length; i++) {
      weakSecs[i].setAttribute("role", "button");
      weakSecs[i].setAttribute("tabindex", "0");
      L.DomEvent.on(weakSecs[i], "click keydown", function (e) {
        if (e.type === "keydown" && e.key !== "Enter" && e.key !== " ") { return; }
        if (map.hasLayer(groups.weak)) { map.removeLayer(groups.weak); }
        else { map.addLayer(groups.weak); }
      });
    }
  }
  map.on("layeradd layerremove", function (e) {
    for (var j = 0; j < order.length; j++) {
      if (groups[order[j]] !== e.layer) { continue; }
      var added = e.type === "layeradd";
      showSection(order[j], added);
      if (order[j] === "links" && groups.weak) { showSection("weak", map.hasLayer(groups.weak)); }
      if (added) {
        for (var u = j + 1; u < order.length; u++) {
          if (map.hasLayer(groups[order[u]])) { groups[order[u]].bringToFront(); }
        }
      }
      if (state.labels && state.labels._map) { state.labels._layout(); }
    }
  });

  // the place search: type a name, pick it, the map goes there and opens its popup
  control("topleft", "sb-box sb-search", function (div) {
    var input = el("input", div), list = el("div", div, "sb-matches");
    input.type = "search";
    input.placeholder = T.search;
    input.setAttribute("aria-label", T.search);
    var folded = P.n.map(fold), found = [];
    function go(j) {
      list.textContent = "";
      input.value = P.n[j];
      map.setView(lat[j], Math.max(map.getZoom(), state.z0 + 2));
      openPlace(j);
    }
    function search() {
      var s = fold(input.value.trim()), starts = [], within = [];
      list.textContent = "";
      found = [];
      if (!s) { return; }
      for (var j = 0; j < n; j++) {
        var at = folded[j].indexOf(s);
        if (at === 0) { starts.push(j); } else if (at > 0) { within.push(j); }
      }
      found = starts.concat(within).slice(0, 8);
      if (!found.length) { el("div", list, "sb-nomatch").textContent = T.no_match; }
      found.forEach(function (j) {
        var b = el("button", list, "sb-match");
        b.type = "button";
        b.textContent = P.n[j];
        L.DomEvent.on(b, "click", function () { go(j); });
      });
    }
    L.DomEvent.on(input, "input", search);
    L.DomEvent.on(input, "keydown", function (e) {
      if (e.key === "Enter" && found.length) { go(found[0]); }
      if (e.key === "Escape") { input.value = ""; list.textContent = ""; found = []; }
    });
  }).addTo(map);

  // every control is in place and the hidden layers' legend sections are folded away:
  // the legend's height and the names are laid out once more against them
  fitLegend();
  state.labels._layout();
  writeHash(map);
  window.strukturbild = state;
};

// For the script's unit tests (tests/js, run by node --test): a page has no `module`.
if (typeof module !== "undefined" && module.exports) {
  module.exports = {fmt: fmt, Decoder: Decoder, Labels: Labels};
}
})();
