"""`binance-spot-mcp accounts ...` and `journal`: keys typed without echo, only masked forms printed."""

from __future__ import annotations

import getpass
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from binance_spot_mcp.cli.commands import _parser, main
from binance_spot_mcp.journal import Journal
from tests.e2e_support import console_script

KEY = "CLIKEYabcdefghijklmnopqrstuvwxyz0123456789WXYZ"
SECRET = "cliSecretZ9y8x7w6v5u4t3s2r1q0p9o8n7m6l5k4vwxyz"
PASSPHRASE = "correct horse battery"
MASKED_KEY, MASKED_SECRET = "CLIKE...WXYZ", "***...vwxyz"


pytestmark = pytest.mark.usefixtures("cli_isolation")


@pytest.fixture
def prompts(monkeypatch):
    """Answers for getpass, in order; records the prompts it was asked."""
    asked: list[str] = []
    answers: list[str] = []

    def fake_getpass(prompt: str = "Password: ", stream=None) -> str:
        asked.append(prompt)
        if not answers:
            raise EOFError
        return answers.pop(0)

    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    return answers, asked


def _run(tools: Path, *args: str) -> int:
    return main(["--tools-file", str(tools), *args])


def _assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert KEY not in text and SECRET not in text and PASSPHRASE not in text


def test_add_prompts_without_echo_and_prints_only_masked_forms(tmp_path, prompts, capsys):
    answers, asked = prompts
    answers += [KEY, SECRET]
    tools = tmp_path / "TOOLS.md"
    assert _run(tools, "accounts", "add", "main", "--environment", "testnet", "--description", "my testnet") == 0
    out, err = capsys.readouterr()
    _assert_no_secret(out, err)
    assert MASKED_KEY in out and MASKED_SECRET in out
    assert len(asked) == 2 and "API key" in asked[0] and "secret" in asked[1]
    assert stat.S_IMODE(tools.stat().st_mode) == 0o600
    assert f"- API Key: {KEY}" in tools.read_text() and f"- Secret: {SECRET}" in tools.read_text()

    assert _run(tools, "accounts", "show", "main") == 0
    out, err = capsys.readouterr()
    _assert_no_secret(out, err)
    assert MASKED_KEY in out and MASKED_SECRET in out and "testnet" in out and "HMAC_SHA256" in out
    assert "my testnet" in out

    answers += [KEY.replace("CLIKEY", "OTHERK"), SECRET.replace("cli", "xyz")]
    assert _run(tools, "accounts", "add", "live", "--environment", "mainnet") == 0
    capsys.readouterr()
    assert _run(tools, "accounts", "list") == 0
    out, err = capsys.readouterr()
    assert out.split("\n") == ["main  testnet", "live  mainnet", ""]
    assert "..." not in out and "***" not in out


def test_add_from_a_credentials_file_asks_nothing(tmp_path, prompts, capsys):
    _, asked = prompts
    creds = tmp_path / "creds.txt"
    creds.write_text(f"{KEY}\n{SECRET}\n\n")
    tools = tmp_path / "TOOLS.md"
    tools.write_text("# my notes\r\nkeep me  ")
    code = _run(tools, "accounts", "add", "ci", "--environment", "demo", "--credentials-file", str(creds))
    out, err = capsys.readouterr()
    assert code == 0, err
    assert asked == []
    _assert_no_secret(out, err)
    assert MASKED_KEY in out and MASKED_SECRET in out
    assert tools.read_bytes().startswith(b"# my notes\r\nkeep me  \r\n")


def test_add_with_a_key_file_prompts_for_the_passphrase_and_key_only(tmp_path, prompts, capsys):
    answers, asked = prompts
    pem = tmp_path / "ed.pem"
    key = ed25519.Ed25519PrivateKey.generate()
    encryption = serialization.BestAvailableEncryption(PASSPHRASE.encode())
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    answers += [PASSPHRASE, KEY]
    tools = tmp_path / "TOOLS.md"
    code = _run(
        tools, "accounts", "add", "ed", "--environment", "testnet", "--key-file", str(pem), "--passphrase-prompt"
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert len(asked) == 2 and "passphrase" in asked[0] and "API key" in asked[1]
    _assert_no_secret(out, err)
    assert MASKED_KEY in out and "ED25519" in out and str(pem) in out

    assert _run(tools, "accounts", "show", "ed") == 0
    out, err = capsys.readouterr()
    _assert_no_secret(out, err)
    assert "ED25519" in out and str(pem) in out and MASKED_KEY in out


def test_a_wrong_passphrase_is_refused_before_the_key_is_asked(tmp_path, prompts, capsys):
    answers, asked = prompts
    pem = tmp_path / "ed.pem"
    key = ed25519.Ed25519PrivateKey.generate()
    encryption = serialization.BestAvailableEncryption(PASSPHRASE.encode())
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    answers += ["wrong passphrase!"]
    tools = tmp_path / "TOOLS.md"
    code = _run(tools, "accounts", "add", "ed", "--environment", "demo", "--key-file", str(pem), "--passphrase-prompt")
    assert code == 1
    out, err = capsys.readouterr()
    assert len(asked) == 1 and not tools.exists()
    assert "binance-spot-mcp:" in err and "wrong passphrase!" not in out + err


def test_duplicate_is_refused_before_prompting_and_replace_works(tmp_path, prompts, capsys):
    answers, asked = prompts
    tools = tmp_path / "TOOLS.md"
    answers += [KEY, SECRET]
    assert _run(tools, "accounts", "add", "main", "--environment", "testnet") == 0
    before = tools.read_bytes()
    asked.clear()
    capsys.readouterr()
    assert _run(tools, "accounts", "add", "main", "--environment", "testnet") == 1
    out, err = capsys.readouterr()
    assert asked == [] and "already exists" in err and "--replace" in err
    assert tools.read_bytes() == before

    new_key = KEY.replace("CLIKEY", "NEWKEY")
    answers += [new_key, SECRET]
    assert _run(tools, "accounts", "add", "main", "--environment", "demo", "--replace") == 0
    out, err = capsys.readouterr()
    assert "Replaced" in out and "NEWKE...WXYZ" in out
    assert new_key in tools.read_text() and KEY not in tools.read_text()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--base-url", "https://evil.example.com"], "base URL refused"),
        (["--passphrase-prompt"], "--passphrase-prompt goes with --key-file"),
        (["--key-file", "a.pem", "--credentials-file", "c"], "not both"),
    ],
)
def test_bad_options_fail_before_any_prompt(tmp_path, prompts, capsys, extra, message):
    _, asked = prompts
    tools = tmp_path / "TOOLS.md"
    assert _run(tools, "accounts", "add", "x", "--environment", "testnet", *extra) == 1
    assert message in capsys.readouterr().err
    assert asked == [] and not tools.exists()


def test_closed_input_is_a_clear_error(tmp_path, prompts, capsys):
    tools = tmp_path / "TOOLS.md"
    assert _run(tools, "accounts", "add", "x", "--environment", "testnet") == 1
    assert "no API key was entered" in capsys.readouterr().err
    assert not tools.exists()


def test_invalid_key_from_the_prompt_is_not_echoed(tmp_path, prompts, capsys):
    answers, _ = prompts
    answers += ["short", SECRET]
    tools = tmp_path / "TOOLS.md"
    assert _run(tools, "accounts", "add", "x", "--environment", "testnet") == 1
    out, err = capsys.readouterr()
    assert "API key must be" in err and SECRET not in out + err and "short" not in out + err
    assert not tools.exists()


def test_remove_and_show_unknown(tmp_path, prompts, capsys):
    answers, _ = prompts
    tools = tmp_path / "TOOLS.md"
    answers += [KEY, SECRET]
    assert _run(tools, "accounts", "add", "gone", "--environment", "testnet") == 0
    assert _run(tools, "accounts", "remove", "gone") == 0
    assert "Removed account 'gone'" in capsys.readouterr().out
    assert _run(tools, "accounts", "remove", "gone") == 1
    assert "no account named 'gone'" in capsys.readouterr().err
    assert _run(tools, "accounts", "show", "gone") == 1
    assert "no account named 'gone'" in capsys.readouterr().err
    assert _run(tools, "accounts", "list") == 0
    assert "no accounts configured" in capsys.readouterr().out


def test_journal_command(tmp_path, capsys):
    journal = Journal(tmp_path / "journal.jsonl")
    assert main(["journal"]) == 0
    assert "no journal entries yet" in capsys.readouterr().out
    first = journal.record_intent(
        tool="place_order", account="main", environment="testnet", method="POST", path="/api/v3/order",
        params={"symbol": "BTCUSDT", "side": "BUY"},
    )
    journal.record_outcome(first, ok=True, status=200, summary={"orderId": 7, "status": "FILLED"})
    assert main(["journal"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert "intent" in lines[0] and "place_order on main (testnet): POST /api/v3/order" in lines[0]
    assert "symbol=BTCUSDT side=BUY" in lines[0]
    assert "outcome" in lines[1] and "ok" in lines[1] and "HTTP 200" in lines[1] and "orderId=7" in lines[1]
    assert main(["journal", "-n", "1", "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["phase"] == "outcome" and entry["id"] == first


def test_require_elicitation_flag_parses_before_or_after_serve():
    parser = _parser()
    assert parser.parse_args([]).require_elicitation is False
    assert parser.parse_args(["--require-elicitation"]).require_elicitation is True
    assert parser.parse_args(["serve", "--require-elicitation"]).require_elicitation is True
    assert parser.parse_args(["serve"]).require_elicitation is False


def test_console_script_with_stdin_closed(tmp_path):
    tools = tmp_path / "TOOLS.md"
    tools.write_text(
        f"## Binance Accounts\n\n### main\n- API Key: {KEY}\n- Secret: {SECRET}\n- Environment: testnet\n"
    )
    os.chmod(tools, 0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BINANCE_")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [console_script(), "--tools-file", str(tools), *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            start_new_session=True,  # no controlling terminal: getpass cannot open /dev/tty
            check=False,
        )

    listed = run("accounts", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == "main  testnet\n"
    _assert_no_secret(listed.stdout, listed.stderr)

    shown = run("accounts", "show", "main")
    assert shown.returncode == 0 and MASKED_KEY in shown.stdout and MASKED_SECRET in shown.stdout
    _assert_no_secret(shown.stdout, shown.stderr)

    added = run("accounts", "add", "other", "--environment", "testnet")
    assert added.returncode == 1 and "no API key was entered" in added.stderr
    assert "other" not in tools.read_text()
