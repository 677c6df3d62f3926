"""Writers: the GeoPackage, the JSON summary, map files, tables; all outputs or none."""
