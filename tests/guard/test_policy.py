"""Guard-rail rules: parsing (TOOLS.md lines, flags, variables), combining (the stricter wins), symbols."""

from __future__ import annotations

from decimal import Decimal

import pytest

from binance_spot_mcp.accounts.reading import parse_accounts
from binance_spot_mcp.config import OFFICIAL_BASE_URLS, load_settings
from binance_spot_mcp.errors import ConfigError
from binance_spot_mcp.policy import (
    Amount,
    Rules,
    effective_policy,
    matches,
    parse_amount,
    parse_symbols,
    requires_approval,
)
from binance_spot_mcp.redact import Redactor


@pytest.mark.parametrize(
    ("text", "amount"),
    [("100 USDT", Amount(Decimal(100), "USDT")), (" 0.5 btc ", Amount(Decimal("0.5"), "BTC")),
     ("1,000 USDC", Amount(Decimal(1000), "USDC")), ("250FDUSD", Amount(Decimal(250), "FDUSD"))],
)
def test_amounts(text, amount):
    assert parse_amount(text) == amount


@pytest.mark.parametrize("text", ["", "USDT", "100", "-5 USDT", "0 USDT", "1e3 USDT", "NaN USDT", "100 US DT", "5 $"])
def test_bad_amounts(text):
    with pytest.raises(ValueError):
        parse_amount(text)


def test_symbol_patterns():
    assert parse_symbols("btcusdt, ETH* ,, *DOWN*") == ("BTCUSDT", "ETH*", "*DOWN*")
    assert matches("ETHUSDT", "ETH*") and matches("ETH", "ETH*") and not matches("WETHUSDT", "ETH*")
    assert matches("BTCDOWNUSDT", "*DOWN*") and not matches("BTCUSDT", "*DOWN*")
    for bad in ("", "BTC-USDT", "BTC?"):
        with pytest.raises(ValueError):
            parse_symbols(bad)


def test_the_stricter_rule_wins():
    server = Rules(max_order_value=parse_amount("50 USDT"), allowed_symbols=("BTC*",), denied_symbols=("BTCDOWNUSDT",))
    account = Rules(max_order_value=parse_amount("0.01 BTC"), allowed_symbols=("*USDT",), dry_run=True, confirm="always")
    policy = effective_policy(server, account)
    assert [str(c.amount) for c in policy.order_caps] == ["50 USDT", "0.01 BTC"]
    assert policy.dry_run and policy.confirm_always and policy.has_caps
    assert policy.symbol_problem("BTCUSDT") is None
    assert "not in the allowed symbols (*USDT)" in policy.symbol_problem("BTCFDUSD")
    assert "not in the allowed symbols (BTC*)" in policy.symbol_problem("ETHUSDT")
    assert "denied" in policy.symbol_problem("btcdownusdt")
    loose = effective_policy(Rules(), Rules(dry_run=False, confirm="mainnet"))
    assert not loose.dry_run and not loose.confirm_always and not loose.has_caps and not loose.restricts_symbols


def test_tools_md_lines_parse_with_line_numbers():
    text = """## Binance Accounts

### ok
- API Key: abcdefghijkl
- Secret: s3cr3t-value
- Environment: testnet
- Max Order Value: 100 USDT
- Max Daily Value: 0.02 BTC
- Allowed Symbols: BTCUSDT, ETH*
- Denied Symbols: *DOWN*
- Dry Run: yes
- Confirm: always

### bad
- API Key: abcdefghijkm
- Secret: s3cr3t-value
- Environment: testnet
- Confirm: sometimes
"""
    result = parse_accounts(text, where="TOOLS.md", base_dir=None, base_urls=OFFICIAL_BASE_URLS, redactor=Redactor())
    ok = result.accounts["ok"]
    assert ok.rules.max_daily_value == Amount(Decimal("0.02"), "BTC") and ok.rules.dry_run is True
    assert requires_approval(ok) and not requires_approval(None)
    assert result.broken["bad"].problem == "TOOLS.md line 18: Confirm: 'sometimes' must be mainnet or always"


def test_server_wide_rules_from_flags_and_variables(tmp_path):
    env = {"BINANCE_SPOT_MCP_MAX_DAILY_VALUE": "500 USDT", "BINANCE_SPOT_MCP_MAX_ORDER_VALUE": "10 USDT",
           "BINANCE_SPOT_MCP_DRY_RUN": "1", "BINANCE_SPOT_MCP_TRADING": "off"}
    settings = load_settings(environ=env, cwd=tmp_path, policy={"max_order_value": "20 USDT", "confirm": None})
    rules = settings.policy_rules
    assert rules.max_order_value == parse_amount("20 USDT")  # the flag wins over the variable
    assert rules.max_daily_value == parse_amount("500 USDT") and rules.dry_run is True and rules.confirm is None
    assert settings.trading_off == "BINANCE_SPOT_MCP_TRADING=off"
    assert settings.halt_file == settings.journal_file.parent / "HALT"
    assert load_settings(environ={}, cwd=tmp_path, trading="off").trading_off == "--trading off"
    with pytest.raises(ConfigError, match="BINANCE_SPOT_MCP_ALLOWED_SYMBOLS: 'BTC-USDT' is not a symbol"):
        load_settings(environ={"BINANCE_SPOT_MCP_ALLOWED_SYMBOLS": "BTC-USDT"}, cwd=tmp_path)
    with pytest.raises(ConfigError, match="BINANCE_SPOT_MCP_TRADING must be on or off"):
        load_settings(environ={"BINANCE_SPOT_MCP_TRADING": "paused"}, cwd=tmp_path)
