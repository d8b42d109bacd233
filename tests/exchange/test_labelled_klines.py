"""Klines a model reads well: ``get_klines`` and ``get_ui_klines`` answer with the column names
once and then the rows (Binance's bare arrays, without the unused last field), and ``raw: true``
gives Binance's wire shape as it came."""

from __future__ import annotations

import pytest

from binance_spot_mcp.catalog.endpoints import load_catalog
from binance_spot_mcp.catalog.schema import prepare_arguments
from binance_spot_mcp.errors import ToolInputError
from binance_spot_mcp.exchange.labels import KLINE_COLUMNS, label_reply
from tests.e2e_support import ERAS, memory_client, result_json

ROW = [1499040000000, "0.01634790", "0.80000000", "0.01575800", "0.01577100", "148976.11427815",
       1499644799999, "2434.19055334", 308, "1756.87402397", "28.46694368", "0"]


def test_rows_under_named_columns():
    labelled = label_reply("get_klines", [ROW, ROW])
    assert labelled == {"columns": list(KLINE_COLUMNS), "rows": [ROW[:11], ROW[:11]]}
    assert KLINE_COLUMNS[:6] == ("openTime", "open", "high", "low", "close", "volume")
    assert label_reply("get_ui_klines", []) == {"columns": list(KLINE_COLUMNS), "rows": []}
    assert label_reply("get_ticker_price", [ROW]) == [ROW]  # other tools untouched
    assert label_reply("get_klines", {"code": -1}) == {"code": -1}  # not klines: as it came


def test_raw_is_a_boolean_of_the_klines_tools_only():
    catalog = load_catalog()
    prepared = prepare_arguments(catalog.get("get_klines"), {"symbol": "BTCUSDT", "interval": "1m", "raw": True})
    assert prepared.raw is True and "raw" not in dict(prepared.params)  # never sent to Binance
    with pytest.raises(ToolInputError, match="'raw' must be true or false"):
        prepare_arguments(catalog.get("get_klines"), {"symbol": "BTCUSDT", "interval": "1m", "raw": "yes"})
    with pytest.raises(ToolInputError, match="unknown parameter"):
        prepare_arguments(catalog.get("get_ticker_price"), {"symbol": "BTCUSDT", "raw": True})


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ERAS)
async def test_klines_over_a_client(world, mode):
    args = {"symbol": "BTCUSDT", "interval": "1m", "limit": 3, "environment": "testnet"}
    async with memory_client(world.tools_file, mode, world.base_url) as client:
        labelled = result_json(await client.call_tool("get_klines", args))
        raw = result_json(await client.call_tool("get_klines", {**args, "raw": True}))
        ui = result_json(await client.call_tool("get_ui_klines", args))
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert labelled["columns"] == list(KLINE_COLUMNS) and ui["columns"] == list(KLINE_COLUMNS)
    assert isinstance(raw, list) and raw and len(raw[0]) == 12
    assert len(labelled["rows"]) == len(raw) and all(len(row) == 11 for row in labelled["rows"])
    assert [row[0] for row in labelled["rows"]] == [row[0] for row in raw]  # the same bars, by open time
    assert tools["get_klines"].input_schema["properties"]["raw"] == {"type": "boolean"}
