"""Mainnet is decided by destination: a Binance host belongs to one environment whatever the label."""

from __future__ import annotations

import pytest

from binance_spot_mcp.accounts.store import AccountStore
from binance_spot_mcp.cli.commands import main
from binance_spot_mcp.config import destination_environment, environment_conflict, load_settings
from binance_spot_mcp.errors import ConfigError
from binance_spot_mcp.redact import Redactor
from tests.e2e_support import memory_client, result_json

pytestmark = pytest.mark.anyio

HOSTS = {
    "https://api.binance.com": "mainnet",
    "https://api1.binance.com": "mainnet",
    "https://api4.binance.com": "mainnet",
    "https://api-gcp.binance.com": "mainnet",
    "https://API2.Binance.com": "mainnet",
    "https://testnet.binance.vision": "testnet",
    "https://demo-api.binance.com": "demo",
    "https://api9.binance.com": "mainnet",  # a production host this table does not know: mainnet
    "http://127.0.0.1:9000": None,
    "http://localhost:9000": None,
}


@pytest.mark.parametrize(("url", "environment"), list(HOSTS.items()))
def test_each_binance_host_belongs_to_one_environment(url, environment):
    assert destination_environment(url) == environment


def test_a_conflict_names_both_environments():
    message = environment_conflict("https://api1.binance.com", "testnet")
    assert message and "mainnet" in message and "testnet" in message and "api1.binance.com" in message
    assert environment_conflict("https://api1.binance.com", "mainnet") is None
    assert environment_conflict("http://127.0.0.1:9000", "testnet") is None  # loopback keeps the label


RELABELLED = [
    ("- Environment: testnet", "https://api.binance.com", "mainnet"),
    ("- Environment: demo", "https://api3.binance.com", "mainnet"),
    ("- Testnet: true", "https://api-gcp.binance.com", "mainnet"),
    ("- Environment: mainnet", "https://testnet.binance.vision", "testnet"),
    ("- Environment: testnet", "https://demo-api.binance.com", "demo"),
]


@pytest.mark.parametrize(("label", "base_url", "actual"), RELABELLED)
async def test_a_relabelled_account_is_refused_and_nothing_leaves(tmp_path, label, base_url, actual):
    tools_file = tmp_path / "TOOLS.md"
    tools_file.write_text(
        "## Binance Accounts\n\n### main\n- API Key: AAAAAAAAAAAAAAAA\n- Secret: BBBBBBBBBBBBBBBB\n"
        f"{label}\n- Base URL: {base_url}\n"
    )
    tools_file.chmod(0o600)
    store = AccountStore(load_settings(tools_file=str(tools_file), environ={}), Redactor())
    problem = store.current().broken["main"].problem
    assert "line 7" in problem and actual in problem and "labelled" in problem
    # no transport at all: a request that tried to leave would fail the test with a network error
    async with memory_client(tools_file, "auto") as client:
        body = result_json(await client.call_tool("cancel_open_orders", {"symbol": "BTCUSDT"}))
    assert body["error"] == "account_error" and "labelled" in body["message"]


@pytest.mark.parametrize(("variable", "url"), [
    ("BINANCE_SPOT_MCP_TESTNET_BASE_URL", "https://api1.binance.com"),
    ("BINANCE_SPOT_MCP_DEMO_BASE_URL", "https://api.binance.com"),
    ("BINANCE_SPOT_MCP_MAINNET_BASE_URL", "https://testnet.binance.vision"),
])
def test_an_environment_variable_pointing_at_another_environment_stops_start_up(tmp_path, variable, url):
    with pytest.raises(ConfigError) as info:
        load_settings(tools_file=str(tmp_path / "TOOLS.md"), environ={variable: url})
    assert variable in info.value.message and "labelled" in info.value.message


def test_accounts_add_refuses_a_host_of_another_environment(tmp_path, cli_isolation, capsys):
    tools_file = tmp_path / "TOOLS.md"
    creds = tmp_path / "creds.txt"
    creds.write_text("AAAAAAAAAAAAAAAA\nBBBBBBBBBBBBBBBB\n")
    creds.chmod(0o600)
    code = main(["--tools-file", str(tools_file), "accounts", "add", "sneaky", "--environment", "testnet",
                 "--base-url", "https://api.binance.com", "--credentials-file", str(creds)])
    err = capsys.readouterr().err
    assert code != 0 and "mainnet" in err and "testnet" in err
    assert not tools_file.exists() or "sneaky" not in tools_file.read_text()
