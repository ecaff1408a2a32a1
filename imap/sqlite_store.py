"""The default metadata store: SQLite in WAL mode on local disk.

Each thread gets its own connection; writers take ``BEGIN IMMEDIATE`` and
commit with ``synchronous=FULL``, so a returned call is on disk.
"""

from __future__ import annotations

from imap.sqlite_accounts import AccountsMixin
from imap.sqlite_messages import MessagesMixin


class SqliteStore(AccountsMixin, MessagesMixin):
    """:class:`imap.metadata.MetadataStore` on one SQLite file."""
