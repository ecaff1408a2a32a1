"""DuckDB over the storage root: one view per folder under ``tables/``.

    from storage.sql import connect
    con = connect(load_config())
    con.sql("SELECT label, count(*) FROM messages GROUP BY label").show()

Views read ``tables/<name>/**/*.parquet`` with hive partitioning (the
``date`` column). On S3 roots the bundled httpfs extension is loaded and a
secret is made from the storage configuration.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlparse

import duckdb

from cluster.config import Config, StorageConfig
from storage import schema
from storage.root import StorageRoot
from storage.tables import Tables

log = logging.getLogger("mailray.storage")


def connect(
    config_or_root: Config | StorageConfig | StorageRoot,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with a view per table."""
    root = _root_of(config_or_root)
    # fsspec caches listings per filesystem instance; a query must see the
    # files the store stage wrote since.
    root.fs.invalidate_cache()
    con = duckdb.connect()
    if not root.is_local:
        _configure_s3(con, root)
    for name in table_names(root):
        _create_view(con, root, name)
    return con


def table_names(root: StorageRoot) -> list[str]:
    """Known tables plus every folder under ``tables/``."""
    names = set(schema.SCHEMAS)
    folder = root.path("tables")
    if root.fs.exists(folder):
        for entry in root.fs.ls(folder, detail=True):
            if entry["type"] == "directory":
                names.add(entry["name"].rstrip("/").rsplit("/", 1)[-1])
    return sorted(names)


def _create_view(con: duckdb.DuckDBPyConnection, root: StorageRoot, name: str) -> None:
    ident = '"' + name.replace('"', '""') + '"'
    files = _live_files(root, name)
    if files:
        listed = "[" + ", ".join(_quote(f) for f in files) + "]"
        source = (
            f"read_parquet({listed}, hive_partitioning = true, union_by_name = true)"
        )
        con.execute(f"CREATE VIEW {ident} AS SELECT * FROM {source}")
        return
    known = schema.SCHEMAS.get(name)
    if known is None:
        return
    # No file yet: an empty view with the schema, so queries still run.
    empty = known.empty_table()
    con.register(f"__empty_{name}", empty)
    con.execute(
        f"CREATE VIEW {ident} AS SELECT *, NULL::DATE AS date FROM __empty_{name}"
    )


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _live_files(root: StorageRoot, name: str) -> list[str]:
    """The table's files as of now, less those a compaction superseded.

    A view reads exactly these, not a glob: a glob expands when a query
    runs, and a compaction finished in between would show both the merged
    file and its sources. Superseded files outlive a grace period, so a
    listed file is still there when the query reads it.
    """
    tables = Tables(root)
    prefix = "" if root.is_local else "s3://"
    live: list[str] = []
    for partition in tables.partitions(name):
        # Superseded is judged from this very listing: a compacted file
        # written after it is not listed, so its sources still count once.
        paths = tables.files(name, partition)
        merged = tables.superseded_names(paths)
        live.extend(prefix + p for p in paths if p.rsplit("/", 1)[-1] not in merged)
    return live


def _configure_s3(con: duckdb.DuckDBPyConnection, root: StorageRoot) -> None:
    con.execute(f"LOAD '{_httpfs_path()}'")
    settings = root.s3_settings()
    options = [
        "TYPE s3",
        f"REGION '{settings['region']}'",
        "URL_STYLE 'path'",
    ]
    if settings["key"]:
        options.append(f"KEY_ID '{settings['key']}'")
        options.append(f"SECRET '{settings['secret']}'")
    endpoint = settings["endpoint_url"]
    if endpoint:
        parsed = urlparse(endpoint)
        options.append(f"ENDPOINT '{parsed.netloc or parsed.path}'")
        options.append(f"USE_SSL {'true' if parsed.scheme == 'https' else 'false'}")
    con.execute(f"CREATE SECRET mailray_s3 ({', '.join(options)})")


def _httpfs_path() -> str:
    import duckdb_extension_httpfs

    base = Path(duckdb_extension_httpfs.__file__).parent / "extensions"
    found = sorted(base.glob(f"v{duckdb.__version__}/httpfs.duckdb_extension"))
    if not found:
        found = sorted(base.glob("*/httpfs.duckdb_extension"))
    if not found:
        raise RuntimeError(f"no httpfs extension under {base}")
    return str(found[-1])


def _root_of(value: Config | StorageConfig | StorageRoot) -> StorageRoot:
    if isinstance(value, StorageRoot):
        return value
    if isinstance(value, Config):
        return StorageRoot.from_config(value.storage)
    if isinstance(value, StorageConfig):
        return StorageRoot.from_config(value)
    raise TypeError(
        "config_or_root must be Config, StorageConfig or StorageRoot, "
        f"got {type(value).__name__}"
    )
