"""The desk's embedded database: one SQLite file per state directory, beside the journal.

Owns: opening the database (WAL, a busy timeout so two server processes can share it, mode 0600),
  transactions that take the write lock up front (``BEGIN IMMEDIATE``: no lost update between
  processes), and versioned schemas, one per component (``paper``, ``portfolio``, …), each migrated
  forward in order and refused when a newer release wrote it.
May use: the standard library only (it is a foundation: it knows no wing).
Offers: ``database.Store`` / ``open_store`` / ``STORE_FILE_NAME`` / ``SchemaError``.
"""

from binance_spot_mcp.store.database import STORE_FILE_NAME, SchemaError, Store, open_store

__all__ = ["STORE_FILE_NAME", "SchemaError", "Store", "open_store"]
