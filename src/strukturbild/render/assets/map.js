// strukturbild web map: decodes the compact data of the page and draws it with Leaflet.
// Package data, inlined into every map by strukturbild.render.web (see _assets.py).
(function () {
"use strict";

function el(tag, parent, cls) {
  var e = document.createElement(tag);
  if (cls) { e.className = cls; }
  if (parent) { parent.appendChild(e); }
  return e;
}

// Numbers as in the Python writer: grouped with a no-break space, decimal comma in Swedish.
function fmt(v, dec, lang, unknown) {
  if (v === null || v === undefined || !isFinite(v)) { return unknown; }
  var s = Math.abs(v).toFixed(dec).split(".");
  var i = s[0].replace(/\B(?=(\d{3})+(?!\d))/g, "\u00a0");
  var sign = v < 0 && /[1-9]/.test(s.join("")) ? "-" : "";
  return sign + i + (s.length > 1 ? (lang === "sv" ? "," : ".") + s[1] : "");
}

// Geometry: rings of quantised [lat, lon] steps, one running cursor over the layer.
function decodePolygons(g, q) {
  var y = 0, x = 0, out = [];
  for (var f = 0; f < g.length; f++) {
    var polys = [];
    for (var p = 0; p < g[f].length; p++) {
      var rings = [];
      for (var r = 0; r < g[f][p].length; r++) {
        var c = g[f][p][r], pts = new Array(c.length / 2);
        for (var i = 0; i < c.length; i += 2) {
          y += c[i]; x += c[i + 1];
          pts[i / 2] = [y / q, x / q];
        }
        rings.push(pts);
      }
      polys.push(rings);
    }
    out.push(polys);
  }
  return out;
}

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

// Name labels: highest tiers first, largest place first within a tier; a label is
// shown at the first of four positions around its circle that overlaps no label
// already placed, else hidden. Lower tiers join as the map is zoomed in.
var Labels = L.Layer.extend({
  initialize: function (items, zoomStep) {
    this._items = items;
    this._step = zoomStep;
  },
  onAdd: function (map) {
    var pane = map.getPane("sbLabels") || map.createPane("sbLabels");
    pane.style.zIndex = 450;
    pane.style.pointerEvents = "none";
    pane.className += " leaflet-zoom-hide";
    this._box = el("div", pane, "sb-labels");
    this._made = 0;
    if (this._z0 === undefined) { this._z0 = map.getZoom(); }
    map.on("zoomend", this._layout, this);
    this._layout();
  },
  refit: function () {
    // the first view changed (the page was resized for print): tiers count from it
    this._z0 = this._map.getZoom();
    this._layout();
  },
  onRemove: function (map) {
    map.off("zoomend", this._layout, this);
    L.DomUtil.remove(this._box);
    for (var i = 0; i < this._items.length; i++) { this._items[i].el = null; }
  },
  _make: function (upto) {
    // create and measure the labels of tiers < upto, once
    var fresh = [], it, i;
    for (i = this._made; i < this._items.length && this._items[i].tier < upto; i++) {
      it = this._items[i];
      it.el = el("div", this._box, "sb-label sb-t" + Math.min(it.tier, 1));
      it.el.textContent = it.text;
      fresh.push(it);
    }
    this._made = i;
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
    var items = this._items, made = this._made, placed = [], circles = [], i, k, it, b, ok;
    for (i = 0; i < made; i++) {
      it = items[i];
      it.p = map.latLngToLayerPoint(it.ll);
      // the larger circles of places that may get a label are obstacles too
      if (it.tier < upto && it.r >= 4) { circles.push(it); }
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
      return true;
    }
    for (i = 0; i < made; i++) {
      it = items[i];
      ok = null;
      if (it.tier < upto) {
        var p = it.p, cand = [
          [p.x + it.r + 2, p.y - it.h / 2], [p.x - it.r - 2 - it.w, p.y - it.h / 2],
          [p.x - it.w / 2, p.y - it.r - it.h], [p.x - it.w / 2, p.y + it.r]];
        for (k = 0; k < cand.length && !ok; k++) {
          b = [cand[k][0], cand[k][1], cand[k][0] + it.w, cand[k][1] + it.h];
          if (free(b, it)) { ok = b; }
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
    this.shown = placed.length;
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

window.strukturbildDraw = function (map, groups, D) {
  var T = D.text, lang = D.lang, q = D.q, order = D.order;
  document.documentElement.lang = lang;
  var renderer = L.canvas({tolerance: 3});
  var state = {map: map, groups: groups, counts: {}, labels: null, moved: false,
               fitting: false};
  var tr = function (t, th, td) {
    var row = el("tr", t);
    el("th", row).textContent = th;
    el("td", row).textContent = td;
  };
  var num = function (v, dec) { return fmt(v, dec, lang, T.unknown); };

  // title, zoom, legend, scale and source: controls around the map
  if (D.title) {
    control("topleft", "sb-box sb-title", function (div) { div.textContent = D.title; })
      .addTo(map);
  }
  L.control.zoom({position: "topleft", zoomInTitle: T.zoom_in, zoomOutTitle: T.zoom_out})
    .addTo(map);
  var legend = control("bottomright", "sb-box sb-legend", function (div) {
    div.innerHTML = D.legend;  // built and escaped by the Python writer
  }).addTo(map);
  L.control.scale({position: "bottomleft", imperial: false, maxWidth: 160}).addTo(map);
  control("bottomleft", "sb-box sb-source", function (div) { div.textContent = D.source; })
    .addTo(map);
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
  map.on("zoomstart movestart", function () { state.moved = state.moved || !state.fitting; });
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

  var P = D.places, n = P.n.length, i, lat = new Array(n);
  for (i = 0; i < n; i++) { lat[i] = [P.ll[2 * i] / q, P.ll[2 * i + 1] / q]; }

  function polygons(key) {
    var A = D[key];
    if (!A) { return; }
    var shapes = decodePolygons(A.g, q), style = L.extend({renderer: renderer,
      interactive: false, smoothFactor: 0.5}, A.style);
    for (var f = 0; f < shapes.length; f++) { L.polygon(shapes[f], style).addTo(groups[key]); }
    state.counts[key] = shapes.length;
  }

  function links() {
    var K = D.links;
    if (!K) { return; }
    for (var j = 0; j < K.o.length; j++) {
      var a = K.a[j], b = K.b[j], m = Math.max(a, b, 1e-9), w = K.w[j], c = K.cls[K.c[j]];
      new Taper([lat[K.o[j]], lat[K.d[j]]], {
        renderer: renderer, stroke: false, fill: true, fillColor: c[1], fillOpacity: c[3],
        w0: Math.max(w * a / m, 0.6), w1: Math.max(w * b / m, 0.6), dash: c[2], i: j
      }).addTo(groups.links);
    }
    state.counts.links = K.o.length;
    groups.links.on("click", function (e) {
      var j = e.layer.options.i, A = P.n[K.o[j]], B = P.n[K.d[j]];
      var box = el("div", null, "sb-pop"), t;
      el("div", box, "sb-pop-title").textContent = A + " \u2013 " + B;
      t = el("table", box);
      tr(t, A + " \u2192 " + B, num(K.a[j], 0) + " " + T.per_day);
      tr(t, B + " \u2192 " + A, num(K.b[j], 0) + " " + T.per_day);
      tr(t, T.total, num(K.a[j] + K.b[j], 0) + " " + T.per_day);
      tr(t, T.strength, num(K.s[j], 3));
      tr(t, T.link_class, K.cls[K.c[j]][0]);
      if (K.m[j]) { tr(t, T.source, T.modelled); }
      L.popup({maxWidth: 360}).setLatLng(e.latlng).setContent(box).openOn(map);
    });
  }

  function places() {
    for (var j = 0; j < n; j++) {
      var role = D.roles[P.k[j]];
      L.circleMarker(lat[j], {renderer: renderer, radius: P.r[j], color: "#fff",
        weight: P.r[j] < 3 ? 0.5 : 0.9, fillColor: role[1], fillOpacity: 0.92, i: j
      }).addTo(groups.places);
    }
    state.counts.places = n;
    groups.places.on("click", function (e) {
      var j = e.layer.options.i, box = el("div", null, "sb-pop"), t;
      el("div", box, "sb-pop-title").textContent = P.n[j];
      t = el("table", box);
      tr(t, T.role, D.roles[P.k[j]][0]);
      for (var c = 0; c < P.cols.length; c++) {
        var v = column(P.cols[c][2], j);
        if (v === null || v === "") { continue; }
        tr(t, P.cols[c][0], P.cols[c][1] === "s" ? String(v) : num(v, P.cols[c][1]));
      }
      L.popup({maxWidth: 360}).setLatLng(lat[j]).setContent(box).openOn(map);
    });
    var items = [];
    for (var k = 0; k < n; k++) {
      items.push({ll: lat[k], text: P.n[k], r: P.r[k],
                  tier: D.label_tier[P.k[k]], idx: k});
    }
    items.sort(function (x, y) { return x.tier - y.tier || x.idx - y.idx; });
    state.labels = new Labels(items, D.label_zoom_step);
    groups.places.addLayer(state.labels);
  }

  for (i = 0; i < order.length; i++) {
    if (order[i] === "links") { links(); }
    else if (order[i] === "places") { places(); }
    else { polygons(order[i]); }
  }

  // A layer switched off hides its legend section; one switched on goes back
  // under the layers above it.
  map.on("overlayadd overlayremove", function (e) {
    for (var j = 0; j < order.length; j++) {
      if (groups[order[j]] !== e.layer) { continue; }
      var secs = legend.getContainer().querySelectorAll('[data-layer="' + order[j] + '"]');
      for (var s = 0; s < secs.length; s++) {
        secs[s].style.display = e.type === "overlayadd" ? "" : "none";
      }
      if (e.type === "overlayadd") {
        for (var u = j + 1; u < order.length; u++) {
          if (map.hasLayer(groups[order[u]])) { groups[order[u]].bringToFront(); }
        }
      }
    }
  });
  window.strukturbild = state;
};
})();
