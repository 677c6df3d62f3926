"""The Python side of the map script's unit tests (tests/js, node --test).

The tests run ``python tests/js/python_side.py WHAT`` and compare the script with what
strukturbild's Python code makes, printed here as JSON:

- ``fmt``: numbers as ``render.style.format_number`` writes them (the print maps, the
  legend, the summary), for the script's ``fmt`` to write the same.
- ``geometry``: geometries as ``render.web`` encodes them into the page (a layer of
  polygons and one of lines in SWEREF 99 TM, an own layer of mixed kinds, lines in
  both hemispheres), with the coordinates they stand for, in degrees, from GeoPandas
  (not from the encoder), for the script's ``Decoder`` to find again.

Nothing of it is a test of its own: pytest imports this module (doctests) and finds
none.
"""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace
from typing import Any

#: Values for fmt: whole, grouped, negative, rounding to zero, and halves that binary
#: floating point holds exactly (2.5, 0.125, 12.25), where rounding must go to even.
_VALUES = [0, 1, -1, 7, 12, 999, 1000, 1234, -1234, 12345, 123456, 1234567, 12345678.9,
           1_000_000, -1_000_000, 0.5, 1.5, 2.5, -2.5, 3.5, 0.125, 0.375, 0.25, 0.75,
           12.25, 1.005, 2.675, 0.05, 0.45, 0.049, -0.4, -0.04, -0.0004, 0.0004,
           0.1 + 0.2, 1 / 3, 2 / 3, 99.95, 999.5, 999.9999, 9999.5, 123.456, 0.001,
           0.0005, 0.9995, 41.6, 5e-5, 98765.4321]


def fmt_cases() -> dict[str, Any]:
    """Numbers as the Python writer formats them, in both languages.

    Examples
    --------
    >>> cases = fmt_cases()
    >>> [c for c in cases["cases"] if c[:3] == [1234567, 0, "sv"]]
    [[1234567, 0, 'sv', '1\\xa0234\\xa0567']]
    """
    from strukturbild.render.style import format_number, text

    # a spread of values of every size too: 1/7 of powers of ten, both signs
    values: list[float] = [*_VALUES]
    for e in range(-3, 8):
        values += [10**e / 7, -(10**e) * 3 / 7, 10**e * 0.995]
    cases = [[v, dec, lang, format_number(v, lang, dec)]
             for v in values for dec in (0, 1, 2, 3) for lang in ("sv", "en")]
    return {"unknown": {lang: text("unknown", lang) for lang in ("sv", "en")},
            "missing": {lang: format_number(None, lang) for lang in ("sv", "en")},
            "cases": cases}


def _latlon_rings(geom: Any) -> list[list[list[list[float]]]]:
    """A (multi)polygon's rings as [lat, lon], without their closing point."""
    import shapely

    return [[[[y, x] for x, y in ring.coords[:-1]] for ring in (p.exterior, *p.interiors)]
            for p in shapely.get_parts(geom)]


def _latlon_parts(geom: Any) -> list[list[list[float]]]:
    """A (multi)line's parts, or a (multi)point's points, as [lat, lon]."""
    import shapely

    return [[[y, x] for x, y in part.coords] for part in shapely.get_parts(geom)]


def geometry_cases() -> dict[str, Any]:
    """Layers as the page carries them, and the coordinates they stand for.

    Examples
    --------
    >>> g = geometry_cases()
    >>> g["q"], sorted(g["layers"])
    (10000, ['hemispheres', 'lines', 'own', 'polygons'])
    """
    import geopandas as gpd
    import shapely
    from shapely.geometry import LineString, MultiLineString, MultiPoint, Point, Polygon

    from strukturbild.render import web

    sweref = "EPSG:3006"

    def box(x: float, y: float, w: float, h: float) -> list[tuple[float, float]]:
        return [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]

    # Malmö, Lund, Helsingborg: metres, not on the 1e-4 degree grid
    polygons = [
        Polygon(box(374512.37, 6164213.81, 5230.4, 4177.9),
                [box(375801.12, 6165020.55, 1210.7, 980.3)]),   # with a hole
        shapely.MultiPolygon([Polygon(box(386220.9, 6175333.3, 2999.1, 3012.6)),
                              Polygon([(390101.5, 6180000.25), (392250.75, 6180500.5),
                                       (391000.125, 6182750.875)])]),
        Polygon([(361770.6, 6217200.2), (364010.4, 6216950.9), (365550.5, 6219030.1),
                 (363900.3, 6221470.7), (361240.8, 6220110.4)]),
    ]
    lines = [
        LineString([(374000.5, 6163000.5), (380250.25, 6168800.75), (386400.1, 6175900.2),
                    (389950.9, 6181020.3)]),
        MultiLineString([[(360000.0, 6215000.0), (362500.5, 6216800.5)],
                         [(395000.25, 6190000.75), (399800.5, 6195500.25),
                          (401200.1, 6201100.9)]]),
    ]
    own = gpd.GeoDataFrame(
        {"name": ["area", "road", "stops", "stop"]},
        geometry=[polygons[0], lines[0],
                  MultiPoint([(375000.5, 6164500.5), (377120.25, 6166780.75)]),
                  Point(380000.125, 6170000.875)],
        crs=sweref)
    # both hemispheres, across Greenwich and the equator, in degrees: signs and zero
    hemispheres = [
        LineString([(-70.66931, -33.44889), (-70.60112, -33.41234), (-70.50001, -33.39999)]),
        LineString([(-0.51234, 51.48765), (0.0, 51.5), (0.49871, 51.51234)]),
        LineString([(29.99991, -0.49999), (30.00013, 0.0), (30.1, 0.50004)]),
    ]

    def wgs(geoms: list[Any], crs: str) -> list[Any]:
        return list(gpd.GeoSeries(geoms, crs=crs).to_crs("EPSG:4326"))

    layer = SimpleNamespace(frame=own, name="own",
                            style={"colour": "#333", "width": 2, "fill": "none",
                                   "opacity": 1, "dash": None})
    own_data = web._layer_data(layer, 0.0)
    own_wgs = wgs(list(own.geometry), sweref)
    return {
        "q": web._QUANTUM,
        "layers": {
            "polygons": {"encoded": web._encode_polygons(polygons, sweref),
                         "expected": [_latlon_rings(g) for g in wgs(polygons, sweref)]},
            "lines": {"encoded": web._encode_lines(lines, sweref),
                      "expected": [_latlon_parts(g) for g in wgs(lines, sweref)]},
            "hemispheres": {"encoded": web._encode_lines(hemispheres, "EPSG:4326"),
                            "expected": [_latlon_parts(g) for g in hemispheres]},
            "own": {"encoded": own_data["f"],
                    "expected": [_latlon_rings(g) if "Polygon" in g.geom_type
                                 else _latlon_parts(g) for g in own_wgs]},
        },
    }


def main(argv: list[str]) -> int:
    """Print the cases named on the command line as JSON; 2 for an unknown name."""
    makers = {"fmt": fmt_cases, "geometry": geometry_cases}
    if len(argv) != 1 or argv[0] not in makers:
        print(f"usage: python_side.py {{{'|'.join(makers)}}}", file=sys.stderr)
        return 2
    json.dump(makers[argv[0]](), sys.stdout, ensure_ascii=False, allow_nan=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
