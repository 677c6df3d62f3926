"""``fetch_osm``: OpenStreetMap's railways, main roads and ferry lines as own layers.

For a project's extent (its places and areas) plus a margin, or a box in degrees,
:func:`fetch_osm` gets the ways of :mod:`.ways`' rule from the Overpass API
(:mod:`.overpass`, with every fetch rule of ``fetch scb``: a cache with checksums,
``--offline``, a deadline per request, a size cap, all files or none) or from a
Geofabrik extract (:mod:`.pbf`), and writes one GeoPackage per layer
(``osm_railways.gpkg``, ``osm_roads.gpkg``, ``osm_ferries.gpkg``) with
``osm_metadata.json``. The ``[[layers]]`` blocks that add them to a project (kind
``infrastructure``, licence "© OpenStreetMap contributors, ODbL 1.0") are returned,
and written into the project file with ``update_project``.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..._files import OutputSet
from ...config import Project, load_project
from ...errors import ConfigError, FetchError
from ...readers import read_areas, read_places, to_jsonable
from ..scb.cache import ResponseCache
from ..scb.httpclient import HttpFetcher
from ..scb.options import ENV_CACHE_DIR, FetchLimits, env_or
from .overpass import DEFAULT_OVERPASS_URL, DEFAULT_TILE_KM, ENV_OVERPASS_URL, fetch_ways
from .ways import LAYERS, OSM_LICENCE, layer_frames

__all__ = ["DEFAULT_MARGIN_KM", "OsmFetchResult", "fetch_osm", "layers_toml"]

Progress = Callable[[str], None]
Bbox = tuple[float, float, float, float]

#: How far around the project's places and areas the layers reach, in km: the map
#: shows the roads and railways leaving the region.
DEFAULT_MARGIN_KM = 20.0
_NO_NETWORK_FIX = ("; to fetch without the network, run with --offline and the cache of "
                   "an earlier run (--cache DIR), or read a Geofabrik extract with --pbf "
                   "FILE (e.g. sweden-latest.osm.pbf); or name another Overpass server with "
                   "--overpass-url")


@dataclass(frozen=True)
class OsmFetchResult:
    """What :func:`fetch_osm` wrote: the files by layer key (and ``metadata``), the
    ``[[layers]]`` blocks, the box (degrees), and the metadata."""

    out_dir: Path
    files: Mapping[str, Path]
    layers_toml: str
    bbox: Bbox
    counts: Mapping[str, int]
    metadata: Mapping[str, Any]
    project: Path | None = None


def _check_bbox(bbox: Sequence[float]) -> Bbox:
    vals = tuple(float(v) for v in bbox)
    if len(vals) != 4:
        raise ConfigError(f"bbox must be 4 numbers, west,south,east,north in degrees; got "
                          f"{len(vals)}")
    w, s, e, n = vals
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise ConfigError(f"bbox must be west,south,east,north in degrees with west < east "
                          f"and south < north, got {w:g},{s:g},{e:g},{n:g}")
    return w, s, e, n


def project_bbox(project: Project, margin_km: float = DEFAULT_MARGIN_KM) -> Bbox:
    """The project's places and areas (after their filters), plus ``margin_km``, as a
    box in degrees.

    Examples
    --------
    >>> from strukturbild.sources.example import example_project
    >>> [round(v, 2) for v in project_bbox(example_project(), 20)]
    [12.11, 55.14, 14.92, 56.72]
    """
    import geopandas as gpd
    import shapely

    if project.places is None:
        raise ConfigError("the project has no [places]: give --bbox instead", source=project.path)
    if not 0 <= margin_km <= 1000:
        raise ConfigError(f"margin must be from 0 to 1000 km, got {margin_km:g}")
    frames = [read_places(project.places, crs=project.crs).geometry]
    if project.areas is not None:
        frames.append(read_areas(project.areas, crs=project.crs).geometry)
    x0, y0, x1, y1 = gpd.GeoSeries(
        [shapely.box(*f.total_bounds) for f in frames], crs=project.crs).total_bounds
    m = margin_km * 1000.0
    box = gpd.GeoSeries([shapely.segmentize(shapely.box(x0 - m, y0 - m, x1 + m, y1 + m),
                                            5000.0)], crs=project.crs).to_crs("EPSG:4326")
    w, s, e, n = (float(v) for v in box.total_bounds)
    return round(w, 5), round(s, 5), round(e, 5), round(n, 5)


def _relative(path: Path, folder: Path) -> str:
    try:
        return path.resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def layers_toml(files: Mapping[str, Path], *, folder: Path, language: str = "sv",
                counts: Mapping[str, int] | None = None) -> str:
    """The ``[[layers]]`` blocks for the written layers, paths relative to ``folder``.

    Examples
    --------
    >>> print(layers_toml({"ferries": Path("/p/osm/osm_ferries.gpkg")}, folder=Path("/p")))
    ... # doctest: +NORMALIZE_WHITESPACE
    [[layers]]
    name = "Färjeleder"
    path = "osm/osm_ferries.gpkg"
    layer = "ferries"
    kind = "infrastructure"
    colour = "#4f7391"
    width = 1.4
    dash = "6 4"
    licence = "© OpenStreetMap contributors, ODbL 1.0"
    """
    blocks = []
    for spec in LAYERS:
        if spec.key not in files or (counts is not None and not counts.get(spec.key)):
            continue
        name = spec.names[0 if language == "sv" else 1]
        lines = ["[[layers]]", f"name = {json.dumps(name, ensure_ascii=False)}",
                 f"path = {json.dumps(_relative(files[spec.key], folder), ensure_ascii=False)}",
                 f'layer = "{spec.layer}"', 'kind = "infrastructure"']
        for key, value in spec.style.items():
            lines.append(f"{key} = {json.dumps(value)}")
        lines.append(f"licence = {json.dumps(OSM_LICENCE, ensure_ascii=False)}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + ("\n" if blocks else "")


def _updated_project(path: Path, files: Mapping[str, Path], blocks: str, language: str) -> str:
    """The project file's text with the ``[[layers]]`` blocks of layers it lacks added."""
    text = path.read_text(encoding="utf-8")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not a TOML file: {exc}", source=path) from None
    have = {str((path.parent / str(item.get("path", ""))).resolve())
            for item in doc.get("layers", []) if isinstance(item, dict)}
    names = {str(item.get("name", "")) for item in doc.get("layers", []) if isinstance(item, dict)}
    missing = {k: p for k, p in files.items() if k != "metadata"
               and str(p.resolve()) not in have}
    add = layers_toml(missing, folder=path.parent, language=language) if missing else ""
    for spec in LAYERS:
        name = spec.names[0 if language == "sv" else 1]
        if spec.key in missing and name in names:
            raise ConfigError(f"a layer named {name!r} is already defined with another file; "
                              "rename it, or add the blocks printed by fetch osm by hand",
                              source=path)
    if not add:
        return text
    return (text.rstrip("\n") + "\n\n# Added by `strukturbild fetch osm` (" + OSM_LICENCE +
            ")\n" + add)


def fetch_osm(
    out_dir: str | Path | None = None,
    *,
    project: str | Path | Project | None = None,
    bbox: Sequence[float] | None = None,
    margin_km: float = DEFAULT_MARGIN_KM,
    pbf: str | Path | None = None,
    overpass_url: str | None = None,
    tile_km: float = DEFAULT_TILE_KM,
    crs: str | None = None,
    cache_dir: str | Path | None = None,
    offline: bool = False,
    update_project: bool = False,
    limits: FetchLimits | None = None,
    sleep: Callable[[float], None] | None = None,
    progress: Progress | None = None,
) -> OsmFetchResult:
    """Fetch OpenStreetMap's railways, main roads and ferry lines as own layers.

    Everything is fetched (or read) and checked before anything is written; then the
    layers, ``osm_metadata.json`` and, with ``update_project``, the project file are
    written together or not at all.

    Parameters
    ----------
    out_dir
        Folder for the layers; default ``osm`` beside the project file.
    project
        A project (or its file): the box is its places and areas (after their
        filters) plus ``margin_km``, its CRS the layers' CRS.
    bbox
        Instead of a project: ``(west, south, east, north)`` in degrees.
    margin_km
        How far around the project the layers reach (default 20 km).
    pbf
        Read this Geofabrik extract (``.osm.pbf``, or ``.osm``) instead of asking
        Overpass: nothing is fetched.
    overpass_url
        The Overpass API's interpreter URL; default ``$STRUKTURBILD_OVERPASS_URL``,
        else overpass-api.de.
    tile_km
        Split the box into tiles of at most this many km a side, one request each.
    crs
        The layers' CRS (default the project's, else EPSG:3006).
    cache_dir
        Where raw answers are kept (default ``$STRUKTURBILD_CACHE_DIR``, else
        ``out_dir/cache``).
    offline
        Use only the cache.
    update_project
        Add the ``[[layers]]`` blocks of layers the project file lacks to it.
    limits
        The limits of every request (:class:`~strukturbild.sources.scb.options.FetchLimits`).
    sleep, progress
        Injectable sleep (tests), and a callback for progress messages.

    Raises
    ------
    FetchError
        No network and no cache (the message names the fixes: ``--offline`` with a
        cache, ``--pbf``, ``--overpass-url``), a malformed answer (naming the URL and
        the field), a limit reached.
    ConfigError
        Neither or both of ``project`` and ``bbox``, a bad box or option.

    Examples
    --------
    >>> fetch_osm("out")
    Traceback (most recent call last):
    ...
    strukturbild.errors.ConfigError: give a project (--project) or a box (--bbox)
    """
    say = progress or (lambda _m: None)
    if (project is None) == (bbox is None):
        raise ConfigError("give a project (--project) or a box (--bbox)"
                          if project is None else "give a project or a box, not both")
    if not 1 <= tile_km <= 2000:
        raise ConfigError(f"tile size must be from 1 to 2000 km, got {tile_km:g}")
    proj: Project | None = None
    if project is not None:
        proj = project if isinstance(project, Project) else load_project(project)
        box = project_bbox(proj, margin_km)
    else:
        assert bbox is not None
        box = _check_bbox(bbox)
    if update_project and (proj is None or proj.path is None):
        raise ConfigError("update_project needs a project file (--project)")
    if out_dir is None:
        if proj is None or proj.path is None:
            raise ConfigError("give the output folder (--out)")
        out_dir = Path(proj.path).parent / "osm"
    out = Path(out_dir)
    target_crs = crs or (proj.crs if proj is not None else "EPSG:3006")
    language = proj.map.language if proj is not None else "sv"
    limits = limits or FetchLimits()
    made = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    source: dict[str, Any]
    if pbf is not None:
        from .pbf import read_extract

        say(f"reading {pbf} (GDAL's OSM driver) in {', '.join(f'{v:g}' for v in box)}")
        ids, tags, lines = read_extract(pbf, box)
        source = {"kind": "extract", "file": Path(pbf).name,
                  "bytes": Path(pbf).stat().st_size}
        log: list[Any] = []
    else:
        url = env_or(overpass_url, ENV_OVERPASS_URL, DEFAULT_OVERPASS_URL)
        cache = ResponseCache(Path(env_or(str(cache_dir) if cache_dir else None,
                                          ENV_CACHE_DIR, "") or out / "cache"))
        fetcher = HttpFetcher.from_limits(limits, cache=cache, offline=offline,
                                          url_options="--overpass-url", status_hints={})
        if sleep is not None:
            fetcher.sleep = sleep
        try:
            got = fetch_ways(fetcher, box, url=url, tile_km=tile_km, progress=say)
        except FetchError as exc:
            if exc.status is None and "no cached response" in exc.message:
                raise FetchError(exc.message + _NO_NETWORK_FIX, source=exc.source) from None
            raise
        finally:
            fetcher.close()
        ids, tags, lines = got.ids, got.tags, got.lines
        log = [r.to_dict() for r in fetcher.log]
        source = {"kind": "overpass", "url": url, "tiles": len(got.urls), "tile_km": tile_km,
                  "timestamp_osm_base": sorted(t for t in got.timestamps if t)[:1] or None,
                  "changed_responses": [r["url"] for r in log if r.get("changed")]}
    frames = layer_frames(ids, tags, lines, crs=target_crs)
    counts = {k: len(v) for k, v in frames.items()}
    say(", ".join(f"{n} {k}" for k, n in counts.items()))
    files = {spec.key: out / spec.file for spec in LAYERS}
    files["metadata"] = out / "osm_metadata.json"
    folder = Path(proj.path).parent if proj is not None and proj.path is not None else out
    blocks = layers_toml(files, folder=folder, language=language, counts=counts)
    metadata = {
        "made_by": "strukturbild fetch osm", "fetched_at": made,
        "licence": OSM_LICENCE,
        "attribution": "Data © OpenStreetMap contributors, available under the Open "
                       "Database License (ODbL) 1.0: https://www.openstreetmap.org/copyright",
        "bbox_wgs84": list(box), "margin_km": margin_km if proj is not None else None,
        "crs": target_crs, "source": source,
        "rules": {spec.key: {"tag": spec.tag, "columns": ["osm_id", "class", *spec.attributes]}
                  for spec in LAYERS},
        "features": counts,
        "fetch_limits": dataclasses.asdict(limits),
        "requests": log,
    }
    targets = list(files.values())
    new_project = None
    project_file = Path(proj.path) if proj is not None and proj.path is not None else None
    if update_project:
        assert project_file is not None
        new_project = _updated_project(project_file, files, blocks, language)
        targets.append(project_file)
    inputs = [Path(pbf)] if pbf is not None else []
    with OutputSet(targets, inputs=inputs) as outputs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # GDAL: a .gpkg-less temp name
            for spec in LAYERS:
                frame = frames[spec.key]
                frame.to_file(outputs.stage(files[spec.key]), layer=spec.layer, driver="GPKG",
                              geometry_type="LineString",
                              layer_metadata={"licence": OSM_LICENCE,
                                              "source": json.dumps(source, sort_keys=True),
                                              "made_by": "strukturbild fetch osm"})
        outputs.stage(files["metadata"]).write_text(
            json.dumps(to_jsonable(metadata), ensure_ascii=False, indent=2), encoding="utf-8")
        if new_project is not None and project_file is not None:
            outputs.stage(project_file).write_text(new_project, encoding="utf-8")
    say(f"wrote {len(targets)} files to {out}")
    return OsmFetchResult(out, files, blocks, box, counts, metadata, project_file)
