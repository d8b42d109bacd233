"""`accounts add --environment paper` (no key asked for) and `accounts reset NAME` (after a prompt)."""

from __future__ import annotations

import getpass
from decimal import Decimal
from pathlib import Path

import pytest
from binance_spot_mcp.accounts.store import AccountStore
from binance_spot_mcp.cli import main
from binance_spot_mcp.config import load_settings
from binance_spot_mcp.paper.ledger import Ledger
from binance_spot_mcp.redact import Redactor
from binance_spot_mcp.store import open_store


@pytest.fixture(autouse=True)
def _isolated(cli_isolation, monkeypatch):
    def no_prompt(*_args, **_kwargs):  # a paper account must never ask for a key
        raise AssertionError("a key was asked for")

    monkeypatch.setattr(getpass, "getpass", no_prompt)


def _run(tools: Path, *args: str) -> int:
    return main(["--tools-file", str(tools), *args])


def _seed(tmp_path: Path, name: str) -> Ledger:
    ledger = Ledger(open_store(tmp_path))  # the journal's folder: the test's own state directory
    with ledger.store.write() as db:
        ledger.ensure_account(db, name, [("USDT", Decimal(500))], 1)
        ledger.move(db, name, "USDT", free=Decimal(-100))
        ledger.move(db, name, "BTC", free=Decimal("0.01"))
    return ledger


def test_a_paper_account_is_added_without_any_key_and_reads_back(tmp_path, capsys):
    tools = tmp_path / "TOOLS.md"
    assert _run(tools, "accounts", "add", "practice", "--environment", "paper", "--paper-balances", "500 USDT, 0.01 BTC",
                "--description", "my paper desk") == 0
    out = capsys.readouterr().out
    assert "Added paper account 'practice'" in out and "starts with 500 USDT, 0.01 BTC" in out
    text = tools.read_text()
    assert "- Environment: paper" in text and "- Paper Balances: 500 USDT, 0.01 BTC" in text and "API Key" not in text
    account = AccountStore(load_settings(tools_file=str(tools), environ={}), Redactor()).resolve("practice")
    assert account.paper is not None and account.paper.balances == (("USDT", Decimal(500)), ("BTC", Decimal("0.01")))
    with pytest.raises(SystemExit):  # no such environment
        _run(tools, "accounts", "add", "x", "--environment", "papre")
    assert _run(tools, "accounts", "add", "bad", "--environment", "paper", "--paper-balances", "lots") == 1
    assert "paper balances" in capsys.readouterr().err
    assert _run(tools, "accounts", "add", "odd", "--environment", "testnet", "--paper-balances", "5 USDT") == 1


def test_reset_forgets_a_paper_accounts_state_only_when_confirmed(tmp_path, capsys, monkeypatch):
    tools = tmp_path / "TOOLS.md"
    assert _run(tools, "accounts", "add", "practice", "--environment", "paper", "--paper-balances", "500 USDT") == 0
    ledger = _seed(tmp_path, "practice")
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert _run(tools, "accounts", "reset", "practice") == 1  # no terminal to ask and no --yes
    assert "--yes" in capsys.readouterr().err
    with ledger.store.read() as db:
        assert ledger.balances(db, "practice")["BTC"] == (Decimal("0.01"), Decimal(0))  # untouched

    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda _prompt: "not it")
    assert _run(tools, "accounts", "reset", "practice") == 1
    with ledger.store.read() as db:
        assert ledger.balances(db, "practice") != {}
    monkeypatch.setattr("builtins.input", lambda _prompt: "practice")
    assert _run(tools, "accounts", "reset", "practice") == 0
    assert "Paper account 'practice' was reset: it starts with 500 USDT" in capsys.readouterr().out
    with ledger.store.read() as db:
        assert ledger.balances(db, "practice") == {}  # recreated from the starting balances on next use
    journal = (tmp_path / "journal.jsonl").read_text()
    assert '"reset"' in journal and '"practice"' in journal


def test_only_a_paper_account_can_be_reset(tmp_path, capsys):
    tools = tmp_path / "TOOLS.md"
    tools.write_text("## Binance Accounts\n### real\n- API Key: " + "k" * 64 + "\n- Secret: " + "s" * 64
                     + "\n- Environment: testnet\n")
    tools.chmod(0o600)
    assert _run(tools, "accounts", "reset", "real", "--yes") == 1
    assert "only a paper account can be reset" in capsys.readouterr().err
