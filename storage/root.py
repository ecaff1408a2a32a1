"""The storage root: one fsspec filesystem and a path prefix.

Everything mailray keeps (Parquet tables, raw messages, attachments, the
model registry, LanceDB) lives under one root, a local folder or an S3
prefix. Code joins paths with :meth:`StorageRoot.path` and opens files
through :attr:`StorageRoot.fs`, so the same code runs on both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import fsspec

if TYPE_CHECKING:
    from cluster.config import StorageConfig


@dataclass(frozen=True)
class StorageRoot:
    """A picklable handle on the root; the filesystem is built lazily."""

    url: str
    storage_options: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def from_config(cls, config: StorageConfig) -> StorageRoot:
        url = config.root
        options: dict[str, Any] = {}
        if url.startswith("s3://"):
            client_kwargs: dict[str, Any] = {"region_name": config.s3_region}
            if config.s3_endpoint_url:
                client_kwargs["endpoint_url"] = config.s3_endpoint_url
            options["client_kwargs"] = client_kwargs
            if config.s3_access_key_id:
                options["key"] = config.s3_access_key_id
                options["secret"] = config.s3_secret_access_key
        else:
            url = os.path.abspath(os.path.expanduser(url.removeprefix("file://")))
        return cls(url=url.rstrip("/"), storage_options=tuple(options.items()))

    @property
    def protocol(self) -> str:
        return "s3" if self.url.startswith("s3://") else "file"

    @property
    def is_local(self) -> bool:
        return self.protocol == "file"

    @cached_property
    def fs(self) -> fsspec.AbstractFileSystem:
        return fsspec.filesystem(self.protocol, **dict(self.storage_options))

    def path(self, *parts: str) -> str:
        """Join parts under the root, as the filesystem expects them."""
        base = self.url.removeprefix("s3://")
        return "/".join([base, *(p.strip("/") for p in parts if p)])

    def url_of(self, *parts: str) -> str:
        """Like :meth:`path` but with the scheme, for DuckDB and LanceDB."""
        joined = self.path(*parts)
        return f"s3://{joined}" if self.protocol == "s3" else joined

    def s3_settings(self) -> dict[str, Any]:
        """Endpoint and credentials as plain values, for DuckDB/LanceDB."""
        options = dict(self.storage_options)
        client = options.get("client_kwargs", {})
        return {
            "endpoint_url": client.get("endpoint_url"),
            "region": client.get("region_name", "us-east-1"),
            "key": options.get("key"),
            "secret": options.get("secret"),
        }
