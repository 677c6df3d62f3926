"""GetFeature from SCB's geodata WFS (GeoServer) as GeoJSON, paged, with caps.

**SCB geodata WFS** ``https://geodata.scb.se/geoserver/stat/wfs`` (GeoServer):
``service=WFS&version=2.0.0&request=GetFeature&typeNames=stat:Tatorter_2020&
outputFormat=application/json&srsName=EPSG:3006``; layers ``stat:Tatorter_YYYY``
and ``stat:DeSO_2025`` among others. CC0. The **features and pages** of a layer are
capped (:data:`DEFAULT_MAX_FEATURES`, :data:`DEFAULT_MAX_PAGES`); the features
themselves are read in :mod:`.geodata`.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

from ...errors import FetchError
from .answers import bad_field, int_value, list_value, many
from .httpclient import HttpFetcher

__all__ = ["DEFAULT_MAX_FEATURES", "DEFAULT_MAX_PAGES", "DEFAULT_WFS_URL", "WfsClient"]

#: SCB's open geodata (GeoServer WFS, workspace ``stat``).
DEFAULT_WFS_URL = "https://geodata.scb.se/geoserver/stat/wfs"
#: The most features one WFS layer may claim: SCB's layers that fetch_scb reads have a
#: few thousand (about 2 000 tätorter, 6 160 DeSO areas), so 200 000 leaves room for
#: finer layers while a server claiming 10⁹ matches is refused at once.
DEFAULT_MAX_FEATURES = 200_000
#: The most pages read from one WFS layer (GeoServer's pages hold 1 000 features or
#: more; 1 000 pages of 200 features still cover :data:`DEFAULT_MAX_FEATURES`).
DEFAULT_MAX_PAGES = 1_000


def _matched(doc: Mapping[str, Any], url: str) -> int | None:
    """numberMatched (or totalFeatures), None when the server does not say."""
    key = "numberMatched" if "numberMatched" in doc else "totalFeatures"
    v = doc.get(key)
    if v is None or v == "unknown":  # GeoServer's word when it skipped counting
        return None
    return int_value(v, source=url, field=key)


class WfsClient:
    """GetFeature from a GeoServer WFS as GeoJSON, paged when the server caps a page.

    A layer claiming more than ``max_features`` features is refused at once, and
    paging stops with an error after ``max_pages`` pages, or at a page that is empty
    before every feature that matched has come.

    Examples
    --------
    >>> WfsClient(HttpFetcher()).feature_url("stat:Tatorter_2020", cql="kommun LIKE '12%'")
    'https://geodata.scb.se/geoserver/stat/wfs?service=WFS&version=2.0.0&request=GetFeature&typeNames=stat%3ATatorter_2020&outputFormat=application%2Fjson&srsName=EPSG%3A3006&CQL_FILTER=kommun+LIKE+%2712%25%27'
    """

    def __init__(self, fetcher: HttpFetcher, wfs_url: str = DEFAULT_WFS_URL, *,
                 max_features: int = DEFAULT_MAX_FEATURES,
                 max_pages: int = DEFAULT_MAX_PAGES) -> None:
        self.fetcher = fetcher
        self.wfs_url = wfs_url.rstrip("?")
        self.max_features = int(max_features)
        self.max_pages = int(max_pages)

    def feature_url(self, type_name: str, *, cql: str | None = None,
                    srs: str = "EPSG:3006", start: int | None = None) -> str:
        """The GetFeature URL (GeoJSON output, coordinates in ``srs``)."""
        params = {"service": "WFS", "version": "2.0.0", "request": "GetFeature",
                  "typeNames": type_name, "outputFormat": "application/json",
                  "srsName": srs}
        if cql:
            params["CQL_FILTER"] = cql
        if start:
            params["startIndex"] = str(start)
        return f"{self.wfs_url}?{urllib.parse.urlencode(params)}"

    def _page(self, url: str) -> tuple[Mapping[str, Any], list[Any], int | None]:
        doc = self.fetcher.get_json(url)
        if not isinstance(doc, Mapping) or doc.get("type") != "FeatureCollection":
            raise FetchError("the answer is not a GeoJSON FeatureCollection", source=url)
        feats = list_value(doc.get("features", []), source=url, field="features")
        matched = _matched(doc, url)
        if matched is not None and matched > self.max_features:
            raise bad_field(url, "numberMatched" if "numberMatched" in doc else "totalFeatures",
                            f"the layer claims {many(matched)} features, more than the "
                            f"{self.max_features:,} allowed; no page was read after the first")
        return doc, feats, matched

    def features(self, type_name: str, *, cql: str | None = None,
                 srs: str = "EPSG:3006") -> dict[str, Any]:
        """All features of a layer as one GeoJSON FeatureCollection."""
        url = self.feature_url(type_name, cql=cql, srs=srs)
        doc, feats, matched = self._page(url)
        feats = list(feats)
        pages = 1
        while matched is not None and len(feats) < matched:
            if pages >= self.max_pages:
                raise FetchError(f"the WFS says {matched:,} features match but sent "
                                 f"{len(feats):,} in {pages} pages; stopped at the limit of "
                                 f"{self.max_pages} pages", source=url)
            page_url = self.feature_url(type_name, cql=cql, srs=srs, start=len(feats))
            _, more, _ = self._page(page_url)
            pages += 1
            if not more:
                raise FetchError(f"the WFS says {matched:,} features match but the page from "
                                 f"{len(feats):,} on is empty; the layer would be incomplete",
                                 source=page_url)
            feats.extend(more)
        if len(feats) > self.max_features:
            raise FetchError(f"the WFS sent {len(feats):,} features, more than the "
                             f"{self.max_features:,} allowed", source=url)
        if matched is not None and len(feats) > matched:
            raise FetchError(f"the WFS sent {len(feats):,} features but says {matched:,} match",
                             source=url)
        return {**doc, "features": feats, "numberReturned": len(feats)}

