"""``binance-spot-mcp export trades`` against the fake: the columns, both formats, a filter by
symbol and time, a second export that fetches only what is new, and the progress bar."""

from __future__ import annotations

import csv
import json

import pytest

from binance_spot_mcp.cli import main
from binance_spot_mcp.cli.export import export_command
from binance_spot_mcp.config import load_settings
from binance_spot_mcp.portfolio.export import COLUMNS
from binance_spot_mcp.redact import Redactor
from tests.portfolio.history import History

HEADER = ["time_utc", "symbol", "base", "quote", "side", "price", "quantity", "quote_quantity", "fee", "fee_asset",
          "order_id", "trade_id", "role"]


@pytest.fixture
def traded(world, cli_isolation, monkeypatch):
    for name in ("MAINNET", "TESTNET", "DEMO"):
        monkeypatch.setenv(f"BINANCE_SPOT_MCP_{name}_BASE_URL", world.base_url)
    history = History(world, {"USDT": "100000"})
    history.trade("BTCUSDT", "BUY", "0.5", "50000")
    history.trade("BTCUSDT", "SELL", "0.2", "51000")
    history.bnb_fees("0.01")
    history.main.bal("BNB")[0] = history.main.bal("BNB")[0] + 1
    history.trade("ETHUSDT", "BUY", "1", "3000")
    return world, history


def test_csv_has_the_columns_a_spreadsheet_expects(traded, tmp_path):
    world, _ = traded
    out = tmp_path / "trades.csv"
    assert main(["export", "trades", "--tools-file", str(world.tools_file), "-o", str(out), "--no-progress"]) == 0
    raw = out.read_bytes()
    assert raw.startswith(b"time_utc,symbol,") and b"\r\n" in raw  # RFC 4180 line ends
    rows = list(csv.DictReader(out.open(newline="")))
    assert list(rows[0]) == HEADER == list(COLUMNS)
    assert [(r["symbol"], r["side"], r["quantity"], r["fee_asset"]) for r in rows] == [
        ("BTCUSDT", "BUY", "0.50000000", "BTC"), ("BTCUSDT", "SELL", "0.20000000", "USDT"),
        ("ETHUSDT", "BUY", "1.00000000", "BNB"),
    ]
    first = rows[0]
    trade = world.exchange.trades["BTCUSDT"][0]
    assert first["price"] == "50000.00000000" and first["quote_quantity"] == "25000.00000000"
    assert first["fee"] == "0.00050000" and first["role"] == "taker" and first["base"] == "BTC" and first["quote"] == "USDT"
    assert first["trade_id"] == str(trade.trade_id) and first["order_id"] == str(trade.buy_order.order_id)
    assert first["time_utc"].endswith("Z") and len(first["time_utc"]) == len("2026-01-01T00:00:00.000Z")


def test_jsonl_filtered_by_symbol_and_time(traded, tmp_path):
    world, _ = traded
    out = tmp_path / "t.jsonl"
    args = ["export", "trades", "--tools-file", str(world.tools_file), "--format", "jsonl", "--symbols", "BTCUSDT",
            "-o", str(out), "--no-progress"]
    assert main(args) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["side"] for r in lines] == ["BUY", "SELL"] and {r["symbol"] for r in lines} == {"BTCUSDT"}
    assert main([*args, "--since", "2999-01-01"]) == 0
    assert out.read_text() == ""


def test_a_second_export_fetches_only_what_is_new(traded, tmp_path):
    world, history = traded
    base = ["export", "trades", "--tools-file", str(world.tools_file), "--no-progress", "-o"]
    assert main([*base, str(tmp_path / "a.csv")]) == 0
    history.bnb_fees(None)
    history.trade("BTCUSDT", "BUY", "0.1", "52000")
    before = len(world.exchange.requests_to("/api/v3/myTrades"))
    assert main([*base, str(tmp_path / "b.csv")]) == 0
    again = [r for r in world.exchange.requests_to("/api/v3/myTrades")[before:] if r.params["symbol"] == "BTCUSDT"]
    assert [r.params["fromId"] for r in again] == ["3"]  # from the checkpoint, not from the start
    assert len(list(csv.DictReader((tmp_path / "b.csv").open(newline="")))) == 4


def test_unknown_symbol_and_bad_date_are_usage_errors(traded, tmp_path, capsys):
    world, _ = traded
    base = ["export", "trades", "--tools-file", str(world.tools_file), "--no-progress"]
    assert main([*base, "--since", "yesterday"]) == 2
    assert "--since must be an ISO date" in capsys.readouterr().err
    assert main([*base, "--symbols", "NOPEUSDT", "-o", str(tmp_path / "x.csv")]) == 1
    assert "unknown or not trading symbol(s): NOPEUSDT" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_progress_bar_on_stderr(traded, tmp_path, capsys):
    world, _ = traded
    import argparse

    args = argparse.Namespace(export_command="trades", account=None, since=None, symbols=None, format="csv",
                              output=str(tmp_path / "p.csv"), no_progress=False)
    settings = load_settings(tools_file=str(world.tools_file))
    assert export_command(args, settings, Redactor(), force_bar=True) == 0
    err = capsys.readouterr().err
    assert "trade history up to date" in err and "3 trade(s) of main written" in err


def test_a_cell_a_spreadsheet_would_run_is_quoted():
    import io
    from decimal import Decimal

    from binance_spot_mcp.portfolio.costs import Fill
    from binance_spot_mcp.portfolio.export import write

    hostile = Fill("=HYPERLINK(1)", "=HYPERLINK(1)", "USDT", 1, 2, 0, True, False, Decimal("1"), Decimal("2"),
                   Decimal("2"), Decimal("0"), "@SUM")
    out = io.StringIO()
    assert write([hostile], out, "csv") == 1
    row = list(csv.DictReader(io.StringIO(out.getvalue())))[0]
    assert row["symbol"] == "'=HYPERLINK(1)" and row["fee_asset"] == "'@SUM" and row["price"] == "1"
