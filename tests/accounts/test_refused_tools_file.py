"""A refused TOOLS.md does not look like missing accounts (issue 22, item 5).

``cp TOOLS.md.example TOOLS.md`` under umask 022 gives a file other users can read; the server
refuses to read keys from it. ``list_accounts`` used to answer an empty list and
``get_account {"account": "capped"}`` "no account named 'capped'". Now every account tool says
the file was refused, why, and how to fix it (``chmod 600 ...``).
"""

from __future__ import annotations

import json
import os

import pytest

from binance_spot_mcp.accounts.store import AccountStore
from binance_spot_mcp.config import load_settings
from binance_spot_mcp.errors import AccountError
from binance_spot_mcp.redact import Redactor
from tests.e2e_support import memory_client, random_token, result_json

KEY, SECRET = random_token(), random_token()
BODY = f"## Binance Accounts\n### capped\n- API Key: {KEY}\n- Secret: {SECRET}\n- Environment: testnet\n"


def _file(tmp_path, mode: int):
    path = tmp_path / "TOOLS.md"
    path.write_text(BODY)
    os.chmod(path, mode)
    return path


def _assert_explains(text: str, path, fix: str) -> None:
    assert "refused" in text and str(path) in text, text
    assert fix in text, text
    assert "no account named" not in text, text
    assert KEY not in text and SECRET not in text


CASES = {
    "readable by others (cp under umask 022)": (0o644, "chmod 600"),
    "readable by the group": (0o640, "chmod 600"),
    "writable by others": (0o622, "chmod 600"),
}


@pytest.mark.anyio
@pytest.mark.parametrize("case", sorted(CASES), ids=sorted(CASES))
async def test_every_account_tool_says_why_the_file_was_refused(tmp_path, case):
    mode, fix = CASES[case]
    path = _file(tmp_path, mode)
    async with memory_client(path, "auto", "http://127.0.0.1:9") as client:
        listed = await client.call_tool("list_accounts", {})
        answers = {
            "show_account named": await client.call_tool("show_account", {"account": "capped"}),
            "show_account default": await client.call_tool("show_account", {}),
            "get_account named": await client.call_tool("get_account", {"account": "capped"}),
            "get_account default": await client.call_tool("get_account", {}),
            "place_order": await client.call_tool(
                "place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001", "account": "capped"}),
        }
    body = result_json(listed)
    assert not listed.is_error and body["accounts"] == []
    _assert_explains(json.dumps(body["accounts_file_refused"]), path, fix)
    for label, result in answers.items():
        assert result.is_error, label
        _assert_explains(json.dumps(result_json(result)), path, fix)


def test_the_store_says_why_for_a_name_and_for_the_default(tmp_path):
    path = _file(tmp_path, 0o644)
    store = AccountStore(load_settings(tools_file=str(path), environ={}), Redactor())
    for name in ("capped", None, "other"):
        with pytest.raises(AccountError) as info:
            store.resolve(name)
        _assert_explains(f"{info.value.message} {info.value.hint}", path, f"chmod 600 {path}")


def test_a_symlinked_tools_file_is_explained_too(tmp_path):
    real = _file(tmp_path, 0o600)
    link = tmp_path / "link.md"
    link.symlink_to(real)
    store = AccountStore(load_settings(tools_file=str(link), environ={}), Redactor())
    with pytest.raises(AccountError) as info:
        store.resolve("capped")
    text = f"{info.value.message} {info.value.hint}"
    assert "refused" in text and "symbolic link" in text and "no account named" not in text, text


def test_a_refused_file_does_not_let_an_environment_account_stand_in(tmp_path):
    """The file's 'main' would shadow the environment's: while it cannot be read, no name
    (nor the default) resolves to another account; each answer says why and how to fix it."""
    path = _file(tmp_path, 0o644)
    environ = {"BINANCE_SPOT_MCP_API_KEY": random_token(), "BINANCE_SPOT_MCP_SECRET_KEY": random_token()}
    store = AccountStore(load_settings(tools_file=str(path), environ=environ), Redactor())
    assert "main" in store.current().accounts  # the environment's 'main' is there ...
    for name in ("main", "capped", None):  # ... but is not used in place of the file's
        with pytest.raises(AccountError) as info:
            store.resolve(name)
        _assert_explains(f"{info.value.message} {info.value.hint}", path, "chmod 600")
    os.chmod(path, 0o600)  # fixed: re-read without a restart, the file's accounts win again
    assert store.resolve("capped").api_key == KEY
    assert store.resolve("main").api_key == environ["BINANCE_SPOT_MCP_API_KEY"]  # the file has no 'main'
    assert store.resolve(None).name == "main"


@pytest.mark.parametrize("command", [["accounts", "list"], ["accounts", "show", "capped"]], ids=["list", "show"])
def test_the_cli_says_why_too(tmp_path, capsys, cli_isolation, command):
    from binance_spot_mcp.cli.commands import main

    path = _file(tmp_path, 0o644)
    code = main(["--tools-file", str(path), *command])
    captured = capsys.readouterr()
    assert code != 0
    text = captured.out + captured.err
    _assert_explains(text, path, f"chmod 600 {path}")
    assert "no accounts configured" not in text
