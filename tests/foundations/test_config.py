"""Settings from the environment: the one key pair a host's settings form can give (the Claude
Desktop bundle's user_config), and placeholders a host leaves unresolved."""

from __future__ import annotations

import pytest

from binance_spot_mcp.accounts.store import AccountStore
from binance_spot_mcp.config import (
    FORM_ACCOUNT_NAME,
    FORM_API_KEY_ENV,
    FORM_KEY_ENVIRONMENT_ENV,
    FORM_SECRET_KEY_ENV,
    load_settings,
)
from binance_spot_mcp.errors import ConfigError
from binance_spot_mcp.redact import Redactor
from tests.e2e_support import random_token


def test_the_form_pair_becomes_main_in_its_environment(tmp_path):
    key, secret = random_token(), random_token()
    for given, expected in [(None, "testnet"), ("Demo", "demo"), ("mainnet", "mainnet")]:
        env = {FORM_API_KEY_ENV: key, FORM_SECRET_KEY_ENV: secret}
        if given is not None:
            env[FORM_KEY_ENVIRONMENT_ENV] = given
        settings = load_settings(tools_file=str(tmp_path / "none.md"), environ=env)
        (credential,) = settings.env_credentials
        assert (credential.name, credential.environment, credential.api_key) == (FORM_ACCOUNT_NAME, expected, key)
        account = AccountStore(settings, Redactor()).resolve(None)  # the default account
        assert account.name == "main" and account.environment == expected
        assert key not in repr(settings) and secret not in repr(settings)


def test_tools_md_main_wins_over_the_form_pair(tmp_path):
    tools = tmp_path / "TOOLS.md"
    tools.write_text("## Binance Accounts\n\n### main\n- API Key: " + random_token() + "\n- Secret: "
                     + random_token() + "\n- Environment: demo\n")
    tools.chmod(0o600)
    env = {FORM_API_KEY_ENV: random_token(), FORM_SECRET_KEY_ENV: random_token()}
    account = AccountStore(load_settings(tools_file=str(tools), environ=env), Redactor()).resolve(None)
    assert account.environment == "demo" and account.source != f"{FORM_API_KEY_ENV}/{FORM_SECRET_KEY_ENV}"


def test_half_a_pair_or_an_unknown_environment_stops_start_up_without_showing_the_key(tmp_path):
    key = random_token()
    with pytest.raises(ConfigError, match=FORM_SECRET_KEY_ENV) as caught:
        load_settings(tools_file=str(tmp_path / "x.md"), environ={FORM_API_KEY_ENV: key})
    assert key not in caught.value.message
    env = {FORM_API_KEY_ENV: key, FORM_SECRET_KEY_ENV: random_token(), FORM_KEY_ENVIRONMENT_ENV: "live"}
    with pytest.raises(ConfigError, match="mainnet, testnet, demo"):
        load_settings(tools_file=str(tmp_path / "x.md"), environ=env)


def test_unresolved_form_placeholders_count_as_unset(tmp_path):
    env = {
        FORM_API_KEY_ENV: "${user_config.api_key}",
        FORM_SECRET_KEY_ENV: " ${user_config.secret_key}",
        FORM_KEY_ENVIRONMENT_ENV: "${user_config.environment}",
        "BINANCE_TOOLS_FILE": "${user_config.tools_file}",
        "BINANCE_SPOT_MCP_TOOLSETS": "${user_config.toolsets}",
        "BINANCE_SPOT_MCP_READ_ONLY": "${user_config.read_only}",
    }
    settings = load_settings(environ=env, cwd=tmp_path)
    assert settings.env_credentials == () and settings.toolsets is None and not settings.read_only
    assert settings.tools_file == tmp_path / "TOOLS.md" and not settings.tools_file_explicit
    # a value that merely contains a placeholder is the user's own and is kept
    kept = load_settings(environ={"BINANCE_TOOLS_FILE": "/x/${user_config.a}/TOOLS.md"}, cwd=tmp_path)
    assert str(kept.tools_file) == "/x/${user_config.a}/TOOLS.md"
