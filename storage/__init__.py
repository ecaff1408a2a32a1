"""Parquet, objects, DuckDB and the model registry on an fsspec root."""
