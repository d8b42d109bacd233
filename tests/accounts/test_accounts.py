"""TOOLS.md accounts: parsing, problems with line numbers, choice rules, env credentials, reload."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from binance_spot_mcp.accounts.store import AccountStore, market_data_source
from binance_spot_mcp.config import load_settings
from binance_spot_mcp.errors import AccountError, PolicyError
from binance_spot_mcp.redact import Redactor

KEY_A = "AAAAAkeyForAccountMainxxxxxxxxxxxxxxxxxx1111"
SECRET_A = "secretForMain0000000000000000000000000ZZZZ9"
KEY_B = "BBBBBkeyForTestnetyyyyyyyyyyyyyyyyyyyyyy2222"
SECRET_B = "secretForTestnet11111111111111111111111YYYY8"


def _store(tmp_path: Path, body: str, environ: dict[str, str] | None = None) -> tuple[AccountStore, Redactor]:
    path = tmp_path / "TOOLS.md"
    path.write_text(textwrap.dedent(body))
    os.chmod(path, 0o600)
    redactor = Redactor()
    settings = load_settings(tools_file=str(path), environ=environ or {})
    return AccountStore(settings, redactor), redactor


def test_parses_skill_format_and_extensions(tmp_path):
    key = ed25519.Ed25519PrivateKey.generate()
    (tmp_path / "ed.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    store, redactor = _store(
        tmp_path,
        f"""\
        # My tools

        Some other notes.

        ## Binance Accounts

        ### main
        - API Key: {KEY_A}
        - Secret: {SECRET_A}
        - Testnet: false
        - Description: Primary account

        ### dev
        - API Key: {KEY_B}
        - Private Key File: ed.pem
        - Environment: testnet
        - Base URL: http://127.0.0.1:9000

        ## Other section
        ### not-an-account
        - API Key: nope
        """,
    )
    current = store.current()
    assert current.names() == ["main", "dev"]
    main, dev = current.accounts["main"], current.accounts["dev"]
    assert main.environment == "mainnet" and main.signing == "HMAC_SHA256" and main.base_url == "https://api.binance.com"
    assert main.description == "Primary account"
    assert dev.environment == "testnet" and dev.signing == "ED25519" and dev.base_url == "http://127.0.0.1:9000"
    for shown in (repr(main), repr(dev), repr(current)):
        assert KEY_A not in shown and SECRET_A not in shown and KEY_B not in shown
    assert "AAAAA...1111" in repr(main)
    assert redactor.redact(f"{KEY_A} {SECRET_A}") == "AAAAA...1111 ***...ZZZZ9"
    assert store.resolve(None).name == "main"
    assert store.resolve("dev").name == "dev"


def test_a_bad_account_names_its_line_and_leaves_the_others_usable(tmp_path):
    store, _ = _store(
        tmp_path,
        f"""\
        ## Binance Accounts

        ### good
        - API Key: {KEY_B}
        - Secret: {SECRET_B}
        - Environment: demo

        ### broken
        - API Key: {KEY_A}
        - Secret: {SECRET_A}
        - Environment: moon
        - Colour: blue

        ### far
        - API Key: {KEY_A}
        - Secret: {SECRET_A}
        - Environment: testnet
        - Base URL: https://evil.example.com
        """,
    )
    current = store.current()
    assert current.names() == ["good"]
    problems = "\n".join(current.problems)
    assert "TOOLS.md line 11: Environment must be mainnet, testnet, demo or paper" in problems
    assert "TOOLS.md line 12: unknown field 'Colour'" in problems
    assert "TOOLS.md line 18: Base URL refused" in problems
    assert SECRET_A not in problems and KEY_A not in problems
    with pytest.raises(AccountError, match="'broken' cannot be used: TOOLS.md line 11"):
        store.resolve("broken")
    assert store.resolve(None).name == "good"  # the only usable one


def test_choice_rules_and_errors_list_names(tmp_path):
    body = "## Binance Accounts\n"
    for name, env in (("alpha", "testnet"), ("beta", "demo")):
        body += f"\n### {name}\n- API Key: {KEY_A}{name}\n- Secret: {SECRET_A}\n- Environment: {env}\n"
    store, _ = _store(tmp_path, body)
    with pytest.raises(AccountError) as info:
        store.resolve(None)
    assert "alpha (testnet), beta (demo)" in info.value.message and "Ask the user" in info.value.hint
    with pytest.raises(AccountError, match="no account named 'gamma'. Accounts: alpha"):
        store.resolve("gamma")
    # market data: several accounts -> mainnet unless told
    assert market_data_source(store, account=None, environment=None).environment == "mainnet"
    assert market_data_source(store, account="beta", environment=None).base_url == "https://demo-api.binance.com"
    assert market_data_source(store, account=None, environment="testnet").base_url == "https://testnet.binance.vision"


def test_market_data_follows_the_account_a_signed_tool_would_use(tmp_path):
    """With main on testnet and another account on mainnet, unnamed market data comes from testnet
    (where an order without 'account' would go), never from mainnet."""
    body = "## Binance Accounts\n"
    for name, env in (("live", "mainnet"), ("main", "testnet")):
        body += f"\n### {name}\n- API Key: {KEY_A}{name}\n- Secret: {SECRET_A}\n- Environment: {env}\n"
    store, _ = _store(tmp_path, body)
    assert store.resolve(None).name == "main"
    source = market_data_source(store, account=None, environment=None)
    assert (source.environment, source.base_url, source.account) == ("testnet", "https://testnet.binance.vision", "main")
    assert market_data_source(store, account="live", environment=None).environment == "mainnet"
    assert market_data_source(store, account=None, environment="mainnet").environment == "mainnet"


def test_public_tool_schemas_state_the_default(tmp_path):
    from binance_spot_mcp.catalog.endpoints import load_catalog
    from binance_spot_mcp.catalog.schema import tool_schema

    props = tool_schema(load_catalog().get("get_ticker_price"))["properties"]
    assert props["account"]["description"] == "Default main" and props["environment"]["enum"] == ["mainnet", "testnet", "demo"]


def test_env_credentials_and_missing_file(tmp_path):
    settings = load_settings(
        tools_file=str(tmp_path / "absent.md"),
        environ={"BINANCE_TESTNET_API_KEY": KEY_B, "BINANCE_TESTNET_SECRET_KEY": SECRET_B},
    )
    store = AccountStore(settings, Redactor())
    current = store.current()
    assert current.names() == ["env-testnet", "paper"]  # the built-in paper account comes after the keys
    assert any("absent.md does not exist" in p for p in current.problems)
    only = store.resolve(None)
    assert only.environment == "testnet" and only.base_url == "https://testnet.binance.vision"
    assert market_data_source(store, account=None, environment=None).environment == "testnet"


def test_with_no_tools_file_the_built_in_paper_account_is_the_default(tmp_path):
    store = AccountStore(load_settings(environ={}, cwd=tmp_path), Redactor())
    assert store.current().problems == []  # the default ./TOOLS.md may simply not exist
    account = store.resolve(None)
    assert (account.name, account.environment, account.destination, account.is_mainnet) == ("paper", "paper", "paper", False)
    assert account.base_url == "https://api.binance.com"  # live prices; nothing signed goes there
    with pytest.raises(PolicyError, match="never signs"):
        account.signer.sign(b"timestamp=1")


def test_keys_from_the_environment_come_before_the_built_in_paper_account(tmp_path):
    env = {"BINANCE_TESTNET_API_KEY": KEY_A, "BINANCE_TESTNET_SECRET_KEY": SECRET_A}
    store = AccountStore(load_settings(environ=env, cwd=tmp_path), Redactor())
    assert sorted(store.current().names()) == ["env-testnet", "paper"]
    assert store.resolve(None).name == "env-testnet"
    assert store.resolve("paper").environment == "paper"


def test_a_tools_file_without_accounts_has_no_paper_account_and_says_so(tmp_path):
    (tmp_path / "TOOLS.md").write_text("# notes\n")
    os.chmod(tmp_path / "TOOLS.md", 0o600)
    store = AccountStore(load_settings(environ={}, cwd=tmp_path), Redactor())
    with pytest.raises(AccountError, match="no account is configured"):
        store.resolve(None)
    missing = AccountStore(load_settings(tools_file=str(tmp_path / "absent.md"), environ={}, cwd=tmp_path), Redactor())
    assert missing.current().names() == ["paper"]  # named but not written yet: paper until it exists
    assert any("absent.md" in p for p in missing.current().problems)  # and the missing file is reported


def test_file_changes_are_picked_up_without_restart(tmp_path):
    store, _ = _store(tmp_path, f"## Binance Accounts\n### one\n- API Key: {KEY_A}\n- Secret: {SECRET_A}\n- Environment: testnet\n")
    assert store.current().names() == ["one"]
    path = tmp_path / "TOOLS.md"
    path.write_text(path.read_text() + f"\n### two\n- API Key: {KEY_B}\n- Secret: {SECRET_B}\n- Environment: demo\n")
    assert store.current().names() == ["one", "two"]


def test_group_readable_file_is_refused_unless_insecure_permissions(tmp_path):
    body = f"## Binance Accounts\n### one\n- API Key: {KEY_A}\n- Secret: {SECRET_A}\n- Environment: testnet\n"
    store, _ = _store(tmp_path, body)
    assert store.current().names() == ["one"]
    os.chmod(tmp_path / "TOOLS.md", 0o640)
    current = store.current()  # a chmod alone (same mtime and size) is noticed
    assert current.names() == []
    assert current.mode_problem and "readable by other users (mode 640)" in current.mode_problem
    assert "chmod 600" in current.mode_problem and "--insecure-permissions" in current.mode_problem
    with pytest.raises(AccountError):
        store.resolve("one")
    lenient = AccountStore(
        load_settings(tools_file=str(tmp_path / "TOOLS.md"), environ={}, insecure_permissions=True), Redactor()
    )
    assert lenient.current().names() == ["one"]


@pytest.mark.parametrize("mode", [0o620, 0o602, 0o666])
def test_a_file_other_users_can_write_is_refused_even_with_insecure_permissions(tmp_path, mode):
    _store(tmp_path, f"## Binance Accounts\n### one\n- API Key: {KEY_A}\n- Secret: {SECRET_A}\n- Environment: testnet\n")
    os.chmod(tmp_path / "TOOLS.md", mode)
    settings = load_settings(tools_file=str(tmp_path / "TOOLS.md"), environ={}, insecure_permissions=True)
    current = AccountStore(settings, Redactor()).current()
    assert current.names() == [] and "writable by other users" in (current.mode_problem or "")
