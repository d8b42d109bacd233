"""`binance-spot-mcp doctor [ACCOUNT]`: one verdict per check, a hint for each problem, masked keys only."""

from __future__ import annotations

import json
import os
import socket
import subprocess

import anyio
import pytest

from binance_spot_mcp.cli.commands import main
from tests.e2e_support import console_script, loopback_environ, random_token

pytestmark = pytest.mark.usefixtures("cli_isolation")


@pytest.fixture
def loopback(monkeypatch, world):
    for name, value in loopback_environ(world.base_url, world.tools_file.parent).items():
        monkeypatch.setenv(name, value)
    for pem in ("rsa.pem", "ed.pem"):
        os.chmod(world.tools_file.parent / pem, 0o600)
    monkeypatch.setenv("BINANCE_SPOT_MCP_MAX_ORDER_VALUE", "1000 USDT")  # else: a warning for 'live'
    return world


def _doctor(world, capsys, *args: str) -> tuple[int, str, str]:
    code = main(["--tools-file", str(world.tools_file), "doctor", *args])
    out, err = capsys.readouterr()
    for value in world.keys.sensitive():
        assert value not in out and value not in err
    return code, _flat(out), err


def _flat(out: str) -> str:
    """The output with runs of spaces inside each line collapsed (column widths are not the point)."""
    return "\n".join(("  " if line.startswith(" ") else "") + " ".join(line.split()) for line in out.splitlines()) + "\n" if out else ""


def _lines(out: str, section: str) -> list[str]:
    """The check lines printed under one section heading."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(section))
    block = []
    for line in lines[start + 1 :]:
        if not line.startswith(" "):
            break
        block.append(line.strip())
    return block


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _append_account(world, name: str, body: str) -> None:
    with world.tools_file.open("a") as handle:
        handle.write(f"\n### {name}\n{body}")


def test_all_good_exits_0_with_ok_lines_and_masked_keys(loopback, capsys):
    code, out, _ = _doctor(loopback, capsys)
    assert code == 0, out
    assert out.rstrip().endswith("doctor: all checks passed")
    assert "  FAIL" not in out and "  WARN" not in out
    rails = _lines(out, "guard rails")
    assert rails[0].startswith("OK kill switch trading on")
    assert any(line.startswith("INFO live") and "max order value: 1000 USDT (server)" in line for line in rails)
    keys = loopback.keys
    for name, key in (("main", keys.hmac_api_key), ("rsa", keys.rsa_api_key), ("ed", keys.ed_api_key),
                      ("live", keys.live_api_key)):
        block = _lines(out, f"account {name}")
        assert any(f"API key {key[:5]}...{key[-4:]}" in line for line in block), block
        assert any(line.startswith("OK signed read") and "accountType SPOT" in line for line in block), block
    assert "ED25519" in out and "RSA" in out and "loads" in out
    host = _lines(out, f"host {loopback.base_url}")  # four accounts, one host: reached once
    assert out.count(f"host {loopback.base_url}") == 1
    assert host[0].startswith("OK reachable") and host[1].startswith("OK clock")
    assert "OK SKILL.md" in out and "OK permissions" in out
    assert "balances" not in out.lower()


def test_json_output(loopback, capsys):
    code, out, _ = _doctor(loopback, capsys, "--json")
    data = json.loads(out)
    assert code == 0 and data["exit_code"] == 0 and data["failures"] == 0
    reads = [c for c in data["checks"] if c["name"] == "signed read"]
    assert len(reads) == 4 and {c["verdict"] for c in reads} == {"OK"}


def test_key_unknown_to_the_exchange_fails_with_an_explanation(loopback, capsys):
    stranger = random_token()
    _append_account(loopback, "stranger", f"- API Key: {stranger}\n- Secret: {random_token()}\n"
                    f"- Environment: testnet\n- Base URL: {loopback.base_url}\n")
    code, out, _ = _doctor(loopback, capsys)
    assert code == 1
    assert stranger not in out
    block = _lines(out, "account stranger")
    failed = next(line for line in block if line.startswith("FAIL signed read"))
    assert "-2015" in failed and f"{stranger[:5]}...{stranger[-4:]}" in failed
    assert any(line.startswith("hint:") and "IP" in line for line in block)
    assert "OK signed read" in "\n".join(_lines(out, "account main"))
    assert out.rstrip().endswith("doctor: 1 problem found")


def test_a_wrong_secret_is_a_signature_failure(loopback, capsys):
    text = loopback.tools_file.read_text().replace(loopback.keys.live_secret, random_token())
    loopback.tools_file.write_text(text)
    code, out, _ = _doctor(loopback, capsys, "live")
    assert code == 1
    assert "FAIL signed read" in out and "-1022" in out and "secret does not belong" in out


@pytest.mark.parametrize("skew_ms, verdict", [(3000, "WARN"), (-3000, "WARN"), (8000, "FAIL")])
def test_a_skewed_clock_is_measured_and_reported(loopback, capsys, skew_ms, verdict):
    loopback.exchange.clock_offset_ms = skew_ms
    code, out, _ = _doctor(loopback, capsys, "main")
    clock = next(line for line in _lines(out, "host") if "clock" in line)
    assert clock.startswith(f"{verdict} clock")
    measured = int(clock.split("clock is ")[1].split(" ms")[0])
    assert abs(measured - abs(skew_ms)) < 500
    assert ("behind" if skew_ms > 0 else "ahead of") in clock
    assert "corrects signed timestamps for the offset itself" in out and "sync the OS clock" in out
    # the client corrects the offset itself, so the key still works
    assert "OK signed read" in out
    assert code == (1 if verdict == "FAIL" else 0)


def test_an_unreachable_host_is_reported_quickly_and_its_accounts_skipped(loopback, capsys):
    dead = f"http://127.0.0.1:{_closed_port()}"
    for name in ("gone", "gone2"):
        _append_account(loopback, name, f"- API Key: {random_token()}\n- Secret: {random_token()}\n"
                        f"- Environment: testnet\n- Base URL: {dead}\n")
    code, out, _ = _doctor(loopback, capsys)
    assert code == 1
    assert out.count(f"could not reach {dead} (connection refused)") == 1  # shared host: reached once
    for name in ("gone", "gone2"):
        assert f"SKIP signed read not checked ({dead} not reached)" in _lines(out, f"account {name}")
    assert "OK signed read" in "\n".join(_lines(out, "account main"))


def test_offline_skips_the_network(loopback, capsys):
    code, out, _ = _doctor(loopback, capsys, "--offline")
    assert code == 0
    assert "SKIP reachable not checked (--offline)" in out
    assert out.count("SKIP signed read") == 4 and "OK signed read" not in out


def test_a_broken_tools_file_names_the_line(loopback, capsys):
    _append_account(loopback, "nosecret", f"- API Key: {random_token()}\n- Environment: testnet\n")
    _append_account(loopback, "badenv", f"- API Key: {random_token()}\n- Secret: {random_token()}\n"
                    "- Environment: moon\n")
    lines = loopback.tools_file.read_text().splitlines()
    heading = lines.index("### nosecret") + 1
    env_line = lines.index("- Environment: moon") + 1
    code, out, _ = _doctor(loopback, capsys)
    assert code == 1
    block = _lines(out, "accounts file")
    assert any(line.startswith("FAIL account nosecret") and f"TOOLS.md line {heading}:" in line
               and "neither 'Secret' nor 'Private Key File'" in line for line in block), block
    assert any(line.startswith("FAIL account badenv") and f"TOOLS.md line {env_line}:" in line
               and "Environment must be" in line for line in block), block
    assert out.rstrip().endswith("doctor: 2 problems found")


def test_a_missing_key_file_names_the_line(loopback, capsys):
    (loopback.tools_file.parent / "rsa.pem").unlink()
    line = loopback.tools_file.read_text().splitlines().index("- Private Key File: rsa.pem") + 1
    code, out, _ = _doctor(loopback, capsys, "rsa")
    assert code == 1
    assert f"FAIL account rsa TOOLS.md line {line}: private key file" in out and "does not exist" in out
    assert "account main" not in out  # only the named account


def test_group_readable_files_fail_with_a_chmod_hint(loopback, capsys):
    os.chmod(loopback.tools_file, 0o640)
    code, out, _ = _doctor(loopback, capsys)
    assert code == 1
    assert out.count(f"chmod 600 {loopback.tools_file}") == 1
    assert any(line.startswith("FAIL permissions") and "mode 640" in line and "refused" in line
               for line in _lines(out, "accounts file"))
    assert "--insecure-permissions" not in out or "accepted by" not in out


def test_insecure_permissions_turns_readable_files_into_warnings(loopback, capsys):
    os.chmod(loopback.tools_file, 0o640)
    os.chmod(loopback.tools_file.parent / "rsa.pem", 0o644)
    code = main(["--tools-file", str(loopback.tools_file), "--insecure-permissions", "doctor"])
    out = _flat(capsys.readouterr().out)
    assert code == 0
    assert any(line.startswith("WARN permissions") and "accepted by --insecure-permissions" in line
               for line in _lines(out, "accounts file"))
    assert f"hint: chmod 600 {loopback.tools_file.parent / 'rsa.pem'}" in out
    assert out.rstrip().endswith("doctor: all checks passed (2 warnings)")


def test_a_tools_md_others_can_write_fails_even_with_insecure_permissions(loopback, capsys):
    os.chmod(loopback.tools_file, 0o646)
    code = main(["--tools-file", str(loopback.tools_file), "--insecure-permissions", "doctor"])
    out = _flat(capsys.readouterr().out)
    assert code == 1 and "other users can change it" in out


def test_a_named_account_checks_only_that_one(loopback, capsys):
    code, out, _ = _doctor(loopback, capsys, "ed")
    assert code == 0
    assert "account ed" in out and "OK signed read" in out
    for other in ("main", "rsa", "live"):
        assert f"account {other}\n" not in out
    assert f"host {loopback.base_url} (used by ed)" in out
    assert loopback.exchange is not None


def test_an_unknown_account_name_is_a_usage_error(loopback, capsys):
    code, out, err = _doctor(loopback, capsys, "nosuch")
    assert code == 2 and out == ""
    assert "no account named 'nosuch'" in err and "main, rsa, ed, live" in err


def test_no_tools_file_warns_and_checks_the_built_in_paper_accounts_market_data(loopback, tmp_path, capsys, monkeypatch):
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    monkeypatch.chdir(empty)
    code = main(["doctor"])
    out = _flat(capsys.readouterr().out)
    assert code == 0
    assert "WARN TOOLS.md" in out and "does not exist" in out
    # With nothing configured the built-in paper account is there; its market data host is checked
    # and nothing is signed for it (its 'key' is never shown as one).
    assert f"host {loopback.base_url} (used by paper)" in out and "OK reachable" in out
    assert "INFO identity paper, no key, market data from" in out
    assert "OK paper paper account (starts with 10000 USDT" in out and "API key" not in out


def test_console_script_exit_code_and_no_secrets(loopback, capsys):
    os.chmod(loopback.tools_file, 0o600)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(loopback.tools_file.parent)}
    env.update(loopback_environ(loopback.base_url, loopback.tools_file.parent))
    env["BINANCE_SPOT_MCP_MAX_ORDER_VALUE"] = "1000 USDT"
    _append_account(loopback, "stranger", f"- API Key: {random_token()}\n- Secret: {random_token()}\n"
                    f"- Environment: testnet\n- Base URL: {loopback.base_url}\n")
    done = subprocess.run(
        [console_script(), "--tools-file", str(loopback.tools_file), "doctor"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL signed read" in _flat(done.stdout) and done.stdout.rstrip().endswith("1 problem found")
    for value in loopback.keys.sensitive():
        assert value not in done.stdout and value not in done.stderr


@pytest.mark.anyio
async def test_a_host_that_never_answers_times_out(loopback):
    from dataclasses import replace

    from binance_spot_mcp.cli.doctor import diagnose
    from binance_spot_mcp.cli.doctor_report import render_text
    from binance_spot_mcp.config import load_settings
    from binance_spot_mcp.redact import Redactor

    with socket.socket() as silent:  # accepts connections (backlog), never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        _append_account(loopback, "mute", f"- API Key: {random_token()}\n- Secret: {random_token()}\n"
                        f"- Environment: testnet\n- Base URL: {url}\n")
        settings = replace(load_settings(tools_file=str(loopback.tools_file)), http_timeout_s=0.5)
        with anyio.fail_after(60):  # a hang guard, not a timing assertion: the verdict below says 0.5 s
            report = await diagnose(settings, Redactor(), account="mute")
    out = _flat("\n".join(render_text(report)))
    assert f"FAIL reachable could not reach {url} (no answer within 0.5 s)" in out
    assert f"SKIP signed read not checked ({url} not reached)" in out
    assert report.exit_code == 1


def test_tool_choice_is_reported_and_a_bad_toolset_fails(loopback, capsys, monkeypatch):
    monkeypatch.setenv("BINANCE_SPOT_MCP_READ_ONLY", "1")
    code, out, _ = _doctor(loopback, capsys, "--offline")
    assert "INFO tools 44 tools offered (all toolsets, read-only); tools/list ~" in out
    monkeypatch.setenv("BINANCE_SPOT_MCP_TOOLSETS", "market,trading")
    monkeypatch.setenv("BINANCE_SPOT_MCP_HTTP_TOKEN", "tok3n-Q7x")
    code, out, _ = _doctor(loopback, capsys, "--offline")
    assert code == 1
    assert "FAIL tools unknown toolset(s): trading; known: market, account" in out
    assert "WARN HTTP token BINANCE_SPOT_MCP_HTTP_TOKEN is too short" in out
    assert "tok3n-Q7x" not in out  # the token itself is never printed


def test_a_journal_that_cannot_be_written_fails(loopback, capsys, monkeypatch, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the journal's directory should be")
    monkeypatch.setenv("BINANCE_SPOT_MCP_JOURNAL", str(blocker / "journal.jsonl"))
    code, out, _ = _doctor(loopback, capsys, "--offline")
    assert code == 1
    assert any(line.startswith("FAIL journal") and "cannot be created" in line and "none is sent" in line
               for line in _lines(out, "setup")), out
    assert "all checks passed" not in out
    monkeypatch.setenv("BINANCE_SPOT_MCP_JOURNAL", str(tmp_path))  # a directory, not a file
    code, out, _ = _doctor(loopback, capsys, "--offline")
    assert code == 1 and "is not a regular file" in out


def test_a_writable_journal_is_ok(loopback, capsys):
    code, out, _ = _doctor(loopback, capsys, "--offline")
    assert code == 0 and any(line.startswith("OK journal") for line in _lines(out, "setup"))


def test_a_tools_file_that_cannot_be_decoded_or_read_fails(loopback, capsys):
    loopback.tools_file.write_bytes(b"## Binance Accounts\n### main\n- Description: caf\xe9\n")
    code, out, _ = _doctor(loopback, capsys, "--offline")
    assert code == 1
    assert any(line.startswith("FAIL TOOLS.md") and "is not UTF-8 text" in line for line in _lines(out, "accounts file")), out
    assert "all checks passed" not in out
    loopback.tools_file.unlink()
    loopback.tools_file.mkdir()  # exists, but cannot be read as a file
    code, out, _ = _doctor(loopback, capsys, "--offline")
    assert code == 1 and any(line.startswith("FAIL TOOLS.md") and "cannot be read" in line
                             for line in _lines(out, "accounts file")), out


def test_a_tools_file_without_the_accounts_section_says_so(loopback, capsys):
    loopback.tools_file.write_text("# My notes\n\n## Binance\n### main\n- API Key: x\n")
    code, out, _ = _doctor(loopback, capsys, "--offline")
    assert code == 0
    assert "it has no '## Binance Accounts' section, so no account is read from it" in out
    loopback.tools_file.write_text("# My notes\n\n## Binance Accounts\n\nnothing yet\n")
    code, out, _ = _doctor(loopback, capsys, "--offline")
    assert "its '## Binance Accounts' section has no '### name' account" in out


def test_guard_rails_a_mainnet_account_without_caps_and_the_kill_switch_warn(loopback, capsys, monkeypatch):
    monkeypatch.delenv("BINANCE_SPOT_MCP_MAX_ORDER_VALUE")
    assert main(["--tools-file", str(loopback.tools_file), "halt", "--reason", "market event"]) == 0
    capsys.readouterr()
    code, out, _ = _doctor(loopback, capsys, "--offline")
    assert code == 0 and out.rstrip().endswith("(2 warnings)")
    rails = _lines(out, "guard rails")
    assert rails[0].startswith("WARN kill switch trading OFF") and "market event" in rails[0]
    assert any(line.startswith("WARN live a mainnet account with no value caps") for line in rails)
    assert any(line.startswith("INFO main") and "approval: none" in line for line in rails)
    assert main(["--tools-file", str(loopback.tools_file), "resume"]) == 0
    assert "Trading resumed" in capsys.readouterr().out


def test_the_budget_follows_the_api_key_not_the_entry_name(loopback, capsys):
    """Two entries for one key share one daily total: an order placed through 'twin' is in
    'main''s budget too, and one placed by another key with the same entry name is not."""
    from binance_spot_mcp.accounts.store import AccountStore
    from binance_spot_mcp.config import load_settings
    from binance_spot_mcp.guard.daily import key_identity
    from binance_spot_mcp.journal import Journal
    from binance_spot_mcp.redact import Redactor

    keys = loopback.keys
    _append_account(loopback, "twin", f"- API Key: {keys.hmac_api_key}\n- Secret: {keys.hmac_secret}\n"
                    f"- Environment: testnet\n- Base URL: {loopback.base_url}\n")
    with loopback.tools_file.open("a") as handle:
        handle.write("- Max Daily Value: 500 USDT\n")
    settings = load_settings(tools_file=str(loopback.tools_file), environ=dict(os.environ))
    accounts = AccountStore(settings, Redactor()).current().accounts
    journal = Journal(settings.journal_file)

    def placed(account, value: str) -> None:
        entry = journal.record_intent(tool="place_order", account=account.name, environment=account.environment,
                                      method="POST", path="/api/v3/order", params={"symbol": "BTCUSDT"},
                                      policy={"value": {"USDT": value}}, key=key_identity(account))
        journal.record_outcome(entry, ok=True, status=200, summary={"status": "NEW"})

    placed(accounts["twin"], "120")
    placed(accounts["rsa"], "7")  # another key: never in this total
    code, out, _ = _doctor(loopback, capsys, "--offline")
    budget = {line.split()[1]: line for line in _lines(out, "guard rails") if " budget " in line}
    assert "120 of 500 USDT placed in the last 24 hours; 380 left" in budget["main"]
    assert "120 of 500 USDT placed in the last 24 hours; 380 left" in budget["twin"]
