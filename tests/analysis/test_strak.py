"""Stråk: the links' flows routed on a network, added up on its edges, drawn as corridors.

The toy region (tests/conftest.py) is small enough to route by hand: its generated
network is a tree, so every flow's path is known. The example (Skåne) checks the
flows add up over hundreds of links, the stråk's names, the sea crossings, and every
output (web, print, GeoPackage, summary). The infrastructure network is made here
from the example's own place coordinates (railways and roads through the towns), so
nothing of ../shared is copied.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from strukturbild.analysis.network import (
    SPEEDS_KMH,
    WATER_TOLERANCE_M,
    Corridors,
    corridors,
    find_strak,
    generated_network,
    infrastructure_network,
    route_flows,
    strak_width_classes,
)
from strukturbild.cli import main
from strukturbild.config import StrakParams, load_project, project_from_dict
from strukturbild.errors import ConfigError
from strukturbild.export.geopackage import write_geopackage
from strukturbild.image import StructureImage
from strukturbild.pipeline import build
from strukturbild.render._scene import scene_of, strak_labels
from strukturbild.render.static import PT_PER_PX, static_map_bytes
from strukturbild.render.style import STRAK_STYLE, STRAK_TEXT, strak_width
from strukturbild.sources.example import example_project

from .._support.web import page_data
from ..conftest import REPO, TOY_FLOWS

SVG = "{http://www.w3.org/2000/svg}"
EXAMPLE = REPO / "geodata" / "skane"


@pytest.fixture(scope="module")
def example() -> StructureImage:
    return build(example_project())


def _corridors(image: StructureImage, **kwargs: Any) -> Corridors:
    """The image's links routed again, as the pipeline routes them (the routing kept)."""
    land = None
    if image.base is not None:
        land = [*image.areas.geometry, *image.base[image.base["kind"] == "land"].geometry]
    found = corridors(image.places, image.links, roles_order=[r.key for r in image.roles],
                      label_roles=image.map_options.label_roles, land=land,
                      infrastructure=[x.frame for x in image.layers
                                      if x.kind == "infrastructure"], **kwargs)
    assert found is not None
    return found


# --------------------------------------------------------------------------- toy region


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> StructureImage:
    """The toy region with its observed flows, no areas: the network over no land."""
    from ..conftest import TOY_PLACES

    d = tmp_path_factory.mktemp("toy")
    df = pd.DataFrame(TOY_PLACES, columns=["tatortskod", "tatort", "kommun", "bef", "jobs",
                                           "employed", "x", "y"])
    gpd.GeoDataFrame(df.drop(columns=["x", "y"]), geometry=shapely.points(df["x"], df["y"]),
                     crs="EPSG:3006").to_file(d / "places.gpkg", layer="places")
    pd.DataFrame(TOY_FLOWS, columns=["from", "to", "n"]).to_csv(d / "flows.csv", index=False)
    (d / "project.toml").write_text(
        '[project]\nname = "toy"\nlanguage = "en"\n[places]\npath = "places.gpkg"\n'
        '[flows]\npath = "flows.csv"\n[flows.columns]\norigin = "from"\n'
        'destination = "to"\ncount = "n"\n[links]\nmin_flow = 0\n[map]\nbase = false\n'
        '[strak]\nmin_share = 0.001\n', encoding="utf-8")
    return build(load_project(d / "project.toml"))


def _edge_flows(found: Corridors, image: StructureImage) -> dict[frozenset[str], tuple[float,
                                                                                         ...]]:
    """Flow on each edge by its two places' names: (total, towards the first name …)."""
    net, r = found.network, found.routing
    name = {int(net.place_node[i]): str(n) for i, n in enumerate(image.places["name"])}
    out = {}
    for e in range(net.n_edges):
        a, b = name[int(net.u[e])], name[int(net.v[e])]
        out[frozenset((a, b))] = (float(r.total[e]), a, float(r.backward[e]), b,
                                  float(r.forward[e]))
    return out


def test_toy_flows_on_each_edge_by_hand(toy: StructureImage) -> None:
    """The toy's Gabriel graph is a tree (Storby–Förort–Mellanstad on a line, Storby–
    Småort–Byn–Hamlet to the north; Förort–Småort meets Storby at a right angle, so it is
    no Gabriel edge): each pair's flow, both ways, lies on the one path between them.

    Storby–Förort carries Mellanstad ↔ Storby (2 000 + 1 000) and Förort ↔ Storby
    (1 500 + 300): 4 800, 3 500 towards Storby; Förort–Mellanstad carries
    Mellanstad ↔ Storby and Förort → Mellanstad (800): 3 800, 1 800 towards Mellanstad.
    """
    found = _corridors(toy)
    assert found.network.source == "generated" and found.network.n_edges == 5
    flows = _edge_flows(found, toy)
    assert set(flows) == {frozenset(p) for p in (
        ("Storby", "Förort"), ("Förort", "Mellanstad"), ("Storby", "Småort"),
        ("Småort", "Byn"), ("Byn", "Hamlet"))}

    def towards(a: str, b: str) -> float:  # the flow on edge a–b going to b
        _, u, back, v, fwd = flows[frozenset((a, b))]
        return fwd if (u, v) == (a, b) else back

    expected = {("Storby", "Förort"): 4800, ("Förort", "Mellanstad"): 3800,
                ("Storby", "Småort"): 400, ("Småort", "Byn"): 350, ("Byn", "Hamlet"): 20}
    for (a, b), total in expected.items():
        assert flows[frozenset((a, b))][0] == pytest.approx(total), (a, b)
    # merged on the way into Storby, split on the way out of it
    assert towards("Förort", "Storby") == pytest.approx(2000 + 1500)
    assert towards("Storby", "Förort") == pytest.approx(1000 + 300)
    assert towards("Förort", "Mellanstad") == pytest.approx(1000 + 800)
    assert towards("Mellanstad", "Förort") == pytest.approx(2000)
    assert towards("Byn", "Småort") == pytest.approx(300)
    assert towards("Hamlet", "Byn") == pytest.approx(20)
    assert found.links == (6, 0)


def test_toy_strak_split_at_the_largest_place(toy: StructureImage) -> None:
    """Storby (storstad) and Mellanstad (regional kärna) end the stråk; Förort, a
    serviceort under the three labelled roles, is passed but not named."""
    summary = toy.strak_summary()
    names = [s["name"] for s in summary]
    assert names[0] == "Storby–Mellanstad"
    assert summary[0]["flow"] == pytest.approx(4800)
    assert summary[0]["length_km"] == pytest.approx(30.0)
    assert summary[0]["places"] == ["Storby", "Förort", "Mellanstad"]
    # the flow averaged over the length: 20 km of 4 800 and 10 km of 3 800
    assert summary[0]["flow_mean"] == pytest.approx((20 * 4800 + 10 * 3800) / 30, abs=0.1)
    assert names[1:] == ["Storby–Småort"]  # Småort (lokal kärna), Byn, Hamlet: not named
    assert summary[1]["places"] == ["Storby", "Småort", "Byn", "Hamlet"]


def test_flows_add_up_on_the_example(example: StructureImage) -> None:
    """Every link's flow is on each edge of its path: the flow on the edges adds up to
    each link's flow times its path's edges, and at every node what comes in and goes out
    differs by what its place sends and receives."""
    found = _corridors(example)
    r, net = found.routing, found.network
    links = example.links
    total = (links["flow_od"] + links["flow_do"]).to_numpy()
    assert r.routed.all() and found.links == (len(links), 0)
    assert r.total.sum() == pytest.approx(float((total * r.hops).sum()), rel=1e-9)
    # conservation: out - in at each node = sent - received by the place there
    position = pd.Series(np.arange(len(example.places)), index=example.places.index)
    o = net.place_node[position[links["origin"]].to_numpy()]
    d = net.place_node[position[links["destination"]].to_numpy()]
    supply = np.zeros(net.n_nodes)
    np.add.at(supply, o, links["flow_od"].to_numpy() - links["flow_do"].to_numpy())
    np.add.at(supply, d, links["flow_do"].to_numpy() - links["flow_od"].to_numpy())
    net_out = np.zeros(net.n_nodes)
    np.add.at(net_out, net.u, r.forward - r.backward)
    np.add.at(net_out, net.v, r.backward - r.forward)
    assert net_out == pytest.approx(supply, abs=1e-6)
    # the paths, kept, are those the flows went: the same edges, as often
    kept = route_flows(net, position[links["origin"]].to_numpy(),
                       position[links["destination"]].to_numpy(), links["flow_od"],
                       links["flow_do"], keep_paths=True)
    assert kept.paths is not None
    again = np.zeros(net.n_edges)
    for path, flow in zip(kept.paths, total, strict=True):
        np.add.at(again, list(path), flow)
    assert again == pytest.approx(r.total)
    # a path runs from the link's origin to its destination
    for k, path in enumerate(kept.paths[:50]):
        ends = {int(net.u[path[0]]), int(net.v[path[0]])}
        assert int(o[k]) in ends


def test_shortest_paths_are_the_cheapest(example: StructureImage) -> None:
    """A link's path costs what scipy's Dijkstra says, no more: the cost of its edges."""
    from scipy.sparse.csgraph import dijkstra

    from strukturbild.analysis.network import _graph

    found = _corridors(example)
    net = found.network
    links = example.links
    position = pd.Series(np.arange(len(example.places)), index=example.places.index)
    o = position[links["origin"]].to_numpy()
    d = position[links["destination"]].to_numpy()
    # searches that go only as far as a link needs find the same paths as searches
    # over the whole network
    r = route_flows(net, o, d, links["flow_od"], keep_paths=True)
    dist = dijkstra(_graph(net)[0], indices=net.place_node[o])
    assert r.paths is not None
    for k, path in enumerate(r.paths):
        assert float(net.cost[list(path)].sum()) == pytest.approx(dist[k, net.place_node[d[k]]])
        assert r.cost[k] == pytest.approx(dist[k, net.place_node[d[k]]])
    # and on a network of thousands of nodes (random points over the example's land)
    rng = np.random.default_rng(7)
    box = example.areas.total_bounds
    extra = np.column_stack([rng.uniform(box[0], box[2], 3000), rng.uniform(box[1], box[3],
                                                                              3000)])
    xy = np.vstack([net.xy[net.place_node], extra])
    big = generated_network(xy, [*example.places.index, *map(str, range(3000))],
                            land=list(example.areas.geometry), fixed_links=())
    r = route_flows(big, o, d, links["flow_od"], chunk_cells=50_000)
    full = dijkstra(_graph(big)[0], indices=big.place_node[o])
    want = full[np.arange(len(o)), big.place_node[d]]
    assert np.isfinite(want).all() and r.cost == pytest.approx(want)


def test_unconnected_places_are_not_routed() -> None:
    xy = np.array([[0.0, 0.0], [5000.0, 0.0], [100_000.0, 0.0]])
    land = shapely.box(-1000, -1000, 6000, 1000).union(shapely.box(99_000, -1000, 101_000,
                                                                    1000))
    net = generated_network(xy, ["a", "b", "island"], land=land, fixed_links=())
    r = route_flows(net, [0, 0], [1, 2], [10.0, 99.0])
    assert r.hops.tolist() == [1, -1] and r.routed.tolist() == [True, False]
    assert r.total.sum() == pytest.approx(10.0)


# --------------------------------------------------------------------------- the sea


def _oresund() -> tuple[gpd.GeoDataFrame, Any]:
    """Skåne's places with København, Helsingør and Roskilde on Zealand, and the land
    (Skåne's kommuner and Natural Earth's Zealand)."""
    from strukturbild.sources.base import land as natural_earth

    t = pd.read_csv(EXAMPLE / "tatorter_2020.csv", dtype={"tatort_code": str})
    danish = pd.DataFrame({"tatort_code": ["DK1", "DK2", "DK3"],
                           "tatort_name": ["København", "Helsingør", "Roskilde"],
                           "lon": [12.568, 12.614, 12.080], "lat": [55.676, 56.036, 55.642]})
    t = pd.concat([t, danish], ignore_index=True)
    places = gpd.GeoDataFrame(t, geometry=gpd.points_from_xy(t["lon"], t["lat"]),
                              crs=4326).to_crs(3006).set_index("tatort_code")
    kommuner = gpd.read_file(EXAMPLE / "kommuner_skane.geojson").to_crs(3006)
    ne = natural_earth("detail")
    zealand = ne[(ne["kind"] == "land") & (ne["iso_a3"] == "DNK")]
    return places, [*kommuner.geometry, *zealand.geometry]


def test_the_generated_network_crosses_no_sea_but_on_fixed_links() -> None:
    """Skåne and Zealand: Öresund is crossed on Öresundsbron and on the HH ferry only
    (Helsingborg–Helsingør); every other edge lies over land but for a river's width,
    or across a bay of one piece of land."""
    from strukturbild.analysis.network import _land_pieces, _land_union

    places, land = _oresund()
    xy = np.column_stack([places.geometry.x, places.geometry.y])
    net = generated_network(xy, list(places.index), land=land, crs=places.crs)
    assert "Öresundsbron" in net.fixed_links
    assert "HH-leden Helsingborg–Helsingør" in net.fixed_links
    union = _land_union(land)
    piece = _land_pieces(union, net.xy, WATER_TOLERANCE_M)
    fixed = np.isin(net.kind, ["bridge", "tunnel", "ferry"])
    assert sorted(net.kind[fixed]) == ["bridge", "ferry"]
    skane = shapely.union_all(land[:33]).buffer(WATER_TOLERANCE_M)
    sweden = shapely.contains_xy(skane, net.xy[:, 0], net.xy[:, 1])
    for e in np.flatnonzero(~fixed):
        a, b = int(net.u[e]), int(net.v[e])
        wet = shapely.length(shapely.difference(net.edge_line(e), union))
        # over land but for a river's or a sound's width, or across a bay of one piece
        assert wet <= WATER_TOLERANCE_M or piece[a] == piece[b] >= 0, (a, b, wet)
        assert sweden[a] == sweden[b], "an edge over the Öresund"
    for e in np.flatnonzero(fixed):
        assert sweden[net.u[e]] != sweden[net.v[e]]
    name = dict(zip(range(len(places)), places["tatort_name"], strict=True))
    node_name = {int(net.place_node[i]): n for i, n in name.items()}
    pairs = {frozenset((node_name.get(int(u)), node_name.get(int(v))))
             for u, v in zip(net.u, net.v, strict=True)}
    assert frozenset(("Helsingborg", "Helsingør")) not in pairs
    assert frozenset(("Malmö", "København")) not in pairs
    # Malmö to København: over the bridge
    at = {n: i for i, n in name.items()}
    r = route_flows(net, [at["Malmö"], at["Helsingborg"]], [at["København"], at["Helsingør"]],
                    [100.0, 50.0], keep_paths=True)
    assert r.paths is not None and r.routed.all()
    assert "bridge" in {str(net.kind[e]) for e in r.paths[0]}
    assert "ferry" in {str(net.kind[e]) for e in r.paths[1]}  # Helsingborg: the ferry


def test_fixed_links_are_the_model_branchs_table() -> None:
    """One table of bridges, tunnels and ferries (analysis/land.py), not a second one."""
    src = (REPO / "src" / "strukturbild" / "analysis" / "network.py").read_text("utf-8")
    assert "from .land import FIXED_LINKS" in src and "FixedLink(" not in src


# --------------------------------------------------------------------------- stråk


def test_example_strak_are_named_by_their_places(example: StructureImage) -> None:
    summary = example.strak_summary()
    names = [s["name"] for s in summary]
    assert 3 <= len(names) <= StrakParams().max_count
    assert names[0] == "Malmö–Åkarp–Lund"  # the busiest
    assert any(n.startswith("Malmö–") and "Helsingborg" in n for n in names)
    assert any(n.startswith("Lund–Eslöv–Höör") for n in names)
    flows = [s["flow"] for s in summary]
    assert flows == sorted(flows, reverse=True)
    for s in summary:
        assert s["length_km"] > 0 and s["flow"] >= s["flow_mean"] > 0
        for name in s["name"].split("–"):
            assert name in s["places"], (name, s)
    # each stråk's sections join into one line, from its first place to its last
    strak = example.strak
    for sid, grp in strak.groupby("strak_id"):
        merged = shapely.line_merge(shapely.union_all(grp.geometry.to_numpy()))
        assert merged.geom_type == "LineString", sid
        assert grp["flow"].between(grp["class_min"], grp["class_max"].fillna(np.inf)).all()


def test_find_strak_thresholds_and_count() -> None:
    """A line of five places, flows from the middle: the threshold cuts the ends off, and
    max_count keeps the busiest."""
    xy = np.column_stack([np.arange(5) * 5000.0, np.zeros(5)])
    net = generated_network(xy, list("abcde"))
    r = route_flows(net, [2, 2, 2, 2], [0, 1, 3, 4], [100.0, 300, 600, 100])
    kw = {"names": list("ABCDE"), "labelled": [True] * 5, "split": [False] * 5}
    assert [s.name for s in find_strak(net, r, **kw, min_share=0.01)] == ["A–B–C–D–E"]
    # edge flows 100, 400, 700, 100: from 350 up, B–C and C–D
    short = find_strak(net, r, **kw, min_share=0.5)
    assert [(s.name, s.flow, s.length_m) for s in short] == [("B–C–D", 700.0, 10_000.0)]
    split = find_strak(net, r, **{**kw, "split": [False, False, True, False, False]},
                       min_share=0.01, max_count=1)
    assert [s.name for s in split] == ["C–D–E"]  # the busier of the two halves


def test_width_classes() -> None:
    assert strak_width_classes(1593, 39830) == (1000.0, 5000.0, 20000.0)
    assert strak_width_classes(6000, 60000) == (5000.0, 10000.0, 20000.0, 50000.0)
    assert strak_width_classes(0, 10) == ()
    # the classes read apart: each about twice as wide as the one below or more (Skåne's
    # three: 3, 7 and 13 px on the web at the region's zoom)
    for n in (2, 3, 4):
        widths = [strak_width(c, n) for c in range(1, n + 1)]
        assert all(b >= 1.5 * a for a, b in itertools.pairwise(widths)), widths
        assert widths[-1] >= 2.5 * widths[0] and 2.5 <= widths[0] <= 3.5
    assert [strak_width(c, 3) for c in (1, 2, 3)] == [3.0, 7.0, 13.0]


# --------------------------------------------------------------------------- infrastructure

#: Railways and main roads through the example's towns, by name: Södra stambanan,
#: Västkustbanan, Skånebanan, Ystadbanan, Trelleborgsbanan; E6, E22, E65, väg 13 and 108.
RAIL = (("Malmö", "Åkarp", "Hjärup", "Lund", "Stångby", "Eslöv", "Höör", "Hässleholm", "Osby"),
        ("Lund", "Kävlinge", "Landskrona", "Glumslöv", "Helsingborg", "Ängelholm", "Båstad"),
        ("Helsingborg", "Åstorp", "Klippan", "Perstorp", "Hässleholm", "Kristianstad"),
        ("Malmö", "Svedala", "Skurup", "Ystad", "Simrishamn"), ("Malmö", "Trelleborg"),
        ("Kristianstad", "Bromölla"))
ROADS = (("motorway", ("Trelleborg", "Vellinge", "Malmö", "Lund", "Kävlinge", "Landskrona",
                       "Helsingborg", "Ängelholm", "Båstad")),
         ("motorway", ("Lund", "Hörby", "Kristianstad", "Bromölla")),
         ("motorway", ("Malmö", "Svedala", "Skurup", "Ystad")),
         ("primary", ("Höör", "Hörby", "Sjöbo", "Ystad")),
         ("primary", ("Kävlinge", "Lund", "Staffanstorp", "Svedala", "Trelleborg")))


def infrastructure_project(folder: Path) -> Path:
    """The example with a layer of kind infrastructure, OSM's columns ``railway`` and
    ``highway``, drawn through its towns."""
    t = pd.read_csv(EXAMPLE / "tatorter_2020.csv")
    at = dict(zip(t["tatort_name"], gpd.points_from_xy(t["lon"], t["lat"]), strict=True))
    rows = [{"name": f"bana {k}", "railway": "rail", "highway": None,
             "geometry": shapely.LineString([at[n] for n in seq])} for k, seq in enumerate(RAIL)]
    rows += [{"name": f"väg {k}", "railway": None, "highway": cls,
              "geometry": shapely.LineString([at[n] for n in seq])}
             for k, (cls, seq) in enumerate(ROADS)]
    gpd.GeoDataFrame(rows, crs=4326).to_file(folder / "infra.gpkg", layer="infra")
    return example_copy(folder, '\n[[layers]]\nname = "Järnvägar och vägar"\n'
                        'path = "infra.gpkg"\nlayer = "infra"\nkind = "infrastructure"\n')


def example_copy(folder: Path, more: str = "") -> Path:
    """The example's project in ``folder`` (its files copied: they are the
    repository's), with ``more`` added to its project file."""
    import shutil

    for path in EXAMPLE.iterdir():
        if path.is_file():
            shutil.copyfile(path, folder / path.name)
    project = folder / "project.toml"
    project.write_text(project.read_text(encoding="utf-8") + more, encoding="utf-8")
    return project


@pytest.fixture(scope="module")
def on_rails(tmp_path_factory: pytest.TempPathFactory) -> StructureImage:
    return build(load_project(infrastructure_project(tmp_path_factory.mktemp("infra"))))


def test_infrastructure_layers_are_the_network(on_rails: StructureImage) -> None:
    info = on_rails.provenance["strak"]
    assert info["network"] == "infrastructure"
    assert {"rail", "motorway", "primary", "access"} <= set(info["edge_kinds"])
    assert info["links_not_routed"] == 0
    names = [s["name"] for s in on_rails.strak_summary()]
    assert names[0] == "Malmö–Åkarp–Lund"
    assert "Lund–Eslöv–Höör" in names  # Södra stambanan
    assert any(n.startswith("Helsingborg–") and n.endswith("–Lund") and "Landskrona" in n
               for n in names)  # Västkustbanan
    assert (on_rails.strak["network"] == "infrastructure").all()
    # the stråk follow the lines: every section lies on them (or on a place's access)
    lines = shapely.union_all(on_rails.layers[0].frame.geometry.to_numpy())
    for geom in on_rails.strak.geometry:
        assert shapely.length(shapely.difference(geom, lines.buffer(5.0))) < 1.0


def test_rail_and_motorways_are_faster(tmp_path: Path) -> None:
    """Two parallel ways between two towns, 20 km: a railway and a minor road; the
    flow takes the railway. Without attributes both are the default speed."""
    two = gpd.GeoDataFrame({"railway": ["rail", None], "highway": [None, "residential"]},
                           geometry=[shapely.LineString([(0, 0), (20_000, 0)]),
                                     shapely.LineString([(0, 0), (0, 2000), (20_000, 2000),
                                                         (20_000, 0)])], crs=3006)
    xy = np.array([[0.0, -100.0], [20_000.0, -100.0]])
    net = infrastructure_network([two], xy, ["a", "b"], fixed_links=())
    r = route_flows(net, [0], [1], [100.0])
    used = set(net.kind[r.total > 0].tolist())
    assert used == {"rail", "access"}
    assert r.cost[0] == pytest.approx(20 * 60 / SPEEDS_KMH["rail"] +
                                      2 * 0.1 * 60 / SPEEDS_KMH["access"])
    ferry = gpd.GeoDataFrame({"route": ["ferry"]}, geometry=[shapely.LineString(
        [(0, 0), (20_000, 0)])], crs=3006)
    slow = infrastructure_network([ferry], xy, ["a", "b"], fixed_links=())
    assert "ferry" in set(slow.kind.tolist())


def test_network_option(tmp_path: Path) -> None:
    project = load_project(infrastructure_project(tmp_path))
    from dataclasses import replace

    generated = build(replace(project, strak=StrakParams(network="generated")))
    assert generated.provenance["strak"]["network"] == "generated"
    none = build(replace(project, strak=StrakParams(network="none")))
    assert none.strak is None and "strak" not in none.summary()
    with pytest.raises(ConfigError, match="needs \\[\\[layers\\]\\] of kind"):
        build(replace(example_project(), strak=StrakParams(network="infrastructure")))


@pytest.mark.parametrize(("table", "message"), [
    ("min_share = 0", "strak.min_share"), ("max_count = 0", "strak.max_count"),
    ('network = "osm"', "strak.network"), ("colour = 1", "strak.colour"),
    ("min_flow = -5", "strak.min_flow")])
def test_bad_strak_options_exit_2(tmp_path: Path, table: str, message: str,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    project = example_copy(tmp_path, f"\n[strak]\n{table}\n")
    assert main(["validate", str(project)]) == 2
    err = capsys.readouterr().err
    assert message in err and "project.toml" in err and "Traceback" not in err


def test_infrastructure_without_lines_exits_2(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    project = example_copy(tmp_path, '\n[strak]\nnetwork = "infrastructure"\n')
    assert main(["build", str(project), "--out", str(tmp_path / "out"),
                 "--format", "json", "-q"]) == 2
    err = capsys.readouterr().err
    assert 'network = "infrastructure" needs [[layers]] of kind "infrastructure"' in err
    assert "project.toml" in err and not (tmp_path / "out" / "skane.json").exists()


# --------------------------------------------------------------------------- outputs


def test_web_map_draws_the_strak_and_hides_the_spokes(example: StructureImage) -> None:
    data = page_data(example.render("html").decode("utf-8"))
    overlays = {k: on for k, _, on in data["overlays"]}
    assert overlays["strak"] is True and overlays["links"] is False
    assert overlays["weak"] is False
    order = data["order"]
    assert order.index("areas") < order.index("strak") < order.index("links") < \
        order.index("places")
    s = data["strak"]
    assert len(s["g"]) == len(example.strak) == len(s["w"]) == len(s["f"])
    assert [a[0] for a in s["s"]] == [x["name"] for x in example.strak_summary()]
    assert s["st"] == {"color": STRAK_STYLE[0], "opacity": STRAK_STYLE[1]}
    # the links are still all there, one click away
    assert len(data["links"]["o"]) == len(example.links)
    shown = page_data(example.render("html", spokes=True).decode("utf-8"))
    assert {k: on for k, _, on in shown["overlays"]}["links"] is True
    assert 'data-layer="strak"' in data["legend"] and "Pendlingsstråk" in data["legend"]


def test_print_legend_rows_are_the_strak_drawn(example: StructureImage) -> None:
    """Each width class drawn has its legend row, in the same colour and width, and no
    other; the spokes are left out unless asked for."""
    root = ET.fromstring(static_map_bytes(example, "svg", example.options(dpi=50)))
    ids = {el.get("id", ""): el for el in root.iter() if el.get("id")}
    drawn = {i.removeprefix("strak-") for i in ids if i.startswith("strak-")}
    rows = {i.removeprefix("legend-strak-") for i in ids if i.startswith("legend-strak-")}
    classes = {str(c) for c in example.strak["width_class"]}
    assert drawn == rows == classes and len(classes) >= 2
    n = int(example.strak["width_class"].max())

    def stroke(el: ET.Element) -> tuple[str, float]:
        for path in el.iter(f"{SVG}path"):
            style = {k.strip(): v.strip() for k, v in (
                p.split(":", 1) for p in path.get("style", "").split(";") if ":" in p)}
            if "stroke" in style:
                return style["stroke"], float(style["stroke-width"])
        raise AssertionError(f"no stroke in {el.get('id')}")

    for c in classes:
        colour, width = stroke(ids[f"strak-{c}"])
        row_colour, row_width = stroke(ids[f"legend-strak-{c}"])
        assert colour == row_colour == STRAK_STYLE[0]
        assert width == pytest.approx(row_width)
        assert width == pytest.approx(strak_width(int(c), n) * PT_PER_PX)
    assert not any(i.startswith(("links-", "legend-link-")) for i in ids)
    both = ET.fromstring(static_map_bytes(example, "svg", example.options(dpi=50,
                                                                           spokes=True)))
    both_ids = {el.get("id", "") for el in both.iter()}
    assert any(i.startswith("links-") for i in both_ids)
    assert any(i.startswith("strak-") for i in both_ids)


def test_strak_names_stand_between_their_towns(example: StructureImage) -> None:
    """Where a map may name a stråk: points on it, farthest from the places first;
    Kristianstad–Hässleholm is left to the joint designation's band of that name."""
    scene = scene_of(example, example.map_options, "web")
    xy = np.column_stack([example.places.geometry.x, example.places.geometry.y])
    widths = {c.width_class: c.width for c in scene.strak_classes}
    labels = strak_labels(scene.strak, xy, widths, skip=[g.name for g in scene.groups])
    names = example.strak.drop_duplicates("strak_id").set_index("strak_id")["name"]
    assert [lab.strak_id for lab in labels] == [i for i in sorted(names.index)
                                                if names[i] != "Kristianstad–Hässleholm"]
    for lab in labels:
        line = shapely.union_all(example.strak[example.strak["strak_id"] == lab.strak_id]
                                 .geometry.to_numpy())
        pts = np.array([(x, y) for x, y, _ in lab.points])
        assert 1 <= len(pts) <= 6 and lab.name == names[lab.strak_id]
        assert shapely.distance(shapely.points(pts), line).max() < 1.0  # on the stråk
        near = np.sqrt(((pts[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2)).min(axis=1)
        # the first is (about) the farthest from any place, none is at a place
        assert near[0] >= 0.9 * near.max() - 1.0 and near.min() > 500
        assert {w for _, _, w in lab.points} <= set(widths.values())


def _print_names(image: StructureImage, paper: str) -> dict[str, Any]:
    """The stråk's names on a print map of ``image``, checked: each on its stråk, italic
    in the names' colour, touching no other stråk's band and no other name."""
    from matplotlib.text import Annotation

    from strukturbild.render import static

    with static._rc_context():
        scene = scene_of(image, image.options(dpi=100), "print")
        fig = static._figure(scene, size_mm=static.PAPER_MM[paper])
        fig.canvas.draw()
    renderer, ax = fig.canvas.get_renderer(), fig.axes[0]
    texts = [a for a in fig.findobj(Annotation) if a.get_gid()]
    named = {a.get_text(): a for a in texts if a.get_gid().startswith("corridor-label-")}
    assert set(named) <= set(image.strak["name"])
    widths = {c.width_class: c.width for c in scene.strak_classes}
    for name, ann in named.items():
        line = shapely.union_all(image.strak[image.strak["name"] == name]
                                 .geometry.to_numpy())
        assert shapely.distance(shapely.Point(ann.xy), line) < 1.0, name
        assert ann.get_color() == STRAK_TEXT and ann.get_style() == "italic"
        # no other stråk's band (as wide as drawn) under the name
        e = ann.get_window_extent(renderer)
        for other, cls, geom in zip(image.strak["name"], image.strak["width_class"],
                                    image.strak.geometry, strict=True):
            if other != name:
                drawn = shapely.LineString(ax.transData.transform(np.asarray(geom.coords)))
                half = widths[int(cls)] * PT_PER_PX / 2 * fig.dpi / 72
                assert shapely.box(e.x0, e.y0, e.x1, e.y1).distance(drawn) > half, \
                    (name, other)
    boxes = [a.get_window_extent(renderer) for a in texts
             if a.get_gid().startswith(("label-", "group-label-", "corridor-label-",
                                        "context-label-"))]
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b)
    return named


def test_print_names_the_strak_on_their_bands(example: StructureImage) -> None:
    """On paper the stråk are named where the places' names leave room, each name on its
    stråk's band or beside it, clear of every other name and every other stråk."""
    named = _print_names(example, "A4-landscape")
    assert "Kristianstad–Hässleholm" not in named and len(named) >= 8


def test_print_names_sormlands_mesh_of_strak() -> None:
    """Sörmland's stråk cross and meet all over the län: a name never lies on another
    stråk's band, on A4 and A3 (A3 names more)."""
    from .._support.images import sormland_image

    image = sormland_image()
    a4, a3 = _print_names(image, "A4-landscape"), _print_names(image, "A3-landscape")
    assert len(a4) >= 6 and len(a3) >= len(a4)


def test_scene_legend_is_made_from_the_classes_drawn(example: StructureImage) -> None:
    scene = scene_of(example, example.map_options, "print")
    (section,) = [s for s in scene.legend if s.layer == "strak"]
    bands = [r for r in section.rows if r.kind == "band"]
    assert [r.key for r in bands] == [f"strak-{c.width_class}"
                                      for c in reversed(scene.strak_classes)]
    assert bands[0].label.endswith("och fler")
    assert [r.size for r in bands] == sorted((r.size for r in bands), reverse=True)
    notes = " ".join(r.label for r in section.rows if r.kind == "note")
    assert "nät av orterna över land" in notes and "modellerade" in notes
    assert [x.key for x in scene.layers] == ["base", "areas", "context", "strak", "places"]


def test_geopackage_layer_and_qgis_style(example: StructureImage, tmp_path: Path) -> None:
    out = write_geopackage(example, tmp_path / "s.gpkg")
    layer = gpd.read_file(out, layer="strak")
    assert len(layer) == len(example.strak)
    assert list(layer.columns[:5]) == ["strak_id", "name", "section", "flow", "width_class"]
    assert set(layer.geom_type) == {"LineString"} and layer.crs.to_epsg() == 3006
    assert layer["modelled"].all()
    with sqlite3.connect(out) as con:
        (qml,) = con.execute("SELECT styleQML FROM layer_styles WHERE f_table_name = "
                             "'strak'").fetchone()
        (ident,) = con.execute("SELECT identifier FROM gpkg_contents WHERE table_name = "
                               "'strak'").fetchone()
    assert ident == "Strukturbild för Skåne: Pendlingsstråk"
    root = ET.fromstring(qml.split("\n", 1)[1])
    renderer = root.find("renderer-v2")
    assert renderer is not None and renderer.get("type") == "graduatedSymbol"
    assert renderer.get("attr") == "flow"
    scene = scene_of(example, example.map_options, "gpkg")
    ranges = [(float(r.get("lower", "")), r.get("label")) for r in root.iter("range")]
    assert ranges == [(c.low, c.label) for c in scene.strak_classes]
    widths = [o.get("value") for o in root.iter("Option") if o.get("name") == "line_width"]
    assert [float(w) for w in widths[:len(ranges)]] == [c.width for c in scene.strak_classes]
    # every section's flow falls in the range of its class
    lowers = [c.low for c in scene.strak_classes]
    for flow, cls in zip(layer["flow"], layer["width_class"], strict=True):
        assert lowers[int(cls) - 1] <= flow


def test_summary_and_provenance(example: StructureImage) -> None:
    summary = json.loads(example.render("json"))
    strak = summary["strak"]
    assert [s["id"] for s in strak] == list(range(1, len(strak) + 1))
    assert set(strak[0]) == {"id", "name", "flow", "flow_mean", "length_km", "places"}
    info = summary["provenance"]["strak"]
    assert info["network"] == "generated" and info["links_routed"] == len(example.links)
    assert info["edges"] >= info["nodes"] - 1
    assert summary["provenance"]["parameters"]["strak"] == {
        "network": "auto", "min_share": 0.04, "min_flow": 0.0, "max_count": 12,
        "centres": True}
    # the busiest edge is the first stråk's largest flow; the threshold 4 % of it
    assert info["threshold"] == pytest.approx(0.04 * strak[0]["flow"], abs=0.1)


def test_strak_built_twice_are_the_same(example: StructureImage) -> None:
    again = build(example_project())
    assert again.strak is not None and example.strak is not None
    pd.testing.assert_frame_equal(again.strak.drop(columns="geometry"),
                                  example.strak.drop(columns="geometry"))
    assert again.strak.geometry.geom_equals_exact(example.strak.geometry, 0).all()


def test_project_file_strak_table() -> None:
    p = project_from_dict({"project": {"name": "t"}, "strak": {
        "network": "generated", "min_share": 0.1, "max_count": 5}}, base_dir=Path("."))
    assert p.strak == StrakParams(network="generated", min_share=0.1, max_count=5)
    assert load_project(EXAMPLE / "project.toml").strak == StrakParams()


# --------------------------------------------------------------------------- in a browser


@pytest.mark.browser
def test_browser_shows_the_strak_and_the_spokes_are_off(example: StructureImage,
                                                        tmp_path: Path) -> None:
    """In headless Chromium: the stråk layer is drawn, with its legend, under the places;
    the links (spokes) are in the layer control, off, their legend hidden until they are
    switched on; a click on a stråk names it."""
    from .._support.browser import (
        PageLog,
        assert_clean,
        browser,
        chromium_missing,
        click_at,
        close,
        drawn,
        open_map,
        pixel,
        settle,
    )

    if chromium_missing():
        pytest.skip(str(chromium_missing()))
    path = tmp_path / "strak.html"
    path.write_bytes(example.render("html"))
    # the middle of the longest straight piece of any stråk: away from the places
    best = (0.0, None, "", "")
    for geom, name, places in zip(example.strak.geometry, example.strak["name"],
                                  example.strak["place_names"], strict=True):
        xy = shapely.get_coordinates(geom)
        for a, b in itertools.pairwise(xy):
            if float(np.hypot(*(b - a))) > best[0]:
                best = (float(np.hypot(*(b - a))), (a + b) / 2, str(name), str(places))
    middle = gpd.GeoSeries([shapely.Point(best[1])], crs=example.strak.crs).to_crs(4326)
    lat, lon = float(middle.y.iloc[0]), float(middle.x.iloc[0])
    with browser(tmp_path / "profile") as context:
        log = PageLog()
        page = open_map(context, path, log)
        page.screenshot(path=str(tmp_path / "strak.png"))
        counts = drawn(page)
        assert counts["strak"] == len(example.strak) and counts["links"] == 0
        assert page.get_by_label("Pendlingsstråk").is_checked()
        assert not page.get_by_label("Funktionella samband").is_checked()
        strak_legend = page.locator('.sb-legend [data-layer="strak"]')
        links_legend = page.locator('.sb-legend [data-layer="links"]')
        assert strak_legend.is_visible() and links_legend.is_hidden()
        assert "20 000 och fler" in strak_legend.inner_text().replace("\u00a0", " ")
        # each class drawn as wide as its legend row, widest first in the legend
        weights = page.evaluate("() => window.strukturbild.groups.strak.getLayers()"
                                ".map(l => l.options.weight)")
        rows = page.evaluate("() => [...document.querySelectorAll('.sb-legend "
                             "[data-key^=\"strak-\"]')].map(r => [r.dataset.key, "
                             "parseFloat(r.querySelector('line').getAttribute('stroke-width'))])")
        assert [k for k, _ in rows] == ["strak-3", "strak-2", "strak-1"]
        assert dict(rows) == {"strak-3": 13.0, "strak-2": 7.0, "strak-1": 3.0}
        counts = example.strak["width_class"].value_counts()
        assert {w: weights.count(w) for w in set(weights)} == {
            dict(rows)[f"strak-{c}"]: int(n) for c, n in counts.items()}
        # the band is drawn in its colour where it runs (away from the places' circles)
        assert close(pixel(page, (lat, lon), tmp_path / "band.png"), STRAK_STYLE[0], 10)
        click_at(page, f"L.latLng({lat}, {lon})")
        popup = page.locator(".leaflet-popup-content")
        assert popup.locator(".sb-pop-title").inner_text() == best[2]
        assert best[3].replace("; ", ", ") in popup.inner_text()
        assert "pendlare" in popup.inner_text() and "km" in popup.inner_text()
        # the spokes, one click away
        page.evaluate("() => { window.strukturbild.map.closePopup(); }")
        page.wait_for_timeout(250)
        page.get_by_label("Pendlingsstråk").uncheck()
        settle(page)
        assert drawn(page)["strak"] == 0 and strak_legend.is_hidden()
        page.get_by_label("Funktionella samband").check()
        settle(page)
        assert drawn(page)["links"] > 0 and links_legend.is_visible()
        page.screenshot(path=str(tmp_path / "spokes.png"))
        assert_clean(log)


@pytest.mark.browser
def test_browser_names_the_strak_on_their_bands(example: StructureImage,
                                               tmp_path: Path) -> None:
    """At 1400x900 the web map names most stråk, each on its band or beside it, in the
    room the places' names leave, never under the legend or another control; the names
    go with their layer."""
    from .._support.browser import (
        PageLog,
        assert_clean,
        browser,
        chromium_missing,
        labels_clear_of_the_controls,
        open_map,
        overlaps,
        settle,
    )

    if chromium_missing():
        pytest.skip(str(chromium_missing()))
    path = tmp_path / "names.html"
    path.write_bytes(example.render("html"))
    with browser(tmp_path / "profile") as context:
        log = PageLog()
        page = open_map(context, path, log, viewport=(1400, 900))
        page.screenshot(path=str(tmp_path / "names.png"))
        shown = page.evaluate("""() => [...document.querySelectorAll('.sb-label.sb-on')]
            .map(e => { const r = e.getBoundingClientRect();
                        return [r.left, r.top, r.right, r.bottom, e.textContent,
                                e.classList.contains('sb-strak')]; })""")
        names = {b[4]: b for b in shown if b[5]}
        stråk = set(example.strak["name"]) - {"Kristianstad–Hässleholm"}
        assert set(names) <= stråk and len(names) >= 8
        # italic, in the dark shade of the band's colour
        assert page.evaluate("getComputedStyle(document.querySelector('.sb-strak')).color") \
            == "rgb({}, {}, {})".format(*(int(STRAK_TEXT[i:i + 2], 16) for i in (1, 3, 5)))
        # each stråk's bands in the page's pixels, as drawn
        bands: dict[str, list[tuple[Any, float]]] = {}
        widths = {c.width_class: c.width for c in
                  scene_of(example, example.map_options, "web").strak_classes}
        for name, cls, g in zip(example.strak["name"], example.strak["width_class"],
                                example.strak.to_crs(4326).geometry, strict=True):
            for part in getattr(g, "geoms", [g]):
                pts = page.evaluate(
                    "ll => ll.map(p => { const q = window.strukturbild.map"
                    ".latLngToContainerPoint(p); return [q.x, q.y]; })",
                    [[y, x] for x, y in shapely.get_coordinates(part)])
                bands.setdefault(str(name), []).append((shapely.LineString(pts),
                                                        widths[int(cls)] / 2))
        for name, box in names.items():
            # the name touches its band or stands by it, and touches no other stråk's
            rect = shapely.box(*box[:4])
            assert min(rect.distance(line) for line, _ in bands[name]) <= 13 / 2 + 3, name
            for other, lines in bands.items():
                if other != name:
                    assert all(rect.distance(line) > half for line, half in lines), \
                        (name, other)
            for other in shown:
                if other is not box:
                    assert not overlaps(box, other), (name, other[4])
        labels_clear_of_the_controls(page)
        page.get_by_label("Pendlingsstråk").uncheck()
        settle(page)
        assert page.locator(".sb-label.sb-strak.sb-on").count() == 0
        assert_clean(log)


def test_appended_strak_keep_their_ids_apart(example: StructureImage, tmp_path: Path) -> None:
    """Appending another image's stråk to a GeoPackage continues the stråk ids."""
    from .._support.images import split_image

    west = {"1280", "1281", "1283"}
    first = split_image(example, west, "väst")
    second = split_image(example, set(example.places["area_id"]) - west, "öst")
    target = write_geopackage(first, tmp_path / "s.gpkg")
    write_geopackage(second, target, mode="append")
    layer = gpd.read_file(target, layer="strak")
    n = int(example.strak["strak_id"].max())
    assert len(layer) == 2 * len(example.strak)
    assert sorted(set(layer["strak_id"])) == list(range(1, 2 * n + 1))


def test_noding_falls_back_to_snap_rounding(on_rails: StructureImage,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Where GEOS's noding does not converge (it happened on OpenStreetMap's ways), the
    lines are noded by a union on a 1 cm grid: the same network, the same paths."""
    layer = on_rails.layers[0].frame
    xy = np.column_stack([on_rails.places.geometry.x, on_rails.places.geometry.y])
    ids = list(on_rails.places.index)
    noded = infrastructure_network([layer], xy, ids, fixed_links=())

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise shapely.errors.GEOSException("TopologyException: Iterated noding failed to "
                                           "converge after 8 iterations")

    monkeypatch.setattr(shapely, "node", fail)
    snapped = infrastructure_network([layer], xy, ids, fixed_links=())
    assert snapped.n_edges == noded.n_edges
    assert sorted(snapped.kind.tolist()) == sorted(noded.kind.tolist())
    o, d = np.arange(0, 60, 3), np.arange(1, 61, 3)
    a = route_flows(noded, o, d, np.ones(len(o)))
    b = route_flows(snapped, o, d, np.ones(len(o)))
    assert b.cost == pytest.approx(a.cost, abs=1e-3)


def test_every_main_centre_gets_a_strak() -> None:
    """Seven places on a line, 5 km apart: a city C at x=0 with heavy flows to its two
    neighbours, and a small centre S at x=30 km whose flows to its neighbours are below
    the city's threshold. Without ``centres`` only the city's stråk are drawn; with it,
    S gets the stråk of its busiest edge, grown along edges with at least a quarter of
    that edge's flow (S–T: 40, T–U: 20 ≥ 10; S–R: 30 ≥ half of 40, its second stråk)."""
    xy = np.column_stack([np.arange(7) * 5000.0, np.zeros(7)])
    names = ["C", "a", "b", "R", "S", "T", "U"]
    net = generated_network(xy, names)
    # flows: C–a 1000, C–b 600 (through a), S–T 40, S–R 30, U–T 20 (T–U)
    r = route_flows(net, [0, 0, 4, 4, 6], [1, 2, 5, 3, 5], [1000.0, 600, 40, 30, 20])
    split = [True, False, False, False, True, False, False]
    kw: dict[str, Any] = dict(names=names, labelled=[True] * 7, split=split,
                              min_share=0.1, max_count=5)
    assert [s.name for s in find_strak(net, r, **kw)] == ["C–a–b"]
    got = find_strak(net, r, **kw, centres=True)
    assert [(s.name, s.flow) for s in got] == [("C–a–b", 1600.0), ("S–T–U", 40.0),
                                               ("S–R", 30.0)]
    # a kept stråk that reaches the centre: nothing added
    assert [s.name for s in find_strak(net, r, **(kw | {"min_share": 0.01}),
                                       centres=True)] == \
        [s.name for s in find_strak(net, r, **(kw | {"min_share": 0.01}))]


def test_vastra_gotaland_strak_reach_every_regional_karna() -> None:
    """Västra Götaland (places ≥ 2 000 with SCB's jobs): Göteborg's stråk take the
    twelve busiest; with ``centres`` Skövde and Lidköping (Skaraborg) get their own, and
    every regional kärna lies on a stråk."""
    from dataclasses import replace

    from ..conftest import SWEDEN, requires_shared

    requires_shared("geodata", "sweden", "jobs", "tatort_jobs_2024.csv")
    data = {
        "project": {"name": "vg", "title": "Västra Götaland"},
        "places": {"path": str(SWEDEN / "tatorter_2020.gpkg"),
                   "where": "lan_code = '14' AND population >= 2000",
                   "jobs": {"path": str(SWEDEN / "jobs" / "tatort_jobs_2024.csv"),
                            "key": "tatort_code"},
                   "columns": {"place_id": "tatort_code", "name": "tatort_name",
                               "area_id": "kommun_code", "area_name": "kommun_name"}},
        "areas": {"path": str(SWEDEN / "kommuner.gpkg"), "where": "lan_code = '14'",
                  "columns": {"area_id": "kommun_code", "name": "kommun_name"}},
    }
    project = project_from_dict(data, base_dir=SWEDEN)
    img = build(project)
    p = img.places
    cores = set(p.loc[p["role"].astype(str) == "regional_karna", "name"])
    assert {"Skövde", "Lidköping", "Borås", "Trollhättan", "Uddevalla"} <= cores
    assert img.summary()["strak"], "no stråk"
    names = {n for s in img.summary()["strak"] for n in s["places"]}
    assert cores <= names, cores - names
    without = build(replace(project, strak=StrakParams(centres=False)))
    names = {n for s in without.summary()["strak"] for n in s["places"]}
    assert {"Skövde", "Lidköping"}.isdisjoint(names)
