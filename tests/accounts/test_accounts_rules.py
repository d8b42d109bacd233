"""TOOLS.md parsing rules that decide which account is used and on which environment, and what
a mistake in the file may show (never a secret)."""

from __future__ import annotations

import json

import pytest

from binance_spot_mcp.accounts.store import AccountStore
from binance_spot_mcp.cli.commands import main
from binance_spot_mcp.config import load_settings
from binance_spot_mcp.errors import AccountError
from binance_spot_mcp.redact import Redactor
from tests.e2e_support import memory_client, random_token, result_json, transcript

KEY, SECRET = random_token(), random_token()


def _store(tmp_path, body: str) -> AccountStore:
    path = tmp_path / "TOOLS.md"
    path.write_text(body)
    return AccountStore(load_settings(tools_file=str(path), environ={}), Redactor())


def _one(lines: str, name: str = "a") -> str:
    return f"## Binance Accounts\n### {name}\n- API Key: {KEY}\n- Secret: {SECRET}\n{lines}"


@pytest.mark.parametrize(
    ("lines", "environment"),
    [
        ("- Testnet: no\n", "mainnet"),
        ("- Testnet: false\n", "mainnet"),
        ("- Testnet: FALSE\n", "mainnet"),
        ("- Testnet: yes\n", "testnet"),
        ("- Testnet: True\n", "testnet"),
        ("- Environment: Mainnet\n", "mainnet"),
        ("- Environment: MAINNET\n", "mainnet"),
        ("- Environment: Demo\n", "demo"),
        ("- Environment: testnet\n- Testnet: true\n", "testnet"),
    ],
)
def test_environment_words(tmp_path, lines, environment):
    assert _store(tmp_path, _one(lines)).resolve("a").environment == environment


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        ("- Environment: testnet\n- Testnet: false\n", "contradicts"),
        ("- Environment: mainnet\n- Testnet: yes\n", "contradicts"),
        ("- Testnet: maybe\n", "Testnet must be true or false"),
        ("- Environment: prod\n", "Environment must be"),
        ("", "no 'Environment"),
        ("- Environment: testnet\n- Private Key File: key.pem\n", "not both"),
    ],
)
def test_ambiguous_accounts_are_unusable_never_guessed(tmp_path, lines, problem):
    store = _store(tmp_path, _one(lines))
    with pytest.raises(AccountError, match=problem):
        store.resolve("a")


def test_an_api_key_with_a_space_is_refused(tmp_path):
    body = f"## Binance Accounts\n### a\n- API Key: {KEY[:20]} {KEY[20:]}\n- Secret: {SECRET}\n- Environment: testnet\n"
    with pytest.raises(AccountError, match="API key has unexpected characters"):
        _store(tmp_path, body).resolve("a")


def test_a_broken_main_is_never_replaced_by_the_only_other_account(tmp_path):
    body = (
        f"## Binance Accounts\n### main\n- API Key: {KEY}\n- Secret: {SECRET}\n- Environment: moon\n"
        f"### other\n- API Key: {KEY}x\n- Secret: {SECRET}\n- Environment: testnet\n"
    )
    store = _store(tmp_path, body)
    assert store.current().names() == ["other"]
    with pytest.raises(AccountError, match="default account 'main' cannot be used"):
        store.resolve(None)


def test_a_broken_first_definition_is_not_overridden_by_a_later_one(tmp_path):
    body = (
        f"## Binance Accounts\n### a\n- API Key: {KEY}\n- Secret: {SECRET}\n- Environment: moon\n"
        f"### a\n- API Key: {KEY}\n- Secret: {SECRET}\n- Environment: mainnet\n"
    )
    store = _store(tmp_path, body)
    current = store.current()
    assert current.names() == [] and "a" in current.broken
    assert any("defined again; the first one is used" in p for p in current.problems)


def test_an_archive_section_is_not_the_accounts_section(tmp_path):
    body = "## Binance Accounts Archive\n" + _one("- Environment: testnet\n").split("\n", 1)[1]
    assert _store(tmp_path, body).current().names() == []


def test_passphrases_and_secrets_of_broken_accounts_are_registered_first(tmp_path):
    passphrase = "pass-" + random_token(12)
    second = random_token()
    body = (
        f"## Binance Accounts\n### a\n- API Key: {KEY}\n- Secret: {SECRET}\n- Secret: {second}\n"
        f"- Private Key Passphrase: {passphrase}\n- Environment: testnet\n"
    )
    store = _store(tmp_path, body)
    current = store.current()
    assert "a" in current.broken  # 'Secret' given twice: broken before any value was used
    text = store._redactor.redact(f"{KEY} {SECRET} {second} {passphrase}")  # noqa: SLF001
    for value in (KEY, SECRET, second, passphrase):
        assert value not in text


def _misplaced(tmp_path):
    """A secret pasted on a heading, another into Private Key File, a third on a loose line."""
    on_heading, in_key_file, loose = random_token(), random_token(), random_token()
    body = (
        "# my notes\n\n## Binance Accounts\n\n"
        f"### {on_heading}\n- API Key: {random_token()}\n- Secret: {random_token()}\n- Environment: testnet\n\n"
        f"### pem\n- API Key: {random_token()}\n- Private Key File: {in_key_file}\n- Environment: testnet\n"
        f"{loose}\n"
    )
    path = tmp_path / "TOOLS.md"
    path.write_text(body)
    return path, (on_heading, in_key_file, loose)


@pytest.mark.anyio
async def test_misplaced_secrets_are_never_echoed_over_mcp(tmp_path):
    path, secrets = _misplaced(tmp_path)
    async with memory_client(path, "auto") as client:
        results = [
            await client.call_tool("list_accounts", {}),
            await client.call_tool("show_account", {"account": "pem"}),
            await client.call_tool("get_account", {"account": "pem"}),
        ]
    text = transcript(results)
    assert "unusable" in result_json(results[0])
    for secret in secrets:
        assert secret not in text and secret[:5] not in text


def test_misplaced_secrets_are_never_echoed_by_the_cli(tmp_path, capsys, cli_isolation):
    path, secrets = _misplaced(tmp_path)
    outputs = []
    for args in (["accounts", "list"], ["accounts", "show", "pem"], ["doctor", "--offline"], ["doctor", "--offline", "--json"]):
        main(["--tools-file", str(path), *args])
        captured = capsys.readouterr()
        outputs.append(captured.out + captured.err)
    text = "\n".join(outputs)
    assert "unusable" in outputs[0]
    assert json.loads(outputs[3][outputs[3].index("{"):outputs[3].rindex("}") + 1])  # the JSON report is whole
    for secret in secrets:
        assert secret not in text and secret[:5] not in text


def test_long_ordinary_names_and_paths_are_not_mistaken_for_secrets(tmp_path):
    body = (
        "## Binance Accounts\n### my-long-descriptive-account-name\n"
        f"- API Key: {KEY}\n- Secret: {SECRET}\n- Environment: testnet\n"
    )
    store = _store(tmp_path, body)
    assert store.current().names() == ["my-long-descriptive-account-name"]
    assert store._redactor.redact("my-long-descriptive-account-name") == "my-long-descriptive-account-name"  # noqa: SLF001
