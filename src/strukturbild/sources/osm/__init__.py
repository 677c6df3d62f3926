"""OpenStreetMap: railways, main roads and ferry lines for the maps' infrastructure layers.

:mod:`.overpass` asks the Overpass API (through the SCB client's
:class:`~strukturbild.sources.scb.httpclient.HttpFetcher`, so the fetch rules hold);
:mod:`.pbf` reads a Geofabrik extract with GDAL's OSM driver; :mod:`.ways` classifies
the ways and makes the layers; :mod:`.fetch` writes them (``strukturbild fetch osm``).
"""
