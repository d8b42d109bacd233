"""``binance-spot-mcp journal`` filters by account, symbol and time: an intent is shown when it
names the account and symbol asked for, its outcome with it; ``--since``/``--until`` take an ISO
date or time (UTC) or a span back from now; ``-n`` counts the matching entries."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from binance_spot_mcp.cli.journal_filter import JournalFilter, parse_when
from tests.e2e_support import console_script

NOW = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)


def _ts(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _pair(n: int, when: datetime, account: str, symbol: str) -> list[dict]:
    intent = {"ts": _ts(when), "id": f"j{n}", "phase": "intent", "tool": "place_order", "account": account,
              "environment": "testnet", "method": "POST", "path": "/api/v3/order",
              "params": {"symbol": symbol, "side": "BUY", "type": "MARKET", "quantity": "0.001"}}
    outcome = {"ts": _ts(when + timedelta(seconds=1)), "id": f"j{n}", "phase": "outcome", "ok": True, "status": 200,
               "summary": {"status": "FILLED"}}
    return [intent, outcome]


@pytest.fixture
def journal_file(tmp_path: Path) -> Path:
    entries = (
        _pair(1, datetime(2026, 12, 1, 9, 0, tzinfo=UTC), "main", "BTCUSDT")
        + _pair(2, datetime(2026, 12, 5, 9, 0, tzinfo=UTC), "old", "ETHUSDT")
        + _pair(3, datetime(2026, 12, 6, 9, 0, tzinfo=UTC), "main", "ETHUSDT")
        + [{"ts": _ts(datetime(2026, 12, 6, 10, 0, tzinfo=UTC)), "id": "j4", "phase": "account_change",
            "action": "add", "account": "old", "environment": "testnet", "via": "cli"}]
    )
    path = tmp_path / "journal.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in entries))
    path.chmod(0o600)
    return path


def _journal(journal_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BINANCE_SPOT_MCP_JOURNAL": str(journal_file), "HOME": str(journal_file.parent)}
    return subprocess.run([console_script(), "journal", "--json", *args], capture_output=True, text=True,
                          timeout=60, env=env, cwd=journal_file.parent, check=False)


def _ids(done: subprocess.CompletedProcess[str]) -> list[tuple[str, str]]:
    assert done.returncode == 0, done.stderr
    return [(e["id"], e["phase"]) for e in json.loads(done.stdout)]


def test_account_filter_keeps_the_outcomes_of_its_intents(journal_file: Path):
    assert _ids(_journal(journal_file, "--account", "main")) == [
        ("j1", "intent"), ("j1", "outcome"), ("j3", "intent"), ("j3", "outcome")]
    assert _ids(_journal(journal_file, "--account", "old")) == [
        ("j2", "intent"), ("j2", "outcome"), ("j4", "account_change")]


def test_symbol_filter_takes_any_case(journal_file: Path):
    assert _ids(_journal(journal_file, "--symbol", "ethusdt")) == [
        ("j2", "intent"), ("j2", "outcome"), ("j3", "intent"), ("j3", "outcome")]
    assert _ids(_journal(journal_file, "--symbol", "ETHUSDT", "--account", "main")) == [("j3", "intent"), ("j3", "outcome")]


def test_time_filters_and_n(journal_file: Path):
    assert _ids(_journal(journal_file, "--since", "2026-12-05", "--until", "2026-12-06T00:00Z")) == [
        ("j2", "intent"), ("j2", "outcome")]
    assert _ids(_journal(journal_file, "--since", "2026-12-06", "-n", "2")) == [("j3", "outcome"), ("j4", "account_change")]


def test_a_bad_time_is_a_usage_error(journal_file: Path):
    done = _journal(journal_file, "--since", "yesterday")
    assert done.returncode == 1 and "'yesterday' is not a time" in done.stderr


def test_spans_count_back_from_now():
    assert parse_when("24h", now=NOW) == NOW - timedelta(hours=24)
    assert parse_when("7d", now=NOW) == NOW - timedelta(days=7)
    assert parse_when("2026-12-07T05:00") == NOW  # no zone: UTC
    assert not JournalFilter().active and JournalFilter(symbol="X").active
