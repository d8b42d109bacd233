"""The audit journal: intent on disk before the outcome, no secrets, 0600, torn lines tolerated."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from binance_spot_mcp import journal as journal_module
from binance_spot_mcp.config import load_settings
from binance_spot_mcp.journal import Journal, JournalError
from binance_spot_mcp.redact import Redactor

SECRET = "journalSecretZ9y8x7w6v5u4t3s2r1q0p9o8n7m6QWERT"
API_KEY = "JKEYabcdefghijklmnopqrstuvwxyz0123456789ABCD"
PARAMS = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": "25000.5"}


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _intent(journal: Journal, **params: str) -> str:
    return journal.record_intent(
        tool="place_order",
        account="main",
        environment="testnet",
        method="POST",
        path="/api/v3/order",
        params=params or PARAMS,
    )


def test_intent_is_on_disk_and_synced_before_the_outcome(tmp_path, monkeypatch):
    path = tmp_path / "state" / "binance-spot-mcp" / "journal.jsonl"
    journal = Journal(path)
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])

    entry_id = _intent(journal)
    assert synced, "the intent line must be fsync'd before record_intent returns"
    (intent,) = _lines(path)  # read straight from the file: the intent is there, no outcome yet
    assert intent["phase"] == "intent" and intent["id"] == entry_id
    assert {k: intent[k] for k in ("tool", "account", "environment", "method", "path")} == {
        "tool": "place_order",
        "account": "main",
        "environment": "testnet",
        "method": "POST",
        "path": "/api/v3/order",
    }
    assert intent["params"] == PARAMS
    assert intent["ts"].endswith("Z") and "T" in intent["ts"]

    journal.record_outcome(entry_id, ok=True, status=200, summary={"orderId": 42, "status": "NEW"})
    first, outcome = _lines(path)
    assert first == intent
    assert (outcome["phase"], outcome["id"], outcome["ok"], outcome["status"]) == ("outcome", entry_id, True, 200)
    assert outcome["summary"] == {"orderId": 42, "status": "NEW"}
    assert journal.latest(10) == [intent, outcome]


def test_file_is_0600_and_new_directory_0700(tmp_path):
    path = tmp_path / "new" / "dir" / "journal.jsonl"
    _intent(Journal(path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_a_too_open_journal_is_tightened(tmp_path):
    path = tmp_path / "journal.jsonl"
    path.write_text("")
    os.chmod(path, 0o644)
    _intent(Journal(path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_no_secret_reaches_the_file(tmp_path):
    redactor = Redactor()
    redactor.add_api_key(API_KEY)
    redactor.add_secret(SECRET)
    path = tmp_path / "journal.jsonl"
    journal = Journal(path, redactor=redactor)
    entry_id = _intent(journal, symbol="BTCUSDT", signature="deadbeef" * 8)
    journal.record_outcome(entry_id, ok=False, status=None, summary={"error": f"echoed {SECRET} and {API_KEY}"})
    text = path.read_text()
    assert SECRET not in text and API_KEY not in text and "deadbeef" not in text
    assert "***...QWERT" in text and "JKEYa...ABCD" in text
    assert _lines(path)[0]["params"] == {"symbol": "BTCUSDT"}


def test_a_torn_last_line_is_skipped_and_not_glued_to(tmp_path):
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    first = _intent(journal)
    with open(path, "ab") as handle:
        handle.write(b'{"ts": "2025-01-01T00:00:00Z", "id": "torn", "pha')  # the crash
    assert [e["id"] for e in journal.latest(5)] == [first]
    journal.record_outcome(first, ok=True, status=200, summary={})
    entries = journal.latest(5)
    assert [(e["id"], e["phase"]) for e in entries] == [(first, "intent"), (first, "outcome")]


def test_latest_reads_only_the_tail(tmp_path, monkeypatch):
    monkeypatch.setattr(journal_module, "_READ_CHUNK", 17)  # force many backward reads
    journal = Journal(tmp_path / "journal.jsonl")
    ids = [_intent(journal, n=str(i)) for i in range(30)]
    assert [e["id"] for e in journal.latest(5)] == ids[-5:]
    assert [e["id"] for e in journal.latest(100)] == ids
    assert journal.latest(0) == []
    assert Journal(tmp_path / "missing.jsonl").latest(3) == []


def test_concurrent_writers_never_interleave(tmp_path):
    path = tmp_path / "journal.jsonl"
    journals = [Journal(path), Journal(path)]  # two objects: only the flock protects them from each other

    def write(k: int) -> None:
        for i in range(40):
            _intent(journals[k % 2], worker=str(k), i=str(i), pad="x" * 500)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    entries = _lines(path)
    assert len(entries) == 240
    assert {(e["params"]["worker"], e["params"]["i"]) for e in entries} == {
        (str(k), str(i)) for k in range(6) for i in range(40)
    }


def test_an_unwritable_journal_is_a_journal_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(JournalError, match="cannot open the journal"):
        _intent(Journal(blocker / "journal.jsonl"))


def test_journal_location_from_settings(tmp_path):
    home = {"HOME": str(tmp_path / "home")}
    default = tmp_path / "home/.local/state/binance-spot-mcp/journal.jsonl"
    assert load_settings(environ=home, cwd=tmp_path).journal_file == default
    xdg = {**home, "XDG_STATE_HOME": str(tmp_path / "xdg")}
    assert load_settings(environ=xdg, cwd=tmp_path).journal_file == tmp_path / "xdg/binance-spot-mcp/journal.jsonl"
    relative_xdg = {**home, "XDG_STATE_HOME": "rel"}
    assert load_settings(environ=relative_xdg, cwd=tmp_path).journal_file.is_relative_to(tmp_path / "home")
    explicit = {**xdg, "BINANCE_SPOT_MCP_JOURNAL": "audit/j.jsonl"}
    assert load_settings(environ=explicit, cwd=tmp_path).journal_file == tmp_path / "audit/j.jsonl"


def test_require_elicitation_setting():
    assert load_settings(environ={}).require_elicitation is False
    assert load_settings(environ={"BINANCE_SPOT_MCP_REQUIRE_ELICITATION": "1"}).require_elicitation is True
    assert load_settings(environ={"BINANCE_SPOT_MCP_REQUIRE_ELICITATION": "0"}).require_elicitation is False
    assert load_settings(environ={}, require_elicitation=True).require_elicitation is True


def test_since_reads_back_only_as_far_as_needed(tmp_path, monkeypatch):
    """Entries from the last day, across read chunks, with an old torn line ignored; policy notes kept."""
    from datetime import UTC, datetime, timedelta

    path = tmp_path / "journal.jsonl"
    now = datetime.now(UTC)
    old = [{"ts": (now - timedelta(days=2, seconds=i)).isoformat().replace("+00:00", "Z"), "id": f"old{i}", "phase": "intent"}
           for i in range(3000, 0, -1)]
    path.write_text("\n".join(json.dumps(e) for e in old) + "\n{\"torn\n")
    journal = Journal(path)
    monkeypatch.setattr(journal_module, "_READ_CHUNK", 4096)  # many chunks
    entry = journal.record_intent(tool="place_order", account="main", environment="testnet", method="POST",
                                  path="/api/v3/order", params=PARAMS, policy={"value": {"USDT": "25"}})
    journal.record_outcome(entry, ok=True, status=200, summary={})
    recent = journal.since(now - timedelta(hours=24))
    assert [e["id"] for e in recent] == [entry, entry]
    assert recent[0]["policy"] == {"value": {"USDT": "25"}}
    assert len(journal.since(now - timedelta(days=3))) == 3002
    assert Journal(tmp_path / "missing.jsonl").since(now) == []


def test_recent_entries_read_only_what_was_appended(tmp_path, monkeypatch):
    from datetime import UTC, datetime, timedelta

    from binance_spot_mcp.journal import RecentEntries

    path = tmp_path / "journal.jsonl"
    mine, other = Journal(path), Journal(path)  # two writers, e.g. two server processes
    recent = RecentEntries(mine)
    day = datetime.now(UTC) - timedelta(hours=24)
    assert recent.since(day) == []
    first = _intent(mine)
    assert [e["id"] for e in recent.since(day)] == [first]
    calls = []
    monkeypatch.setattr(Journal, "since", lambda self, cutoff: calls.append(cutoff) or [])
    second = _intent(other)
    with path.open("ab") as handle:
        handle.write(b'{"ts": "9999", "id": "half-writ')  # a line still being written: not read yet
    assert [e["id"] for e in recent.since(day)] == [first, second] and calls == []
    with path.open("ab") as handle:
        handle.write(b'ten", "phase": "outcome"}\n')
    assert [e["id"] for e in recent.since(day)] == [first, second, "half-written"]
    path.unlink()  # replaced: read again from scratch
    third = _intent(other)
    monkeypatch.undo()
    assert [e["id"] for e in recent.since(day)] == [third]
