"""Everything the web map inlines into its one HTML file, and the offline check.

Leaflet's script and stylesheet are read at build time from the installed PyPI
package ``django-js-lib-leaflet`` (Leaflet 1.9.4 as plain files, BSD-2-Clause,
no dependencies); nothing of Leaflet is kept in this repository. The images its
stylesheet names (the layer-control icon, the default marker) become ``data:`` URIs,
and the source-map comment is dropped, so the page asks the network for nothing.

:func:`check_offline` fails the build with :class:`OnlineAssetError` when a page
still loads a script or stylesheet over the network.

The map's own script (:data:`RUNTIME_JS`) decodes the compact data the page
carries and draws it with Leaflet's canvas renderer; :data:`MAP_CSS` styles it.
"""

from __future__ import annotations

import base64
import json
import re
from functools import lru_cache
from html.parser import HTMLParser
from importlib import metadata, resources
from typing import Any

from ..errors import AssetError, OnlineAssetError

__all__ = [
    "LEAFLET_PACKAGE",
    "LEAFLET_VERSION",
    "MAP_CSS",
    "RUNTIME_JS",
    "AssetError",
    "OnlineAssetError",
    "check_offline",
    "leaflet_css",
    "leaflet_js",
    "leaflet_licence",
    "script_json",
]

#: The PyPI package that ships Leaflet's files, and the Leaflet version it must hold.
LEAFLET_PACKAGE = "django-js-lib-leaflet"
LEAFLET_VERSION = "1.9.4"
_MODULE = "js_lib_leaflet"
_STATIC = "static/js_lib_leaflet"


def _static_text(name: str) -> str:
    try:
        root = resources.files(_MODULE)
    except ModuleNotFoundError:
        raise AssetError(
            f"the web map inlines Leaflet {LEAFLET_VERSION} from the package "
            f"'{LEAFLET_PACKAGE}', which is not installed: "
            f"pip install '{LEAFLET_PACKAGE}==1.9.4.1'"
        ) from None
    return (root / _STATIC / name).read_text(encoding="utf-8")


def _static_bytes(name: str) -> bytes:
    return (resources.files(_MODULE) / _STATIC / name).read_bytes()


@lru_cache(maxsize=1)
def leaflet_js() -> str:
    """Leaflet's minified script, without its source-map comment.

    Raises
    ------
    AssetError
        The package is missing or holds another Leaflet version.

    Examples
    --------
    >>> 'version="1.9.4"' in leaflet_js() and "sourceMappingURL" not in leaflet_js()
    True
    """
    js = _static_text("leaflet.js")
    if f't.version="{LEAFLET_VERSION}"' not in js:
        raise AssetError(
            f"'{LEAFLET_PACKAGE}' does not hold Leaflet {LEAFLET_VERSION}: "
            f"pip install '{LEAFLET_PACKAGE}==1.9.4.1'"
        )
    js = re.sub(r"\n//# sourceMappingURL=\S*\s*$", "\n", js)
    return js.replace("</script", "<\\/script")


@lru_cache(maxsize=1)
def leaflet_css() -> str:
    """Leaflet's stylesheet with its images inlined as ``data:`` URIs.

    Examples
    --------
    >>> css = leaflet_css()
    >>> "url(data:image/png;base64," in css and "images/" not in css
    True
    """
    css = _static_text("leaflet.css")

    def inline(match: re.Match[str]) -> str:
        data = base64.b64encode(_static_bytes(match.group(1))).decode("ascii")
        return f"url(data:image/png;base64,{data})"

    return re.sub(r"url\((images/[A-Za-z0-9_.-]+\.png)\)", inline, css)


@lru_cache(maxsize=1)
def leaflet_licence() -> str:
    """Leaflet's licence (BSD-2-Clause), carried in every page that inlines it.

    Examples
    --------
    >>> "BSD 2-Clause" in leaflet_licence()
    True
    """
    try:
        dist = metadata.distribution(LEAFLET_PACKAGE)
    except metadata.PackageNotFoundError:  # pragma: no cover - leaflet_js fails first
        raise AssetError(f"'{LEAFLET_PACKAGE}' is not installed") from None
    text = dist.read_text("LICENSE") or "BSD 2-Clause License, (c) Volodymyr Agafonkin"
    return text.replace("--", "- -").strip()


def script_json(obj: Any) -> str:
    """JSON that is safe inside an inline ``<script>``: ``<``, ``>`` and ``&`` escaped.

    Non-ASCII letters stay as they are (the page is UTF-8), so å, ä and ö cost
    two bytes, not six.

    Examples
    --------
    >>> script_json({"n": "</script><b>Å"})
    '{"n":"\\\\u003c/script\\\\u003e\\\\u003cb\\\\u003eÅ"}'
    """
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


_ONLINE = re.compile(r"^\s*(?:https?:)?//", re.IGNORECASE)
_CSS_ONLINE = re.compile(r"""(?:@import\s+|url\(\s*)['"]?\s*((?:https?:)?//[^'")\s;]+)""",
                         re.IGNORECASE)


class _AssetScanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.online: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "script" and _ONLINE.match(a.get("src", "")):
            self.online.append(a["src"])
        elif tag == "link":
            rel = a.get("rel", "").lower().split()
            if {"stylesheet", "preload", "modulepreload", "import"} & set(rel) and \
                    _ONLINE.match(a.get("href", "")):
                self.online.append(a["href"])
        elif tag == "style":
            self._in_style = True
        if "style" in a:
            self.online.extend(_CSS_ONLINE.findall(a["style"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.online.extend(_CSS_ONLINE.findall(data))


def check_offline(page: str) -> None:
    """Raise :class:`OnlineAssetError` if ``page`` loads a script or stylesheet online.

    Looks at ``<script src>``, ``<link rel=stylesheet|preload|modulepreload href>``,
    and ``@import`` / ``url()`` in ``<style>`` and ``style`` attributes. Links in
    text (an attribution's ``<a href>``) and tile URLs in scripts are not assets
    the page needs to open.

    Examples
    --------
    >>> check_offline("<script>var a = 1;</script>")
    >>> check_offline('<link rel="stylesheet" href="https://cdn.example/x.css">')
    Traceback (most recent call last):
    ...
    strukturbild.errors.OnlineAssetError: the page loads 1 script or stylesheet \
from the network, but must open offline: https://cdn.example/x.css
    """
    scanner = _AssetScanner()
    scanner.feed(page)
    scanner.close()
    if scanner.online:
        urls = sorted(set(scanner.online))
        raise OnlineAssetError(
            f"the page loads {len(urls)} script or stylesheet from the network, but must "
            f"open offline: {', '.join(urls)}"
        )


#: The map's own style: legend, title, labels, popups, print.
MAP_CSS = """
.leaflet-container{background:#fff}
html .leaflet-container{font:12px/1.35 'Helvetica Neue',Arial,'Liberation Sans',sans-serif}
.leaflet-control-layers{font-size:13px}
.sb-box{background:rgba(255,255,255,.94);border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.3)}
.sb-title{font-size:18px;font-weight:bold;padding:5px 10px;max-width:60vw}
.sb-legend{padding:8px 10px;max-width:270px;max-height:calc(100vh - 120px);overflow:auto}
.sb-head{font-weight:bold;margin-top:6px}
.sb-section:first-child .sb-head{margin-top:0}
.sb-row{display:flex;align-items:center;gap:6px;margin:2px 0}
.sb-dot{display:inline-block;width:11px;height:11px;border-radius:50%;flex:none;
 border:1px solid rgba(0,0,0,.25)}
.sb-n{color:#666}
.sb-svg{display:block;margin:2px 0}
.sb-svg text{font-size:11px;fill:#222}
.sb-note{margin-top:6px;font-size:11px;color:#333;max-width:250px}
.sb-modelled{color:#a50f15;font-weight:bold}
.sb-source{padding:1px 6px;font-size:11px;color:#333;max-width:70vw}
.sb-pop{font-size:12px}
.sb-pop-title{font-weight:bold;font-size:13px;margin-bottom:3px}
.sb-pop th{text-align:left;padding-right:10px;vertical-align:top;font-weight:normal;color:#555}
.sb-labels{position:absolute;left:0;top:0}
.sb-label{position:absolute;white-space:nowrap;font-size:11px;line-height:13px;color:#222;
 text-shadow:-1px -1px 0 #fff,1px -1px 0 #fff,-1px 1px 0 #fff,1px 1px 0 #fff,0 0 3px #fff;
 visibility:hidden}
.sb-label.sb-t0{font-size:13px;line-height:15px;font-weight:bold;color:#111}
.sb-label.sb-on{visibility:visible}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
@page{size:A4 landscape;margin:8mm}
@media print{.leaflet-control-zoom,.leaflet-control-layers{display:none}
 .sb-legend{max-height:none;overflow:visible}}
"""

#: The map's own script: decodes the compact data and draws it (see web.py).
RUNTIME_JS = r"""
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
  // Printing: the map takes the page (A4 landscape, see MAP_CSS) and is drawn again
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
"""
