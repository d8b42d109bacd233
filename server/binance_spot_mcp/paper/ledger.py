"""The paper accounts' state in the desk database (component ``paper``): balances, orders,
trades with their receipts, and the catch-up checkpoints.

Every change is one ``Store.write()`` transaction (``BEGIN IMMEDIATE``), and every check it depends
on (enough free balance, the order still open) is made inside that transaction, so two server
processes on one account can never spend a balance twice or lose an update. Amounts are stored as
decimal text and never go negative: a change that would make one negative raises
``InsufficientBalance`` and rolls back.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from binance_spot_mcp.store import Store

COMPONENT = "paper"
MIGRATIONS = [
    """
    CREATE TABLE paper_accounts (
        account TEXT PRIMARY KEY,
        created_ms INTEGER NOT NULL,
        next_order_id INTEGER NOT NULL DEFAULT 1,
        next_trade_id INTEGER NOT NULL DEFAULT 1,
        next_list_id INTEGER NOT NULL DEFAULT 1
    );
    CREATE TABLE paper_balances (
        account TEXT NOT NULL, asset TEXT NOT NULL, free TEXT NOT NULL, locked TEXT NOT NULL,
        PRIMARY KEY (account, asset)
    );
    CREATE TABLE paper_orders (
        account TEXT NOT NULL, order_id INTEGER NOT NULL, symbol TEXT NOT NULL,
        client_order_id TEXT NOT NULL, order_list_id INTEGER NOT NULL DEFAULT -1,
        side TEXT NOT NULL, type TEXT NOT NULL, time_in_force TEXT, price TEXT NOT NULL,
        orig_qty TEXT NOT NULL, executed_qty TEXT NOT NULL, cum_quote TEXT NOT NULL,
        orig_quote_qty TEXT NOT NULL, status TEXT NOT NULL, stop_price TEXT NOT NULL,
        time_ms INTEGER NOT NULL, update_ms INTEGER NOT NULL, working_ms INTEGER NOT NULL,
        is_working INTEGER NOT NULL, queue_ahead TEXT NOT NULL, after_trade INTEGER NOT NULL,
        base_asset TEXT NOT NULL, quote_asset TEXT NOT NULL, locked_asset TEXT NOT NULL,
        locked_left TEXT NOT NULL, stp_mode TEXT NOT NULL DEFAULT 'EXPIRE_MAKER',
        PRIMARY KEY (account, order_id)
    );
    CREATE INDEX paper_orders_open ON paper_orders (account, symbol, status);
    CREATE INDEX paper_orders_client ON paper_orders (account, symbol, client_order_id);
    CREATE TABLE paper_trades (
        account TEXT NOT NULL, trade_id INTEGER NOT NULL, symbol TEXT NOT NULL,
        order_id INTEGER NOT NULL, order_list_id INTEGER NOT NULL, price TEXT NOT NULL,
        qty TEXT NOT NULL, quote_qty TEXT NOT NULL, commission TEXT NOT NULL,
        commission_asset TEXT NOT NULL, time_ms INTEGER NOT NULL, is_buyer INTEGER NOT NULL,
        is_maker INTEGER NOT NULL, receipt TEXT NOT NULL,
        PRIMARY KEY (account, trade_id)
    );
    CREATE INDEX paper_trades_symbol ON paper_trades (account, symbol, trade_id);
    CREATE TABLE paper_checkpoints (
        account TEXT NOT NULL, symbol TEXT NOT NULL, last_agg_id INTEGER NOT NULL,
        PRIMARY KEY (account, symbol)
    );
    """,
    """
    CREATE TABLE paper_lists (
        account TEXT NOT NULL, list_id INTEGER NOT NULL, symbol TEXT NOT NULL, list_client_id TEXT NOT NULL,
        contingency TEXT NOT NULL, time_ms INTEGER NOT NULL,
        PRIMARY KEY (account, list_id)
    );
    """,
    """
    CREATE TABLE paper_amendments (
        account TEXT NOT NULL, execution_id INTEGER NOT NULL, symbol TEXT NOT NULL, order_id INTEGER NOT NULL,
        orig_client_id TEXT NOT NULL, new_client_id TEXT NOT NULL, orig_qty TEXT NOT NULL, new_qty TEXT NOT NULL,
        time_ms INTEGER NOT NULL,
        PRIMARY KEY (account, execution_id)
    );
    """,
]
OPEN_STATUSES = ("NEW", "PARTIALLY_FILLED", "PENDING_NEW")


class InsufficientBalance(Exception):
    """A change would take more of an asset than is free."""

    def __init__(self, asset: str) -> None:
        super().__init__(asset)
        self.asset = asset


@dataclass
class OrderRow:
    """One paper order, as stored."""

    account: str
    order_id: int
    symbol: str
    client_order_id: str
    order_list_id: int
    side: str
    type: str
    time_in_force: str | None
    price: Decimal
    orig_qty: Decimal
    executed_qty: Decimal
    cum_quote: Decimal
    orig_quote_qty: Decimal
    status: str
    stop_price: Decimal
    time_ms: int
    update_ms: int
    working_ms: int
    is_working: bool
    queue_ahead: Decimal
    after_trade: int
    base_asset: str
    quote_asset: str
    locked_asset: str
    locked_left: Decimal
    stp_mode: str = "EXPIRE_MAKER"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed_qty


_DECIMALS = {"price", "orig_qty", "executed_qty", "cum_quote", "orig_quote_qty", "stop_price", "queue_ahead", "locked_left"}
_COLUMNS = list(OrderRow.__dataclass_fields__)


def _order(row: sqlite3.Row) -> OrderRow:
    values: dict[str, Any] = {}
    for name in _COLUMNS:
        value = row[name]
        if name in _DECIMALS:
            value = Decimal(value)
        elif name == "is_working":
            value = bool(value)
        values[name] = value
    return OrderRow(**values)


def _stored(order: OrderRow, name: str) -> Any:
    """One column of an order as the table keeps it: decimals as text, flags as 0/1."""
    value = getattr(order, name)
    if name in _DECIMALS:
        return _text(value)
    return int(value) if isinstance(value, bool) else value


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


class Ledger:
    """The paper tables of one desk database."""

    def __init__(self, store: Store) -> None:
        self.store = store
        store.migrate(COMPONENT, MIGRATIONS)

    # --- accounts and balances -------------------------------------------------------------
    def ensure_account(self, db: sqlite3.Connection, account: str, balances: Iterable[tuple[str, Decimal]], now_ms: int) -> None:
        """Create the account with its starting balances the first time it is used."""
        row = db.execute("SELECT 1 FROM paper_accounts WHERE account = ?", (account,)).fetchone()
        if row:
            return
        db.execute("INSERT INTO paper_accounts (account, created_ms) VALUES (?, ?)", (account, now_ms))
        for asset, amount in balances:
            db.execute("INSERT INTO paper_balances VALUES (?, ?, ?, '0')", (account, asset, _text(amount)))

    def reset(self, account: str) -> bool:
        """Forget everything of a paper account (it starts over from its starting balances)."""
        with self.store.write() as db:
            existed = db.execute("DELETE FROM paper_accounts WHERE account = ?", (account,)).rowcount > 0
            for table in ("paper_balances", "paper_orders", "paper_trades", "paper_checkpoints", "paper_lists",
                          "paper_amendments"):
                db.execute(f"DELETE FROM {table} WHERE account = ?", (account,))  # noqa: S608 - fixed names
        return existed

    @staticmethod
    def balances(db: sqlite3.Connection, account: str) -> dict[str, tuple[Decimal, Decimal]]:
        rows = db.execute("SELECT asset, free, locked FROM paper_balances WHERE account = ? ORDER BY asset", (account,))
        return {r["asset"]: (Decimal(r["free"]), Decimal(r["locked"])) for r in rows}

    @staticmethod
    def move(db: sqlite3.Connection, account: str, asset: str, *, free: Decimal = Decimal(0), locked: Decimal = Decimal(0)) -> None:
        """Add (or with negative amounts take) free and locked amounts of one asset."""
        row = db.execute("SELECT free, locked FROM paper_balances WHERE account = ? AND asset = ?", (account, asset)).fetchone()
        old_free, old_locked = (Decimal(row["free"]), Decimal(row["locked"])) if row else (Decimal(0), Decimal(0))
        new_free, new_locked = old_free + free, old_locked + locked
        if new_free < 0 or new_locked < 0:
            raise InsufficientBalance(asset)
        db.execute(
            "INSERT INTO paper_balances VALUES (?, ?, ?, ?) ON CONFLICT(account, asset) DO UPDATE SET free = excluded.free, locked = excluded.locked",
            (account, asset, _text(new_free), _text(new_locked)),
        )

    # --- ids --------------------------------------------------------------------------------
    @staticmethod
    def next_id(db: sqlite3.Connection, account: str, kind: str) -> int:
        column = {"order": "next_order_id", "trade": "next_trade_id", "list": "next_list_id"}[kind]
        value = int(db.execute(f"SELECT {column} FROM paper_accounts WHERE account = ?", (account,)).fetchone()[0])  # noqa: S608
        db.execute(f"UPDATE paper_accounts SET {column} = ? WHERE account = ?", (value + 1, account))  # noqa: S608
        return value

    # --- orders -----------------------------------------------------------------------------
    @staticmethod
    def insert_order(db: sqlite3.Connection, order: OrderRow) -> None:
        values = [_stored(order, name) for name in _COLUMNS]
        db.execute(f"INSERT INTO paper_orders ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})", values)  # noqa: S608

    @staticmethod
    def update_order(db: sqlite3.Connection, order: OrderRow) -> None:
        names = [n for n in _COLUMNS if n not in ("account", "order_id")]
        values = [_stored(order, n) for n in names]
        db.execute(f"UPDATE paper_orders SET {', '.join(f'{n} = ?' for n in names)} WHERE account = ? AND order_id = ?",  # noqa: S608
                   [*values, order.account, order.order_id])

    @staticmethod
    def find_order(db: sqlite3.Connection, account: str, symbol: str, *, order_id: int | None = None,
                   client_order_id: str | None = None) -> OrderRow | None:
        if order_id is not None:
            row = db.execute("SELECT * FROM paper_orders WHERE account = ? AND symbol = ? AND order_id = ?",
                             (account, symbol, order_id)).fetchone()
        else:
            row = db.execute("SELECT * FROM paper_orders WHERE account = ? AND symbol = ? AND client_order_id = ? "
                             "ORDER BY order_id DESC LIMIT 1", (account, symbol, client_order_id)).fetchone()
        return _order(row) if row else None

    @staticmethod
    def orders(db: sqlite3.Connection, account: str, *, symbol: str | None = None, open_only: bool = False,
               list_id: int | None = None) -> list[OrderRow]:
        sql, args = "SELECT * FROM paper_orders WHERE account = ?", [account]
        if symbol is not None:
            sql += " AND symbol = ?"
            args.append(symbol)
        if open_only:
            sql += f" AND status IN ({', '.join('?' * len(OPEN_STATUSES))})"
            args.extend(OPEN_STATUSES)
        if list_id is not None:
            sql += " AND order_list_id = ?"
            args.append(list_id)
        return [_order(r) for r in db.execute(sql + " ORDER BY order_id", args)]

    @staticmethod
    def open_with_client_id(db: sqlite3.Connection, account: str, symbol: str, client_order_id: str) -> bool:
        """Is an open order of this symbol already using this client order id (Binance: duplicate)?"""
        row = db.execute(f"SELECT 1 FROM paper_orders WHERE account = ? AND symbol = ? AND client_order_id = ? "  # noqa: S608
                         f"AND status IN ({', '.join('?' * len(OPEN_STATUSES))}) LIMIT 1",
                         (account, symbol, client_order_id, *OPEN_STATUSES)).fetchone()
        return row is not None

    @staticmethod
    def open_symbols(db: sqlite3.Connection, account: str) -> list[str]:
        rows = db.execute(f"SELECT DISTINCT symbol FROM paper_orders WHERE account = ? AND status IN ({', '.join('?' * len(OPEN_STATUSES))})",  # noqa: S608
                          (account, *OPEN_STATUSES))
        return sorted(r[0] for r in rows)

    # --- trades -----------------------------------------------------------------------------
    @staticmethod
    def insert_trade(db: sqlite3.Connection, account: str, trade_id: int, order: OrderRow, *, price: Decimal,
                     qty: Decimal, commission: Decimal, commission_asset: str, time_ms: int, is_maker: bool,
                     receipt: Mapping[str, Any]) -> None:
        db.execute(
            "INSERT INTO paper_trades VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (account, trade_id, order.symbol, order.order_id, order.order_list_id, _text(price), _text(qty),
             _text(price * qty), _text(commission), commission_asset, time_ms, int(order.side == "BUY"),
             int(is_maker), json.dumps(dict(receipt), sort_keys=True)),
        )

    @staticmethod
    def trades(db: sqlite3.Connection, account: str, symbol: str) -> list[sqlite3.Row]:
        return list(db.execute("SELECT * FROM paper_trades WHERE account = ? AND symbol = ? ORDER BY trade_id", (account, symbol)))

    # --- catch-up checkpoints ---------------------------------------------------------------
    @staticmethod
    def checkpoint(db: sqlite3.Connection, account: str, symbol: str) -> int | None:
        row = db.execute("SELECT last_agg_id FROM paper_checkpoints WHERE account = ? AND symbol = ?", (account, symbol)).fetchone()
        return int(row[0]) if row else None

    @staticmethod
    def set_checkpoint(db: sqlite3.Connection, account: str, symbol: str, last_agg_id: int) -> None:
        db.execute("INSERT INTO paper_checkpoints VALUES (?, ?, ?) ON CONFLICT(account, symbol) DO UPDATE SET last_agg_id = excluded.last_agg_id",
                   (account, symbol, last_agg_id))
