"""The JSON checks CI's MCP Inspector step (.ci/inspector) applies to the Inspector's output."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("inspector_check", ROOT / ".ci" / "inspector_check.py")
check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check)

KEY, SECRET = "k" * 64, "s" * 64


def listing(*names: str) -> str:
    return json.dumps({"result": {"tools": [{"name": n, "inputSchema": {"type": "object"}} for n in names]}})


def call(payload: object, *, is_error: bool = False) -> str:
    text = json.dumps(payload)
    return json.dumps({"result": {"content": [{"type": "text", "text": text}], "isError": is_error}})


def test_tools_list_needs_the_expected_names_and_enough_tools():
    text = listing("get_ticker_price", "get_account", *[f"t{i}" for i in range(40)])
    assert "42 tools" in check.check_tools_list(text, ["get_ticker_price", "get_account"], 40)
    with pytest.raises(check.CheckFailed, match="missing.*place_order"):
        check.check_tools_list(text, ["place_order"], 1)
    with pytest.raises(check.CheckFailed, match="only 42 tools"):
        check.check_tools_list(text, [], 50)
    with pytest.raises(check.CheckFailed, match="duplicate"):
        check.check_tools_list(listing("a", "a"), [], 1)


def test_inspector_errors_and_non_json_fail():
    with pytest.raises(check.CheckFailed, match="reported an error"):
        check.check_tools_list(json.dumps({"error": {"code": "tool_is_error"}}), [], 1)
    with pytest.raises(check.CheckFailed, match="not one JSON object"):
        check.check_tools_list("Schema portability: 0 errors\n{}", [], 1)


def test_call_finds_keys_anywhere_and_checks_values():
    price = call({"symbol": "BTCUSDT", "price": "60000.00000000"})
    assert check.check_call(price, ["symbol"], ["price"], []) == "price=60000.00000000, symbol present"
    account = call({"account": "main", "data": {"canTrade": True, "balances": [{"asset": "BTC"}]}})
    assert check.check_call(account, ["balances"], [], ["canTrade"]) == "canTrade=true, balances: 1 items"
    with pytest.raises(check.CheckFailed, match="positive decimal"):
        check.check_call(call({"price": 1.5}), [], ["price"], [])
    with pytest.raises(check.CheckFailed, match="'canTrade' is not true"):
        check.check_call(call({"canTrade": False}), [], [], ["canTrade"])
    with pytest.raises(check.CheckFailed, match="no 'balances'"):
        check.check_call(call({"canTrade": True}), ["balances"], [], [])
    with pytest.raises(check.CheckFailed, match="is an error"):
        check.check_call(call({"error": "x"}, is_error=True), [], [], [])


def test_secrets_are_found_and_masked_never_printed(tmp_path, capsys):
    keys = tmp_path / "keys.txt"
    keys.write_text(f"# comment\n{KEY}:{SECRET}\ntoken-only\n")
    secrets = check.read_secrets(keys)
    assert secrets == [KEY, SECRET, "token-only"]
    assert "no full API key" in check.check_no_secrets(secrets, {"a.out": f"{KEY[:8]}…", "b.err": "fine"})
    with pytest.raises(check.CheckFailed, match="b.err") as caught:
        check.check_no_secrets(secrets, {"a.out": "fine", "b.err": f"secret={SECRET}"})
    assert SECRET not in str(caught.value)
    leaked = tmp_path / "leak.err"
    leaked.write_text(f"key {KEY} secret {SECRET}\n")
    assert check.main(["no-secrets", "--secrets-file", str(keys), str(leaked)]) == 1
    assert check.main(["show", "--secrets-file", str(keys), str(leaked)]) == 0
    printed = capsys.readouterr().out
    assert KEY not in printed and SECRET not in printed and "key *** secret ***" in printed
