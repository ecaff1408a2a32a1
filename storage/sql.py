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
    if _has_files(root, name):
        glob = _quote(root.url_of("tables", name, "**", "*.parquet"))
        source = (
            f"read_parquet({glob}, hive_partitioning = true, "
            "union_by_name = true, filename = '__file')"
        )
        # Files a compaction has merged stay on disk for a grace period;
        # skip them so no row is counted twice.
        superseded = Tables(root).superseded(name)
        where = ""
        if superseded:
            prefix = "s3://" if not root.is_local else ""
            names = ", ".join(_quote(prefix + p) for p in sorted(superseded))
            where = f" WHERE __file NOT IN ({names})"
        con.execute(
            f"CREATE VIEW {ident} AS SELECT * EXCLUDE (__file) FROM {source}{where}"
        )
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


def _has_files(root: StorageRoot, name: str) -> bool:
    folder = root.path("tables", name)
    try:
        return bool(root.fs.glob(f"{folder}/*/*.parquet"))
    except FileNotFoundError:
        return False


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
