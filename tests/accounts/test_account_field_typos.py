"""A typo in a TOOLS.md field never turns a rule off (issue 22, item 4).

``- Allowed Symbol: BTCUSDT`` or ``- Max Order Valu: 100 USDT`` used to be ignored with a stderr
warning, leaving the account trading with no list and no cap. Now an unknown field in an
account block refuses that account's state-changing requests (naming the field it resembles),
shows in ``get_safety_status`` and fails ``doctor``; reads of that account still work.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from binance_spot_mcp.accounts.store import AccountStore
from binance_spot_mcp.cli.commands import main
from binance_spot_mcp.config import load_settings
from binance_spot_mcp.redact import Redactor
from tests.e2e_support import loopback_environ, memory_client, random_token, result_json
from tests.guard.test_guard_rails import SMALL_BUY, with_account, writes

KEY, SECRET = random_token(), random_token()

TYPOS = {
    "allowed symbol": ("Allowed Symbol: BTCUSDT", "Allowed Symbols"),
    "max order valu": ("Max Order Valu: 100 USDT", "Max Order Value"),
    "dry rn": ("Dry Rn: true", "Dry Run"),
    "confirn": ("Confirn: always", "Confirm"),
    "denied symbol": ("Denied Symbol: BTC*", "Denied Symbols"),
    "max daily valeu": ("Max Daily Valeu: 10 USDT", "Max Daily Value"),
}


def _store(tmp_path: Path, lines: str) -> AccountStore:
    path = tmp_path / "TOOLS.md"
    path.write_text(f"## Binance Accounts\n### a\n- API Key: {KEY}\n- Secret: {SECRET}\n- Environment: testnet\n{lines}")
    return AccountStore(load_settings(tools_file=str(path), environ={}), Redactor())


@pytest.mark.parametrize("case", sorted(TYPOS), ids=sorted(TYPOS))
def test_a_misspelt_field_is_kept_on_the_account_with_a_suggestion(tmp_path, case):
    line, meant = TYPOS[case]
    account = _store(tmp_path, f"- {line}\n").resolve("a")  # still usable: reads work
    assert len(account.field_problems) == 1
    problem = account.field_problems[0]
    assert problem.startswith(f"TOOLS.md line 6: unknown field '{line.split(':')[0]}'"), problem
    assert f"did you mean '{meant}'?" in problem


def test_a_field_like_nothing_known_lists_the_known_ones(tmp_path):
    account = _store(tmp_path, "- Colour: blue\n").resolve("a")
    (problem,) = account.field_problems
    assert "unknown field 'Colour'" in problem and "did you mean" not in problem
    assert "Allowed Symbols" in problem and "Max Order Value" in problem and "API Key" in problem


def test_every_documented_and_accepted_field_is_known(tmp_path):
    """Existing files keep working: every field TOOLS.md.example documents, and the spellings the
    reader has always accepted (Secret Key, Testnet, any case), give no problem."""
    example = (Path(__file__).parents[2] / "TOOLS.md.example").read_text()
    table = [line.split("|")[1].strip() for line in example.splitlines() if line.startswith("| ") and "---" not in line]
    documented = [name for name in table if name != "Field"]
    assert {"API Key", "Allowed Symbols", "Max Daily Value", "Chat Confirm", "Base URL"} <= set(documented)
    lines = "".join(
        f"- {name.lower() if i % 2 else name.upper()}: x\n" for i, name in enumerate(documented) if name not in
        ("API Key", "Secret", "Environment", "Private Key File", "Private Key Passphrase", "Testnet", "Base URL")
    )
    body = f"{lines}- Secret Key: {SECRET}\n"
    current = _store(tmp_path, body).current()
    problems = " ".join(current.problems)
    assert "unknown field" not in problems, problems


@pytest.mark.anyio
async def test_a_typo_refuses_changes_but_not_reads_and_shows_in_safety_status(world):
    with_account(world, "capped", "Max Order Valu: 100 USDT", "Allowed Symbol: BTCUSDT")
    async with memory_client(world.tools_file, "auto", world.base_url) as client:
        big = await client.call_tool("place_order", {**SMALL_BUY, "quantity": "0.01", "account": "capped"})
        other = await client.call_tool("place_order", {**SMALL_BUY, "account": "capped"})  # 54 USDT of BTCUSDT
        cancel = await client.call_tool("cancel_order", {"symbol": "BTCUSDT", "orderId": 1, "account": "capped"})
        read = await client.call_tool("get_open_orders", {"symbol": "BTCUSDT", "account": "capped"})
        fine = await client.call_tool("place_order", {**SMALL_BUY, "account": "rsa"})  # another key
        status = result_json(await client.call_tool("get_safety_status", {}))
    for result in (big, other, cancel):
        assert result.is_error, result
        body = result_json(result)
        assert body["error"] == "policy_refused" and body["rule"] == "unknown field", body
        assert "did you mean 'Max Order Value'?" in body["message"]
        assert "did you mean 'Allowed Symbols'?" in body["message"]
    assert not read.is_error, result_json(read)
    assert not fine.is_error  # an account with another key is not affected
    assert len(writes(world)) == 1  # only rsa's order reached the exchange
    row = next(a for a in status["accounts"] if a["account"] == "capped")
    text = json.dumps(row["problems"])
    assert "did you mean 'Max Order Value'?" in text and "did you mean 'Allowed Symbols'?" in text
    assert "problems" not in next(a for a in status["accounts"] if a["account"] == "rsa")


@pytest.mark.anyio
async def test_a_typo_in_a_dry_run_account_is_reported_in_its_verdict(world):
    with_account(world, "dry", "Dry Run: true", "Max Order Valu: 100 USDT")
    async with memory_client(world.tools_file, "auto", world.base_url) as client:
        result = await client.call_tool("place_order", {**SMALL_BUY, "account": "dry"})
    assert "did you mean 'Max Order Value'?" in json.dumps(result_json(result))
    assert not writes(world)


def test_doctor_fails_on_a_typo_naming_the_field_it_resembles(world, capsys, monkeypatch, cli_isolation):
    for name, value in loopback_environ(world.base_url, world.tools_file.parent).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BINANCE_SPOT_MCP_MAX_ORDER_VALUE", "1000 USDT")
    with_account(world, "capped", "Allowed Symbol: BTCUSDT")
    code = main(["--tools-file", str(world.tools_file), "doctor", "--offline"])
    out = capsys.readouterr().out
    assert code == 1, out
    fail = [line for line in out.splitlines() if line.strip().startswith("FAIL") and "capped" in line]
    assert fail and "did you mean 'Allowed Symbols'?" in fail[0], out


@pytest.mark.anyio
async def test_a_typo_refuses_the_changes_of_every_entry_sharing_the_key(world):
    """Rules follow the Binance account (the API key): a second entry for the same key cannot be
    used to get around a misspelt, so possibly missing, rule."""
    with_account(world, "capped", "Max Order Valu: 100 USDT")
    with_account(world, "twin")  # the same key as 'capped' (and 'main')
    async with memory_client(world.tools_file, "auto", world.base_url) as client:
        results = [await client.call_tool("place_order", {**SMALL_BUY, "account": name}) for name in ("twin", "main")]
    for result in results:
        assert result.is_error and result_json(result)["rule"] == "unknown field", result_json(result)
        assert "did you mean 'Max Order Value'?" in result_json(result)["message"]
    assert not writes(world)


def test_replacing_an_account_keeps_its_unknown_lines_so_it_still_refuses(tmp_path):
    """A replacement (add_account with replace, accounts add --replace) keeps the operator's rule
    lines; a misspelt one may be a rule, so it is kept too and the new entry refuses as the old did."""
    from binance_spot_mcp.accounts.writing import AccountEntry, with_account as write_account

    body = "## Binance Accounts\n### a\n- API Key: K\n- Secret: S\n- Environment: testnet\n"
    text = body + "- Max Order Valu: 100 USDT\n- Dry Run: true\n- Colour: blue\n"
    new = write_account(text, AccountEntry("a", "testnet", KEY, secret=SECRET), replace=True)
    assert "- Max Order Valu: 100 USDT\n" in new and "- Dry Run: true\n" in new and "- Colour: blue\n" in new
    assert "- API Key: K\n" not in new and f"- API Key: {KEY}\n" in new
    path = tmp_path / "TOOLS.md"
    path.write_text(new)
    account = AccountStore(load_settings(tools_file=str(path), environ={}), Redactor()).resolve("a")
    assert any("did you mean 'Max Order Value'?" in p for p in account.field_problems)
