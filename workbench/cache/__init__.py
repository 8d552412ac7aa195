"""The local DuckDB cache: schema, migrations, locking and bulk upserts; nothing else.

::

    from workbench.cache import Cache
    cache = Cache("cache/workbench.duckdb")
    with cache.write() as tx:                 # one short transaction
        tx.upsert_sources(page["sources"])    # -> UpsertResult(new=, updated=, unchanged=)
    cache.sql("SELECT id, ra, dec FROM objs")  # a DataFrame, read on a read-only connection
"""

from __future__ import annotations

from .migrations import SCHEMA_VERSION
from .store import Cache, Reader
from .transaction import OUTBOX_STATUSES, VETTING_DECISIONS, Transaction
from .upserts import UpsertResult

__all__ = [
    "OUTBOX_STATUSES",
    "SCHEMA_VERSION",
    "VETTING_DECISIONS",
    "Cache",
    "Reader",
    "Transaction",
    "UpsertResult",
]
