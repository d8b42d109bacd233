"""Guard rules pinned because a mutation run (issue 22) showed no test read them: the kill switch's
halt file and its messages, what the rolling daily total counts and whose it is, and the safety
status payload. Fast, in-process unit tests (each is in its module's ``mutation/run.py`` selection).
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import re
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from binance_spot_mcp import policy
from binance_spot_mcp.accounts.reading import Account, fingerprint
from binance_spot_mcp.catalog.endpoints import load_catalog
from binance_spot_mcp.catalog.toolsets import Selection
from binance_spot_mcp.config import HALT_FILE_NAME, load_settings
from binance_spot_mcp.errors import ConfigError, PolicyRefused
from binance_spot_mcp.exchange.signing import HmacSigner
from binance_spot_mcp.guard import daily, enforce, killswitch, safety
from binance_spot_mcp.journal import Journal
from binance_spot_mcp.policy import Rules, effective_policy

from tests.e2e_support import memory_client, result_json
from tests.guard.test_guard_rails import (
    GTC,
    SMALL_BUY,
    journal,
    refused,
    set_rules,
    with_account,
    writes,
)

# -- the kill switch ------------------------------------------------------------------------------


def _settings(tmp_path: Path, **env: str) -> Any:
    return load_settings(tools_file=str(tmp_path / "TOOLS.md"),
                         environ={"BINANCE_SPOT_MCP_JOURNAL": str(tmp_path / "j" / "journal.jsonl"), **env})


def test_without_a_named_halt_file_the_switch_lives_next_to_the_journal(tmp_path):
    settings = dataclasses.replace(_settings(tmp_path), halt_file=None)
    assert killswitch.halt_path(settings) == tmp_path / "j" / HALT_FILE_NAME


def test_halt_writes_a_private_note_that_state_reads_back(tmp_path):
    settings = _settings(tmp_path)
    old = os.umask(0)  # the modes below are the code's, not the test's umask
    try:
        path = killswitch.halt(settings, "flash crash")
    finally:
        os.umask(old)
    assert path == killswitch.halt_path(settings) and path.parent == tmp_path / "j"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n") and text.count("\n") == 1
    note = json.loads(text)
    assert note["reason"] == "flash crash"
    halted_at = datetime.fromisoformat(note["halted_at"])
    assert halted_at.tzinfo is not None and abs(datetime.now(UTC) - halted_at) < timedelta(minutes=1)
    assert note["halted_at"].endswith("+00:00") and "." not in note["halted_at"]  # whole seconds, UTC
    state = killswitch.state(settings)
    assert state == killswitch.SwitchState(False, f"the halt file {path} exists: flash crash", killswitch.HALT_FILE_HINT)
    assert state.describe() == {"trading": "off", "reason": f"the halt file {path} exists: flash crash"}


def test_halt_again_replaces_the_note_and_caps_the_reason(tmp_path):
    settings = _settings(tmp_path)
    path = killswitch.halt(settings, "x" * 500)
    assert json.loads(path.read_text(encoding="utf-8"))["reason"] == "x" * killswitch.MAX_REASON_CHARS
    assert killswitch.state(settings).reason == f"the halt file {path} exists: {'x' * killswitch.MAX_REASON_CHARS}"
    killswitch.halt(settings, "short")  # a shorter note replaces the longer one whole
    assert json.loads(path.read_text(encoding="utf-8"))["reason"] == "short"
    assert killswitch.state(settings).reason == f"the halt file {path} exists: short"


STATE_IN_ASCII_LOCALE = """
import json, sys
from binance_spot_mcp.config import load_settings
from binance_spot_mcp.guard import killswitch
settings = load_settings(tools_file=sys.argv[1] + "/TOOLS.md",
                         environ={"BINANCE_SPOT_MCP_JOURNAL": sys.argv[1] + "/j/journal.jsonl"})
print(json.dumps(killswitch.state(settings).reason))
"""


def test_a_halt_file_written_by_hand_is_read_as_utf8_whatever_the_locale(tmp_path):
    settings = _settings(tmp_path)
    path = killswitch.halt_path(settings)
    path.parent.mkdir(parents=True)
    path.write_bytes('{"reason": "caf\u00e9 \u2615"}'.encode())  # raw UTF-8, as an editor writes it
    assert killswitch.state(settings).reason == f"the halt file {path} exists: caf\u00e9 \u2615"  # here, and
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG", "PYTHON"))},
           "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0", "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", STATE_IN_ASCII_LOCALE, str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == f"the halt file {path} exists: caf\u00e9 \u2615"  # in an ASCII locale


def test_a_long_reason_written_by_hand_is_cut_when_read(tmp_path):
    settings = _settings(tmp_path)
    path = killswitch.halt_path(settings)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"reason": "y" * 300}), encoding="utf-8")
    assert killswitch.state(settings).reason == f"the halt file {path} exists: {'y' * killswitch.MAX_REASON_CHARS}"


@pytest.mark.parametrize("content", [
    pytest.param(b"", id="empty"),
    pytest.param(b"[\"reason\"]", id="a-list"),
    pytest.param(b"\"stop\"", id="a-string"),
    pytest.param(b"{\"reason\": \"\"}", id="empty-reason"),
    pytest.param(b"{\"halted_at\": \"x\"}", id="no-reason"),
    pytest.param(b"not json", id="not-json"),
    pytest.param(b"\xff\xfe{\"reason\": \"x\"}", id="not-utf8"),
])
def test_any_halt_file_halts_and_only_a_written_reason_is_shown(tmp_path, content):
    settings = _settings(tmp_path)
    path = killswitch.halt_path(settings)
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    assert killswitch.state(settings) == killswitch.SwitchState(
        False, f"the halt file {path} exists", killswitch.HALT_FILE_HINT)


def test_a_reason_in_a_file_not_utf8_elsewhere_is_still_read(tmp_path):
    settings = _settings(tmp_path)
    path = killswitch.halt_path(settings)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"{\"reason\": \"caf\xc3\xa9 \xff\"}")  # UTF-8 text with one stray byte
    assert killswitch.state(settings).reason == f"the halt file {path} exists: caf\u00e9 \ufffd"


def test_only_the_first_thousand_characters_of_a_halt_file_are_read(tmp_path):
    settings = _settings(tmp_path)
    path = killswitch.halt_path(settings)
    path.parent.mkdir(parents=True)
    exact = json.dumps({"reason": "z" * 986})  # 1000 characters, the closing brace last
    assert len(exact) == 1000
    path.write_text(exact, encoding="utf-8")
    assert killswitch.state(settings).reason.endswith(f"exists: {'z' * killswitch.MAX_REASON_CHARS}")
    path.write_text(" " + exact, encoding="utf-8")  # the closing brace is character 1001: not read
    assert killswitch.state(settings).reason == f"the halt file {path} exists"


def test_a_directory_where_the_halt_file_should_be_halts(tmp_path):
    settings = _settings(tmp_path)
    path = killswitch.halt_path(settings)
    path.mkdir(parents=True)
    assert killswitch.state(settings) == killswitch.SwitchState(
        False, f"the halt file {path} exists (unreadable)", killswitch.HALT_FILE_HINT)


def test_trading_off_by_the_server_names_the_switch_and_the_restart(tmp_path):
    state = killswitch.state(_settings(tmp_path, BINANCE_SPOT_MCP_TRADING="off"))
    assert state.trading is False
    assert state.reason == "the server was started with BINANCE_SPOT_MCP_TRADING=off"
    assert state.hint == ("Cancels still work. Only the operator can turn trading back on, by restarting the server "
                          "without BINANCE_SPOT_MCP_TRADING=off ('resume' only removes a halt file).")
    assert state.describe() == {"trading": "off", "reason": state.reason}


def test_trading_on_describes_itself_without_a_reason(tmp_path):
    state = killswitch.state(_settings(tmp_path))
    assert state == killswitch.SwitchState(True) and state.describe() == {"trading": "on"}


def test_resume_removes_the_halt_file_and_says_whether_there_was_one(tmp_path):
    settings = _settings(tmp_path)
    assert killswitch.resume(settings) is False
    path = killswitch.halt(settings)
    assert killswitch.resume(settings) is True and not path.exists()
    assert killswitch.state(settings).trading is True


def test_resume_that_cannot_remove_the_file_says_so(tmp_path):
    settings = _settings(tmp_path)
    path = killswitch.halt_path(settings)
    (path / "inside").mkdir(parents=True)  # a directory cannot be unlinked
    with pytest.raises(ConfigError) as caught:
        killswitch.resume(settings)
    assert str(caught.value) in (f"cannot remove the halt file {path}: {os.strerror(errno.EISDIR)}",
                                 f"cannot remove the halt file {path}: {os.strerror(errno.EPERM)}")


def test_an_os_error_without_a_text_is_named_by_its_kind(tmp_path, monkeypatch):
    settings = _settings(tmp_path)
    path = killswitch.halt(settings)

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError()  # no errno, no strerror

    monkeypatch.setattr(Path, "unlink", fail)
    with pytest.raises(ConfigError, match=f"^cannot remove the halt file {re.escape(str(path))}: PermissionError$"):
        killswitch.resume(settings)
    monkeypatch.setattr(os, "open", fail)
    with pytest.raises(ConfigError, match=f"^cannot create the halt file {re.escape(str(path))}: PermissionError$"):
        killswitch.halt(settings)


def test_halt_that_cannot_create_the_file_says_so(tmp_path):
    settings = _settings(tmp_path)
    (tmp_path / "j").write_text("a file where the directory should be")
    with pytest.raises(ConfigError) as caught:
        killswitch.halt(settings, "stop")
    message = str(caught.value)
    assert message.startswith(f"cannot create the halt file {killswitch.halt_path(settings)}: ")
    assert message.removeprefix(f"cannot create the halt file {killswitch.halt_path(settings)}: ") in (
        "File exists", "Not a directory")


def test_halt_creates_missing_parent_directories(tmp_path):
    settings = _settings(tmp_path, BINANCE_SPOT_MCP_HALT_FILE=str(tmp_path / "a" / "b" / "STOP"))
    assert killswitch.halt(settings) == tmp_path / "a" / "b" / "STOP"
    assert json.loads((tmp_path / "a" / "b" / "STOP").read_text(encoding="utf-8"))["reason"] == ""


# -- the rolling daily total: what counts, and whose --------------------------------------------


def _account(name: str = "a", environment: str = "testnet", key: str = "k" * 64) -> Account:
    return Account(name=name, environment=environment, api_key=key, signer=HmacSigner("s" * 64))


def test_the_key_identity_is_a_digest_of_environment_and_key():
    main, same = _account("main"), _account("other")
    assert daily.key_identity(main) == daily.key_identity(same)  # the entry's name plays no part
    assert daily.key_identity(main) != daily.key_identity(_account("main", environment="mainnet"))
    assert daily.key_identity(main) != daily.key_identity(_account("main", key="j" * 64))
    assert daily.key_identity(main) == fingerprint("daily total", "testnet", "k" * 64)
    assert "k" * 16 not in daily.key_identity(main)


def test_only_order_placing_tools_add_to_the_daily_total():
    catalog = load_catalog()
    adds = {name for name in ("place_order", "cancel_replace_order", "place_order_list_oco", "cancel_order",
                              "cancel_open_orders", "amend_order_keep_priority", "get_order")
            if daily.adds_to_daily_total(catalog.get(name))}
    assert adds == {"place_order", "cancel_replace_order", "place_order_list_oco"}


@pytest.mark.parametrize(("intent_policy", "outcome", "counted"), [
    pytest.param({"dry_run": True}, None, False, id="dry-run"),
    pytest.param({"refused": "max order value"}, None, False, id="refused"),
    pytest.param({"dry_run": False, "refused": ""}, None, True, id="falsy-flags-in-flight"),
    pytest.param({}, {"ok": True, "status": 200, "summary": {}}, True, id="ok"),
    pytest.param({}, {"ok": False, "status": None, "summary": {"not_sent": "journal"}}, False, id="not-sent"),
    pytest.param({}, {"ok": False, "status": None, "summary": {"may_have_executed": False}}, False, id="not-executed"),
    pytest.param({}, {"ok": False, "status": None, "summary": {"may_have_executed": None}}, True, id="executed-unknown"),
    pytest.param({}, {"ok": False, "status": 500, "summary": {"may_have_executed": True}}, True, id="500-may-have"),
    pytest.param({}, {"ok": False, "status": None}, True, id="no-summary"),
    pytest.param({}, {"ok": False, "status": 399, "summary": {}}, True, id="399-counts"),
    pytest.param({}, {"ok": False, "status": 400, "summary": {}}, False, id="400-rejected"),
    pytest.param({}, {"ok": False, "status": 499, "summary": {}}, False, id="499-rejected"),
    pytest.param({}, {"ok": False, "status": 500, "summary": {}}, True, id="500-counts"),
    pytest.param({}, {"ok": False, "status": "400", "summary": {}}, True, id="status-not-a-number"),
    pytest.param({}, {"ok": False, "status": 409, "summary": {}}, True, id="409-unread"),
    pytest.param({}, {"ok": False, "status": 409, "summary": {"newOrderResult": "NOT_ATTEMPTED"}}, False,
                 id="409-not-attempted"),
    pytest.param({}, {"ok": False, "status": 400, "summary": {"newOrderResult": "SUCCESS"}}, True, id="400-placed"),
    pytest.param({}, {"ok": False, "status": 400, "summary": {"newOrderResult": "FAILURE"}}, False, id="400-failure"),
])
def test_what_the_daily_total_counts(intent_policy, outcome, counted):
    intent = {"phase": "intent", **({"policy": intent_policy} if intent_policy else {})}
    assert daily.counts(intent, outcome) is counted


def test_an_owner_made_of_an_account_uses_its_key_and_environment():
    account = _account("main")
    owner = daily.Owner.of(account, ())
    assert owner == daily.Owner(daily.key_identity(account), "testnet", ("main",))
    assert daily.Owner.of(account, ["main", "alias"]).names == ("main", "alias")


@pytest.mark.parametrize(("intent", "owned"), [
    pytest.param({"key": "K", "account": "other", "environment": "mainnet"}, True, id="same-key-any-name"),
    pytest.param({"key": "J", "account": "main", "environment": "testnet"}, False, id="other-key-same-name"),
    pytest.param({"key": None, "account": "main", "environment": "testnet"}, False, id="key-null"),
    pytest.param({"account": "main", "environment": "testnet"}, True, id="old-line-same-name"),
    pytest.param({"account": "alias", "environment": "testnet"}, True, id="old-line-sharing-name"),
    pytest.param({"account": "main", "environment": "mainnet"}, False, id="old-line-other-environment"),
    pytest.param({"account": "else", "environment": "testnet"}, False, id="old-line-other-name"),
])
def test_whose_line_it_is(intent, owned):
    assert daily.Owner("K", "testnet", ("main", "alias")).owns(intent) is owned


def test_an_owner_by_name_only_ignores_keys_and_environments():
    owner = daily.Owner(None, None, ("main",))
    assert owner.owns({"key": "K", "account": "main", "environment": "mainnet"})
    assert not owner.owns({"key": "K", "account": "other", "environment": "testnet"})


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _line(entry: str, *, ago: timedelta = timedelta(minutes=1), phase: str = "intent", tool: str = "place_order",
          account: str = "main", **extra: Any) -> dict[str, Any]:
    return {"ts": _stamp(datetime.now(UTC) - ago), "id": entry, "phase": phase, "tool": tool, "account": account,
            "environment": "testnet", **extra}


def _journal(tmp_path: Path, lines: list[dict[str, Any]]) -> Journal:
    path = tmp_path / "journal.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return Journal(path)


def test_recorded_spent_sums_counted_orders_of_the_last_24_hours(tmp_path):
    value = {"policy": {"value": {"USDT": "10.5", "BTC": "0.0002"}}}
    journal = _journal(tmp_path, [
        _line("a", **value),
        _line("b", policy={"value": {"USDT": "4"}}),
        _line("old", ago=timedelta(hours=24, minutes=10), **value),  # outside the window
        _line("other", account="other", **value),  # another entry
        _line("cancel", tool="cancel_order", **value),  # never adds
        _line("unknown-tool", tool="no_such_tool", **value),
        _line("rejected", **value),
        {"ts": _stamp(datetime.now(UTC)), "id": "rejected", "phase": "outcome", "ok": False, "status": 400,
         "summary": {"code": -1013}},
        _line("novalue"),  # counted, no value recorded
        _line("a", phase="outcome", ok=True, status=200, summary={}, **value),  # an outcome is not an intent
    ])
    catalog = load_catalog()
    assert daily.recorded_spent(journal, catalog, "main", "USDT") == (Decimal("14.5"), 1)
    assert daily.recorded_spent(journal, catalog, "main", "BTC") == (Decimal("0.0002"), 2)
    assert daily.recorded_spent(journal, catalog, "main", "ETH") == (Decimal(0), 3)
    assert daily.recorded_spent(journal, catalog, daily.Owner(None, None, ("other",)), "USDT") == (Decimal("10.5"), 0)
    assert daily.recorded_spent(journal, catalog, "nobody", "USDT") == (Decimal(0), 0)


def test_recorded_values_are_decimals_by_asset():
    assert daily.recorded_values({"policy": {"value": {"USDT": "1.10", "BTC": 2}}}) == {
        "USDT": Decimal("1.10"), "BTC": Decimal(2)}
    assert daily.recorded_values({"policy": {"value": None}}) == {}
    assert daily.recorded_values({"policy": None}) == {}
    assert daily.recorded_values({}) == {}


# -- get_safety_status ------------------------------------------------------------------------------


def test_a_testnet_change_is_not_asked_whatever_the_channel():
    for channel in ("form", "url", "app", "chat", None):
        assert safety.describe_channel(_account(), channel) == safety.NOT_ASKED


@pytest.mark.parametrize("channel", ["form", "url", "app", "chat"])
def test_a_mainnet_change_names_the_channel_this_host_gets(channel):
    assert safety.describe_channel(_account(environment="mainnet"), channel) == safety.CHANNEL_WORDS[channel]


def test_confirm_always_names_the_channel_on_testnet_too():
    always = dataclasses.replace(_account(), policy=effective_policy(Rules(), Rules(confirm="always")))
    assert safety.describe_channel(always, "form") == safety.CHANNEL_WORDS["form"]
    assert safety.describe_channel(always, None) == safety.REFUSED


def test_no_usable_channel_means_changes_are_refused():
    mainnet = _account(environment="mainnet")
    assert safety.describe_channel(mainnet, None) == safety.REFUSED
    assert safety.describe_channel(mainnet, "carrier pigeon") == safety.REFUSED
    assert safety.describe_channel(mainnet, "None") == safety.REFUSED


def test_channel_words_say_how_the_human_approves():
    assert "form" in safety.CHANNEL_WORDS["form"] and "URL" in safety.CHANNEL_WORDS["url"]
    assert "MCP Apps" in safety.CHANNEL_WORDS["app"] and "opt-in" in safety.CHANNEL_WORDS["chat"]
    assert all("CONFIRM" in words for words in safety.CHANNEL_WORDS.values())


async def _rows(accounts: Any, channel: Any) -> list[dict[str, Any]]:
    return [{"account": a.name, "approval": channel(a)} for a in accounts]


@pytest.mark.anyio
async def test_the_safety_status_payload(tmp_path):
    settings = _settings(tmp_path)
    selection = Selection(("market", "trade"), read_only=True)
    accounts = [_account("t"), _account("m", environment="mainnet")]
    payload = await safety.safety_status(settings, selection, accounts, _rows,
                                         channel=lambda a: safety.describe_channel(a, "form"))
    assert payload == {
        "server": {"tools": "toolsets market, trade, read-only", "read_only": True, "trading": "on",
                   "halt_file": str(tmp_path / "j" / HALT_FILE_NAME), "journal": str(tmp_path / "j" / "journal.jsonl")},
        "accounts": [{"account": "t", "approval": safety.NOT_ASKED},
                     {"account": "m", "approval": safety.CHANNEL_WORDS["form"]}],
    }
    killswitch.halt(settings, "stop")
    halted = await safety.safety_status(settings, Selection(), [], _rows, channel=str, problems=("line 3: bad",))
    assert halted["server"]["trading"] == "off" and halted["server"]["reason"].endswith("exists: stop")
    assert halted["server"]["read_only"] is False and halted["server"]["tools"] == "all toolsets"
    assert halted["account_problems"] == ["line 3: bad"] and halted["accounts"] == []


# -- policy: symbols, amounts, lists, flags and the rules in force -----------------------------------


@pytest.mark.parametrize(("value", "ok"), [
    pytest.param("T", True, id="one-char"),  # Binance lists one-letter assets (T)
    pytest.param("A" * 20, True, id="twenty-chars"),
    pytest.param("A" * 21, False, id="twenty-one-chars"),
    pytest.param("", False, id="empty"),
    pytest.param("\u0301ABC", False, id="leading-combining-mark"),
    pytest.param("A\u0301BC", True, id="inner-combining-mark"),
    pytest.param("XRPUSDT", True, id="x-letters"),
    pytest.param(7, False, id="not-text"),
])
def test_what_a_symbol_is(value, ok):
    assert policy.is_symbol(value) is ok


def test_ascii_lower_changes_only_ascii_letters():
    assert policy.ascii_lower("BTC\u8fd9\u662fUSDT\u00c9") == "btc\u8fd9\u662fusdt\u00c9"


@pytest.mark.parametrize(("text", "amount"), [
    pytest.param("5 T", policy.Amount(Decimal(5), "T"), id="one-letter-asset"),
    pytest.param("5 XRP", policy.Amount(Decimal(5), "XRP"), id="x-asset"),
    pytest.param("1_000 USDT", policy.Amount(Decimal(1000), "USDT"), id="underscores"),
    pytest.param("1,000.5 usdt", policy.Amount(Decimal("1000.5"), "USDT"), id="thousands-comma"),
])
def test_more_amounts(text, amount):
    assert policy.parse_amount(text) == amount


@pytest.mark.parametrize(("text", "message"), [
    pytest.param("9" * 60 + " B_TC", "'" + "9" * 40 + "' is not an amount such as '100 USDT'", id="bad-asset-cut-at-40"),
    pytest.param("0" * 50 + " USDT", "'" + "0" * 40 + "': the amount must be greater than zero", id="zero-cut-at-40"),
    pytest.param("0 USDT", "'0 USDT': the amount must be greater than zero", id="zero"),
    pytest.param("", "'' is not an amount such as '100 USDT'", id="empty"),
])
def test_amount_messages(text, message):
    with pytest.raises(ValueError) as caught:
        policy.parse_amount(text)
    assert str(caught.value) == message


def test_symbol_lists_take_short_long_and_x_patterns():
    assert policy.parse_symbols("a, *, XRP*, " + "B" * 40) == ("A", "*", "XRP*", "B" * 40)
    assert len(policy.parse_symbols(", ".join(f"S{i}" for i in range(policy.MAX_SYMBOL_PATTERNS)))) == 200


@pytest.mark.parametrize(("text", "message"), [
    pytest.param(" , ,", "give at least one symbol or pattern, e.g. 'BTCUSDT, ETH*'", id="none"),
    pytest.param(", ".join(f"S{i}" for i in range(201)), "at most 200 symbols or patterns", id="201"),
    pytest.param("B" * 41, "'" + "B" * 40 + "' is not a symbol or pattern (letters, digits and * only)", id="41-chars"),
    pytest.param("B" * 45 + "\x07", "'" + "B" * 40 + "' is not a symbol or pattern (letters, digits and * only)",
                 id="control-after-40"),
    pytest.param("BTC\x07" + "B" * 45, repr("BTC\x07" + "B" * 36) + " is not a symbol or pattern (letters, digits and * only)",
                 id="control-shown-escaped"),
])
def test_symbol_list_messages(text, message):
    with pytest.raises(ValueError) as caught:
        policy.parse_symbols(text)
    assert str(caught.value) == message


def test_a_bad_printable_unicode_pattern_is_shown_as_written():
    with pytest.raises(ValueError) as caught:
        policy.parse_symbols("\u8fd9\u662f-BTC")
    assert str(caught.value) == "'\u8fd9\u662f-BTC' is not a symbol or pattern (letters, digits and * only)"


def test_a_look_alike_pattern_is_refused_with_the_fix():
    with pytest.raises(ValueError) as caught:
        policy.parse_symbols("\u0412\u0422\u0421USDT")
    assert str(caught.value) == (
        "'\\u0412\\u0422\\u0421USDT' mixes Latin letters with Cyrillic or Greek ones that look alike, so it would "
        "match no symbol Binance lists; type it again in one script")


def test_letters_unicodedata_has_no_name_for_still_make_a_pattern():
    assert policy.parse_symbols("\U00017000BTC*") == ("\U00017000BTC*",)  # a Tangut letter beside Latin ones


def test_server_rules_skip_blank_values_and_name_their_source():
    assert policy.parse_server_rules({"max_order_value": "  ", "dry_run": None}, {}) == policy.Rules()
    with pytest.raises(ValueError) as caught:
        policy.parse_server_rules({"dry_run": "maybe"}, {})
    assert str(caught.value) == "dry_run: 'maybe' must be true or false"
    with pytest.raises(ValueError) as caught:
        policy.parse_server_rules({"dry_run": "maybe"}, {"dry_run": "--dry-run"})
    assert str(caught.value) == "--dry-run: 'maybe' must be true or false"


@pytest.mark.parametrize(("parse", "message"), [
    pytest.param(policy.parse_flag, "'" + "m" * 20 + "' must be true or false", id="flag"),
    pytest.param(policy.parse_confirm, "'" + "m" * 20 + "' must be mainnet or always", id="confirm"),
])
def test_flag_and_confirm_messages_cut_at_20(parse, message):
    with pytest.raises(ValueError) as caught:
        parse("m" * 30)
    assert str(caught.value) == message


def test_the_allowed_list_message_names_every_pattern():
    rules = policy.Rules(allowed_symbols=("BTC*", "ETHUSDT"))
    assert policy.effective_policy(policy.Rules(), rules).symbol_problem("bnbusdt") == (
        "BNBUSDT is not in the allowed symbols (BTC*, ETHUSDT)")


def test_describe_lists_every_rule_in_force():
    server = policy.Rules(max_order_value=policy.parse_amount("50 USDT"), denied_symbols=("*DOWN*", "*UP"),
                          allowed_symbols=("BTC*", "ETH*"))
    account = policy.Rules(max_daily_value=policy.parse_amount("0.02 BTC"), allowed_symbols=("*USDT",), dry_run=True,
                           confirm="always")
    assert policy.effective_policy(server, account).describe() == {
        "max_order_value": ["50 USDT (server)"],
        "max_daily_value": ["0.02 BTC (account)"],
        "allowed_symbols": ["BTC*, ETH*", "*USDT"],
        "denied_symbols": "*DOWN*, *UP",
        "dry_run": True,
        "confirm": "always",
    }


def test_describe_of_no_rules():
    assert policy.Policy().describe() == {"allowed_symbols": "all", "dry_run": False, "confirm": "mainnet"}


def test_rules_of_entries_sharing_the_key_add_their_caps_once():
    usdt100, usdt50 = policy.parse_amount("100 USDT"), policy.parse_amount("50 USDT")
    combined = policy.effective_policy(
        policy.Rules(max_order_value=usdt100, max_daily_value=usdt100),
        policy.Rules(max_order_value=usdt100),
        [("b", policy.Rules(max_order_value=usdt100, max_daily_value=usdt50)),
         ("c", policy.Rules(max_order_value=usdt50, max_daily_value=usdt50))],
    )
    assert combined.order_caps == (policy.Cap(usdt100, "server"), policy.Cap(usdt100, "account"),
                                   policy.Cap(usdt50, "account 'c' (same API key)"))
    assert combined.daily_caps == (policy.Cap(usdt100, "server"), policy.Cap(usdt50, "account 'b' (same API key)"))


# -- guard.enforce, end to end -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_an_amend_by_client_order_id_is_valued_from_that_order(world):
    with_account(world, "capped", "Max Order Value: 100 USDT")
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        placed = await client.call_tool("place_order", {**SMALL_BUY, "quantity": "0.0015", "newClientOrderId": "pin-amend-1",
                                                        "account": "capped"})
        assert not placed.is_error, placed
        set_rules(world, "capped", "Max Order Value: 50 USDT")
        amend = {"symbol": "BTCUSDT", "origClientOrderId": "pin-amend-1", "account": "capped"}
        body = refused(await client.call_tool("amend_order_keep_priority", {**amend, "newQty": "0.001"}), "max order value")
        assert body["value"] == "54"
        ok = await client.call_tool("amend_order_keep_priority", {**amend, "newQty": "0.0005"})
        assert not ok.is_error, ok
    assert [r.path for r in writes(world)] == ["/api/v3/order", "/api/v3/order/amend/keepPriority"]


@pytest.mark.anyio
async def test_an_amend_of_an_order_that_cannot_be_read_is_refused_and_says_why(world):
    with_account(world, "capped", "Max Order Value: 100 USDT")
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        body = refused(await client.call_tool("amend_order_keep_priority", {
            "symbol": "BTCUSDT", "orderId": 987654321, "newQty": "0.0005", "account": "capped"}), "valuation")
    assert "the order to amend could not be read (" in body["message"]
    assert writes(world) == []


@pytest.mark.anyio
async def test_a_dry_run_answers_the_whole_request_its_value_and_verdict_and_journals_it(world):
    with_account(world, "rehearsal", "Dry Run: true", "Max Order Value: 100 USDT", "Max Daily Value: 500 USDT")
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        ok = result_json(await client.call_tool("place_order", {**SMALL_BUY, "account": "rehearsal"}))
        big = result_json(await client.call_tool("place_order", {**SMALL_BUY, "quantity": "0.01", "account": "rehearsal"}))
    params = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001", "price": "54000"}
    described = {"max_order_value": ["100 USDT (account)"], "max_daily_value": ["500 USDT (account)"],
                 "allowed_symbols": "all", "dry_run": True, "confirm": "mainnet"}
    note = ("This account is in dry run: nothing was sent to Binance. Dry run: this account has 'Dry Run: true' in "
            "TOOLS.md: only the operator can change it.")
    assert ok == {
        "dry_run": True, "sent": False, "account": "rehearsal", "environment": "testnet",
        "request": {"tool": "place_order", "method": "POST", "path": "/api/v3/order", "params": params},
        "verdict": "would pass the guard rails", "value": {"USDT": "54"}, "spent_24h": {"USDT": "0"},
        "policy": described, "note": note,
    }
    refusal = ("would be refused by the max order value rule: this request is worth 540 USDT; the cap per order "
               "(account) is 100 USDT (500 USDT of the daily cap remain).")
    assert big == {
        "dry_run": True, "sent": False, "account": "rehearsal", "environment": "testnet",
        "request": {"tool": "place_order", "method": "POST", "path": "/api/v3/order", "params": {**params, "quantity": "0.01"}},
        "verdict": refusal, "rule": "max order value", "policy": described, "note": note,
    }
    assert writes(world) == []
    lines = journal(world)
    key = fingerprint("daily total", "testnet", world.keys.hmac_api_key)
    assert [(e["phase"], e.get("policy"), e.get("summary"), e.get("key"), e.get("account"), e.get("environment"),
             e.get("method"), e.get("path")) for e in lines] == [
        ("intent", {"dry_run": True, "verdict": "would pass the guard rails"}, None, key, "rehearsal", "testnet",
         "POST", "/api/v3/order"),
        ("outcome", None, {"dry_run": True, "sent": False}, None, None, None, None, None),
        ("intent", {"dry_run": True, "verdict": refusal}, None, key, "rehearsal", "testnet", "POST", "/api/v3/order"),
        ("outcome", None, {"dry_run": True, "sent": False}, None, None, None, None, None),
    ]
    assert [e["ok"] for e in lines if e["phase"] == "outcome"] == [True, True]
    assert lines[0]["id"] == lines[1]["id"] and lines[2]["id"] == lines[3]["id"] != lines[0]["id"]
    assert lines[0]["params"] == params and lines[0]["tool"] == "place_order"


@pytest.mark.anyio
@pytest.mark.parametrize(("environment", "rules"), [
    pytest.param("mainnet", (), id="mainnet"),
    pytest.param("testnet", ("Confirm: always",), id="testnet-confirm-always"),
])
async def test_a_dry_run_says_when_a_human_would_still_be_asked(world, environment, rules):
    with_account(world, "rehearsal", "Dry Run: true", *rules, environment=environment)
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        body = result_json(await client.call_tool("place_order", {**SMALL_BUY, "account": "rehearsal"}))
    assert body["verdict"] == "would pass the guard rails (then need human approval)"
    assert "value" not in body and "spent_24h" not in body  # no cap: nothing was valued
    assert writes(world) == []


def _journaled_order(world: Any, entry: str, value: dict[str, str] | None) -> None:
    """An order of 'daily' journaled five minutes ago (SMALL_BUY: 54 USDT at its price), with or without a value."""
    intent = {"ts": _stamp(datetime.now(UTC) - timedelta(minutes=5)), "id": entry, "phase": "intent", "tool": "place_order",
              "account": "daily", "environment": "testnet", "method": "POST", "path": "/api/v3/order",
              "params": {k: str(v) for k, v in SMALL_BUY.items()}, **({"policy": {"value": value}} if value else {})}
    with (world.tools_file.parent / "journal.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(intent) + "\n")


async def _status_row(world: Any, name: str) -> dict[str, Any]:
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        status = result_json(await client.call_tool("get_safety_status", {}))
    return next(row for row in status["accounts"] if row["account"] == name)


@pytest.mark.anyio
async def test_the_status_row_of_an_account_over_its_daily_cap(world):
    with_account(world, "daily", "Max Daily Value: 100 USDT")
    with_account(world, "typo", "Max Ordr Value: 5 USDT")  # the same API key: its problem is the account's too
    _journaled_order(world, "a", {"USDT": "150"})
    _journaled_order(world, "b", None)  # journaled before any cap: valued from its parameters (54 USDT)
    line = world.tools_file.read_text().splitlines().index("- Max Ordr Value: 5 USDT") + 1
    assert await _status_row(world, "daily") == {
        "account": "daily", "environment": "testnet", "host": world.base_url.split("://")[1].rstrip("/"),
        "approval": safety.NOT_ASKED,
        "policy": {"max_daily_value": ["100 USDT (account)"], "allowed_symbols": "all", "dry_run": False,
                   "confirm": "mainnet"},
        "problems": [(f"every change is refused: TOOLS.md line {line}: unknown field 'Max Ordr Value' "
                      "(did you mean 'Max Order Value'?)")],
        "today": {"100 USDT": {"spent_24h": "204", "remaining": "0"}},
    }


@pytest.mark.anyio
async def test_orders_valued_in_another_asset_count_at_todays_price_when_the_cap_asset_changes(world):
    with_account(world, "daily", "Max Daily Value: 1 BTC")
    _journaled_order(world, "a", {"USDT": "600"})  # valued when the cap was in USDT
    _journaled_order(world, "b", None)
    row = await _status_row(world, "daily")
    # 654 USDT in BTC at the fake's price (best bid 59970): 0.010905452...
    assert row["today"] == {"1 BTC": {"spent_24h": "0.01090545", "remaining": "0.98909455"}}


def test_the_dry_run_hint_names_whoever_turned_it_on():
    assert enforce.dry_run_hint(policy.Policy()) == "Only the operator can turn dry run off."
    both = policy.Policy(dry_run=True, dry_run_by=("server", "account", "account 'b' (same API key)"))
    assert enforce.dry_run_hint(both) == (
        "Dry run: the server was started in dry run (--dry-run or BINANCE_SPOT_MCP_DRY_RUN): only the operator can "
        "restart it without; this account has 'Dry Run: true' in TOOLS.md: only the operator can change it; "
        "account 'b' (same API key) has 'Dry Run: true' in TOOLS.md and its rules bind every entry for that key.")


@pytest.mark.anyio
async def test_an_account_removed_before_send_is_refused_with_what_to_do(world):
    with_account(world, "careful", "Confirm: always")
    runtimes: list[Any] = []
    async with memory_client(world.tools_file, "legacy", world.base_url, on_runtime=runtimes.append):
        runtime = runtimes[0]
        stale = runtime.accounts.resolve("careful")
        text = world.tools_file.read_text()
        world.tools_file.write_text(text[:text.index("### careful\n")])  # the operator removes the entry
        with pytest.raises(PolicyRefused) as caught:
            async with runtime.guard.at_send(runtime.catalog.get("place_order"), stale,
                                             tuple((k, str(v)) for k, v in SMALL_BUY.items())):
                pytest.fail("the send-time check let a removed account through")
    assert caught.value.rule == "account"
    assert caught.value.reason == "account 'careful' changed or was removed since this call began."
    assert caught.value.hint == "Call the tool again."
    assert writes(world) == []
    lines = journal(world)
    assert [(e["phase"], e["id"]) for e in lines] == [("intent", lines[0]["id"]), ("outcome", lines[0]["id"])]
    intent, outcome = lines
    assert (intent["policy"], intent["tool"], intent["account"], intent["key"]) == (
        {"refused": "account", "stage": "at send"}, "place_order", "careful",
        fingerprint("daily total", "testnet", world.keys.hmac_api_key))
    assert (outcome["ok"], outcome["status"], outcome["summary"]) == (
        False, None, {"not_sent": "policy_refused", "rule": "account"})


def test_values_are_shown_with_at_most_eight_decimals_whatever_their_size():
    assert enforce._fmt(Decimal("0.123456789")) == "0.12345679"
    assert enforce._fmt(Decimal("54.10")) == "54.1" and enforce._fmt(Decimal("1E+2")) == "100"
    assert enforce._fmt(Decimal(10**25)) == "1" + "0" * 25  # no quantizing where nothing needs it (28 digits)


@pytest.mark.anyio
async def test_a_misspelt_rule_refuses_changes_before_approval_with_the_line_and_what_to_do(world):
    with_account(world, "typo", "Max Ordr Value: 5 USDT", "Allowed Symbol: BTCUSDT")
    line = world.tools_file.read_text().splitlines().index("- Max Ordr Value: 5 USDT") + 1
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        body = refused(await client.call_tool("place_order", {**SMALL_BUY, "account": "typo"}), "unknown field")
    assert body["message"] == (
        "Refused by the operator's unknown field rule: account 'typo' has a line in TOOLS.md the server does not "
        f"understand, so none of its changes is sent: TOOLS.md line {line}: unknown field 'Max Ordr Value' (did you mean "
        f"'Max Order Value'?); TOOLS.md line {line + 1}: unknown field 'Allowed Symbol' (did you mean "
        "'Allowed Symbols'?). Nothing was sent.")
    assert body["hint"] == ("Tell the user which line to fix or remove (reads still work); only the operator edits "
                            "TOOLS.md.")
    assert [e["policy"] for e in journal(world) if e["phase"] == "intent"] == [
        {"refused": "unknown field", "stage": "before approval"}]


@pytest.mark.anyio
async def test_reads_pass_the_guard_whatever_its_switches_say(world):
    with_account(world, "rehearsal", "Dry Run: true", "Allowed Symbols: ETHUSDT")
    killswitch.halt(load_settings(tools_file=str(world.tools_file),
                                  environ={"BINANCE_SPOT_MCP_JOURNAL": str(world.tools_file.parent / "journal.jsonl")}))
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        read = await client.call_tool("get_open_orders", {"symbol": "BTCUSDT", "account": "rehearsal"})
    assert not read.is_error and result_json(read) == []
    assert not (world.tools_file.parent / "journal.jsonl").exists()  # neither refused nor answered as a dry run
    assert (world.tools_file.parent / HALT_FILE_NAME).exists()


@pytest.mark.anyio
async def test_a_symbol_list_refusal_names_the_symbol_the_list_and_who_can_change_it(world):
    with_account(world, "listed", "Allowed Symbols: BTCUSDT, BNB*")
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        body = refused(await client.call_tool("place_order", {**SMALL_BUY, "symbol": "ETHUSDT", "quantity": "0.01",
                                                              "price": "2700", "account": "listed"}), "symbol list")
    assert body["message"] == ("Refused by the operator's symbol list rule: ETHUSDT is not in the allowed symbols "
                               "(BTCUSDT, BNB*). Nothing was sent.")
    assert body["hint"] == enforce.SYMBOL_HINT == "Trade only the allowed symbols; only the operator can change the lists."
    assert body["symbol"] == "ETHUSDT"
    assert [e["policy"] for e in journal(world) if e["phase"] == "intent"] == [
        {"refused": "symbol list", "stage": "before approval", "symbol": "ETHUSDT"}]


@pytest.mark.anyio
async def test_an_order_cap_refusal_says_what_remains_of_every_daily_cap_and_only_then(world):
    with_account(world, "capped", "Max Order Value: 100 USDT", "Max Daily Value: 1000 USDT")
    with_account(world, "order-only", "Max Order Value: 100 USDT")
    env = {"BINANCE_SPOT_MCP_MAX_DAILY_VALUE": "1 BTC"}
    big = {**SMALL_BUY, "quantity": "0.01"}  # 540 USDT
    async with memory_client(world.tools_file, "legacy", world.base_url, extra_env=env) as client:
        both = refused(await client.call_tool("place_order", {**big, "account": "capped"}), "max order value")
        placed = await client.call_tool("place_order", {**SMALL_BUY, "quantity": "0.0015", "account": "order-only"})
        assert not placed.is_error, placed
        set_rules(world, "order-only", "Max Order Value: 50 USDT")
        change = {"symbol": "BTCUSDT", "orderId": result_json(placed)["orderId"], "account": "order-only"}
        amend = await client.call_tool("amend_order_keep_priority", {**change, "newQty": "0.001"})
        smaller = await client.call_tool("amend_order_keep_priority", {**change, "newQty": "0.0005"})
    assert both["message"] == (
        "Refused by the operator's max order value rule: this request is worth 540 USDT; the cap per order (account) "
        "is 100 USDT (1 BTC of the daily cap remain; 1000 USDT of the daily cap remain). Nothing was sent.")
    assert both["remaining_today"] == {"BTC": "1", "USDT": "1000"}
    body = refused(amend, "max order value")  # an amend adds nothing to the day: no daily figures, even with a daily cap
    assert body["message"] == ("Refused by the operator's max order value rule: this request is worth 54 USDT; the cap "
                               "per order (account) is 50 USDT. Nothing was sent.")
    assert "remaining_today" not in body
    assert both["hint"] == body["hint"] == enforce.CAP_HINT
    assert not smaller.is_error, smaller  # under every cap: the daily caps are not checked for an amend


@pytest.mark.anyio
async def test_a_daily_cap_refusal_gives_the_value_spent_and_remaining(world):
    with_account(world, "daily", "Max Daily Value: 100 USDT")
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        assert not (await client.call_tool("place_order", {**SMALL_BUY, "account": "daily"})).is_error
        body = refused(await client.call_tool("place_order", {**SMALL_BUY, "account": "daily"}), "max daily value")
    assert body["message"] == (
        "Refused by the operator's max daily value rule: this request is worth 54 USDT; orders worth 54 USDT were "
        "placed in the last 24 hours and the daily cap (account) is 100 USDT, so 46 USDT remain. Nothing was sent.")
    assert (body["value"], body["cap"], body["spent_24h"], body["remaining"], body["hint"]) == (
        "54", "100 USDT", "54", "46", enforce.CAP_HINT)


@pytest.mark.anyio
async def test_an_earlier_order_that_cannot_be_valued_refuses_with_which_one(world):
    with_account(world, "daily", "Max Daily Value: 100 USDT")
    stamp = _stamp(datetime.now(UTC) - timedelta(minutes=5))
    intent = {"ts": stamp, "id": "old", "phase": "intent", "tool": "place_order", "account": "daily",
              "environment": "testnet", "method": "POST", "path": "/api/v3/order",
              "params": {**{k: str(v) for k, v in SMALL_BUY.items()}, "symbol": "NOPEUSDT"}}  # no value recorded
    (world.tools_file.parent / "journal.jsonl").write_text(json.dumps(intent) + "\n", encoding="utf-8")
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        body = refused(await client.call_tool("place_order", {**SMALL_BUY, "account": "daily"}), "valuation")
    assert body["message"] == (
        f"Refused by the operator's valuation rule: an earlier order in the journal ({stamp}, place_order) cannot be "
        "valued in USDT: the assets of NOPEUSDT could not be read from exchangeInfo Nothing was sent.")


@pytest.mark.anyio
async def test_old_orders_without_a_value_are_priced_per_symbol_by_the_guard_itself(world):
    with_account(world, "daily", "Max Daily Value: 1000 USDT")
    stamp = _stamp(datetime.now(UTC) - timedelta(minutes=5))
    orders = [("m", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}),  # needs the market
              ("e", {"symbol": "ETHUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "2700", **GTC})]
    lines = [{"ts": stamp, "id": entry, "phase": "intent", "tool": "place_order", "account": "daily",
              "environment": "testnet", "method": "POST", "path": "/api/v3/order", "params": params}
             for entry, params in orders]  # journaled before any cap: no value recorded
    (world.tools_file.parent / "journal.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    row = await _status_row(world, "daily")  # the first look-ups of both symbols are the guard's own
    assert row["today"] == {"1000 USDT": {"spent_24h": "87.03", "remaining": "912.97"}}  # 60.03 at the ask + 27
