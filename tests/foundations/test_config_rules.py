"""Settings rules, one behaviour each: which settings a given environment yields, which start-up
errors it gives, and which base-URL hosts are refused (found by mutation testing of config.py)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from binance_spot_mcp.config import (
    BASE_URL_ENV,
    DEFAULT_MAX_RESULT_CHARS,
    DEFAULT_STREAM_IDLE_S,
    OFFICIAL_BASE_URLS,
    OFFICIAL_STREAM_URLS,
    OFFICIAL_WS_API_URLS,
    STREAM_URL_ENV,
    WS_API_URL_ENV,
    base_url_problem,
    check_http_token,
    default_config_dir,
    default_journal_file,
    destination_environment,
    environment_conflict,
    is_binance_url,
    is_loopback_host,
    is_loopback_url,
    load_settings,
    parse_toolsets,
    ws_url_problem,
)
from binance_spot_mcp.errors import ConfigError

KEY_A, SECRET_A = "k" * 20 + "A", "s" * 20 + "A"
KEY_B, SECRET_B = "k" * 20 + "B", "s" * 20 + "B"
KEY_C, SECRET_C = "k" * 20 + "C", "s" * 20 + "C"


def settings_for(env: dict[str, str], tmp_path: Path, **flags):
    """Settings from exactly ``env`` (plus a HOME inside tmp_path), as start-up would build them."""
    return load_settings(environ={"HOME": str(tmp_path / "home"), **env}, cwd=tmp_path, **flags)


def start_up_error(env: dict[str, str], tmp_path: Path, **flags) -> str:
    with pytest.raises(ConfigError) as caught:
        settings_for(env, tmp_path, **flags)
    return caught.value.message


# --- loopback and Binance hosts ---------------------------------------------------------------


@pytest.mark.parametrize("host", ["localhost", "LocalHost", "127.0.0.1", "127.8.9.10", "::1", "[::1]"])
def test_loopback_hosts(host):
    assert is_loopback_host(host) is True


@pytest.mark.parametrize("host", ["10.0.0.1", "example.com", "localhost.example.com", "Xlocalhost",
                                  "X127.0.0.1", "::2", "", "[]"])
def test_hosts_that_are_not_loopback(host):
    assert is_loopback_host(host) is False


@pytest.mark.parametrize("url", ["http://127.0.0.1:9000", "https://localhost", "http://[::1]:8080",
                                 "HTTP://LOCALHOST:1"])
def test_loopback_urls(url):
    assert is_loopback_url(url) is True


@pytest.mark.parametrize("url", ["ftp://127.0.0.1", "ws://127.0.0.1", "127.0.0.1:9000", "http://",
                                 "http://10.1.1.1", "https://api.binance.com"])
def test_urls_that_are_not_loopback(url):
    assert is_loopback_url(url) is False


@pytest.mark.parametrize("url", ["https://api.binance.com", "https://api.binance.com:443",
                                 "https://testnet.binance.vision", "https://data-api.binance.vision"])
def test_binance_urls(url):
    assert is_binance_url(url) is True


@pytest.mark.parametrize("url", ["http://api.binance.com", "https://api.binance.com:8443",
                                 "https://evil.example", "https://api.binance.com.evil.example"])
def test_urls_that_are_not_binance(url):
    assert is_binance_url(url) is False


# --- which environment a destination is ---------------------------------------------------------


@pytest.mark.parametrize(("url", "environment"), [
    ("https://api.binance.com.", "mainnet"),  # a fully qualified name with its trailing dot
    ("https://TESTNET.binance.vision.", "testnet"),
    ("https://new-host.binance.com", "mainnet"),  # unknown Binance hosts are taken for mainnet
    ("https://new-host.binance.vision", "mainnet"),
    ("https://Binance.com", "mainnet"),
    ("https://binance.vision", "mainnet"),
    ("https://notbinance.com", None),
    ("https://binance.com.evil.example", None),
    ("http://127.0.0.1:9000", None),
    ("not a url", None),
])
def test_the_destination_decides_the_environment(url, environment):
    assert destination_environment(url) == environment


def test_a_conflict_message_names_the_host_both_environments_and_the_way_out():
    assert environment_conflict("https://api2.binance.com", "demo") == (
        "api2.binance.com is a Binance mainnet host, but the account is labelled demo; "
        "use https://demo-api.binance.com for demo, or label the account mainnet"
    )
    assert environment_conflict("https://demo-api.binance.com", "demo") is None
    assert environment_conflict("http://localhost:9000", "mainnet") is None


# --- WebSocket destinations ---------------------------------------------------------------------


@pytest.mark.parametrize(("url", "path"), [
    ("wss://stream.binance.com:9443", ""),
    ("wss://stream.binance.com:9443/", ""),
    ("wss://ws-api.binance.com:443/ws-api/v3", "/ws-api/v3"),
    ("wss://ws-api.binance.com/ws-api/v3/", "/ws-api/v3"),
    ("ws://127.0.0.1:7000", ""),
    ("wss://localhost:7000", ""),
    ("ws://[::1]:7000/ws-api/v3", "/ws-api/v3"),
])
def test_websocket_urls_that_may_be_used(url, path):
    assert ws_url_problem(url, path=path) is None


@pytest.mark.parametrize(("url", "path"), [
    ("wss://stream.binance.com/ws", ""),
    ("wss://ws-api.binance.com", "/ws-api/v3"),
    ("wss://ws-api.binance.com/ws-api/v3X", "/ws-api/v3"),
    ("wss://stream.binance.com?x=1", ""),
    ("wss://stream.binance.com#x", ""),
    ("wss://user@stream.binance.com", ""),
    ("wss://:pw@stream.binance.com", ""),
])
def test_a_websocket_url_has_only_its_one_path(url, path):
    where = f"with the path {path}" if path else "with no path"
    expected = f"a WebSocket URL is scheme://host[:port] {where}, and no query or credentials"
    assert ws_url_problem(url, path=path) == expected


def test_a_websocket_url_without_a_path_argument_must_have_no_path():
    assert ws_url_problem("ws://127.0.0.1:7000") is None
    assert ws_url_problem("ws://127.0.0.1:7000/x") == (
        "a WebSocket URL is scheme://host[:port] with no path, and no query or credentials"
    )


@pytest.mark.parametrize("url", ["ws://stream.binance.com", "wss://evil.example", "https://127.0.0.1",
                                 "ws://10.0.0.1", "wss://api.binance.com", "ws:///"])
def test_websocket_urls_that_are_refused(url):
    assert ws_url_problem(url) == (
        "WebSocket URLs must be Binance's own wss:// hosts or a loopback address (127.0.0.1, ::1, localhost)"
    )


# --- base URLs that may receive keys ------------------------------------------------------------


@pytest.mark.parametrize("url", ["https://api.binance.com", "https://api.binance.com/", "http://127.0.0.1:9000",
                                 "http://localhost:1", "http://[::1]:65535"])
def test_base_urls_that_may_receive_keys(url):
    assert base_url_problem(url) is None


@pytest.mark.parametrize("url", ["https://api.binance.com/api", "https://api.binance.com?x=1",
                                 "https://api.binance.com#frag", "https://user@api.binance.com",
                                 "https://user:pw@api.binance.com", "http://127.0.0.1:9000/v3",
                                 "https://:pw@api.binance.com"])
def test_a_base_url_is_scheme_host_and_port_only(url):
    assert base_url_problem(url) == "a base URL is scheme://host[:port] only, with no path, query or credentials"


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999", "http://127.0.0.1:port", "https://api.binance.com:-1"])
def test_a_base_url_port_must_be_a_number(url):
    assert base_url_problem(url) == "the port must be a number from 1 to 65535 (scheme://host[:port])"


@pytest.mark.parametrize("url", ["http://api.binance.com", "https://evil.example", "http://10.0.0.1:9000",
                                 "https://api.binance.com:8443"])
def test_keys_go_only_to_binance_https_or_loopback(url):
    assert base_url_problem(url) == (
        "keys are only sent to Binance's own https hosts or to a loopback address (127.0.0.1, ::1, localhost)"
    )


@pytest.mark.parametrize("environment", ["mainnet", "testnet", "demo"])
def test_a_loopback_base_url_overrides_one_environment(tmp_path, environment):
    variable = BASE_URL_ENV[environment]
    settings = settings_for({variable: "  http://127.0.0.1:9000/ "}, tmp_path)
    expected = {**OFFICIAL_BASE_URLS, environment: "http://127.0.0.1:9000"}
    # paper accounts read market data where mainnet's data comes from, unless told otherwise
    assert settings.base_urls == {**expected, "paper": expected["mainnet"]}


def test_base_urls_default_to_binances_official_hosts(tmp_path):
    settings = settings_for({}, tmp_path)
    assert settings.base_urls == {**OFFICIAL_BASE_URLS, "paper": "https://api.binance.com"}
    assert settings.stream_urls == {**OFFICIAL_STREAM_URLS, "paper": "wss://stream.binance.com:9443"}
    assert settings.ws_api_urls == OFFICIAL_WS_API_URLS  # paper has no WebSocket API: it never signs


def test_paper_market_data_urls_have_their_own_variables(tmp_path):
    env = {"BINANCE_SPOT_MCP_PAPER_BASE_URL": "http://127.0.0.1:9100/", "BINANCE_SPOT_MCP_PAPER_STREAM_URL": "ws://127.0.0.1:9101",
           "BINANCE_SPOT_MCP_MAINNET_BASE_URL": "http://127.0.0.1:9200"}
    settings = settings_for(env, tmp_path)
    assert settings.base_urls["paper"] == "http://127.0.0.1:9100" and settings.base_urls["mainnet"] == "http://127.0.0.1:9200"
    assert settings.stream_urls["paper"] == "ws://127.0.0.1:9101"
    message = start_up_error({"BINANCE_SPOT_MCP_PAPER_BASE_URL": "https://evil.example"}, tmp_path)
    assert message.startswith("BINANCE_SPOT_MCP_PAPER_BASE_URL: keys are only sent to Binance's own https hosts")


def test_the_official_host_of_the_same_environment_is_accepted(tmp_path):
    settings = settings_for({"BINANCE_SPOT_MCP_MAINNET_BASE_URL": "https://api3.binance.com"}, tmp_path)
    assert settings.base_urls["mainnet"] == "https://api3.binance.com"


@pytest.mark.parametrize(("url", "reason"), [
    ("https://evil.example", "keys are only sent to Binance's own https hosts"),
    ("http://127.0.0.1:9000/api", "a base URL is scheme://host[:port] only"),
    ("http://127.0.0.1:9000X", "the port must be a number"),  # a typo is refused, never trimmed away
    ("https://api.binance.com", "api.binance.com is a Binance mainnet host, but the account is labelled testnet"),
])
def test_a_refused_base_url_stops_start_up_naming_the_variable(tmp_path, url, reason):
    message = start_up_error({"BINANCE_SPOT_MCP_TESTNET_BASE_URL": url}, tmp_path)
    assert message.startswith(f"BINANCE_SPOT_MCP_TESTNET_BASE_URL: {reason}")


def test_an_empty_base_url_variable_keeps_the_official_host(tmp_path):
    assert settings_for({"BINANCE_SPOT_MCP_DEMO_BASE_URL": "  "}, tmp_path).base_urls["demo"] == OFFICIAL_BASE_URLS["demo"]


# --- WebSocket URLs -----------------------------------------------------------------------------


def test_stream_and_ws_api_overrides(tmp_path):
    env = {STREAM_URL_ENV["testnet"]: " ws://127.0.0.1:7000/ ", WS_API_URL_ENV["demo"]: "ws://127.0.0.1:7001/ws-api/v3"}
    settings = settings_for(env, tmp_path)
    assert settings.stream_urls == {**OFFICIAL_STREAM_URLS, "testnet": "ws://127.0.0.1:7000", "paper": OFFICIAL_STREAM_URLS["mainnet"]}
    assert settings.ws_api_urls == {**OFFICIAL_WS_API_URLS, "demo": "ws://127.0.0.1:7001/ws-api/v3"}


NO_PATH = "a WebSocket URL is scheme://host[:port] with no path"


@pytest.mark.parametrize(("variable", "url", "reason"), [
    ("BINANCE_SPOT_MCP_MAINNET_STREAM_URL", "wss://evil.example", "WebSocket URLs must be Binance's own"),
    ("BINANCE_SPOT_MCP_MAINNET_STREAM_URL", "ws://127.0.0.1:7000/ws-api/v3", NO_PATH),
    ("BINANCE_SPOT_MCP_TESTNET_STREAM_URL", "wss://stream.binance.com:9443/X", NO_PATH),
    ("BINANCE_SPOT_MCP_DEMO_WS_API_URL", "ws://127.0.0.1:7001",
     "a WebSocket URL is scheme://host[:port] with the path /ws-api/v3"),
    ("BINANCE_SPOT_MCP_TESTNET_STREAM_URL", "ws://127.0.0.1:7000X", "the port must be a number"),
    ("BINANCE_SPOT_MCP_TESTNET_WS_API_URL", "wss://ws-api.testnet.binance.vision:99999/ws-api/v3",
     "the port must be a number"),
])
def test_a_refused_websocket_url_stops_start_up_naming_the_variable(tmp_path, variable, url, reason):
    assert start_up_error({variable: url}, tmp_path).startswith(f"{variable}: {reason}")


# --- numbers ------------------------------------------------------------------------------------


def test_stream_idle_seconds(tmp_path):
    assert settings_for({}, tmp_path).stream_idle_s == DEFAULT_STREAM_IDLE_S
    assert settings_for({"BINANCE_SPOT_MCP_STREAM_IDLE_SECONDS": " 0.1 "}, tmp_path).stream_idle_s == 0.1
    assert settings_for({"BINANCE_SPOT_MCP_STREAM_IDLE_SECONDS": "30"}, tmp_path).stream_idle_s == 30.0


@pytest.mark.parametrize("value", ["0.09", "0", "-5", "soon", "nan"])
def test_a_bad_stream_idle_stops_start_up(tmp_path, value):
    message = start_up_error({"BINANCE_SPOT_MCP_STREAM_IDLE_SECONDS": value}, tmp_path)
    assert message == "BINANCE_SPOT_MCP_STREAM_IDLE_SECONDS must be a number of seconds, at least 0.1"


def test_max_result_chars(tmp_path):
    assert settings_for({}, tmp_path).max_result_chars == DEFAULT_MAX_RESULT_CHARS
    assert settings_for({"BINANCE_SPOT_MCP_MAX_RESULT_CHARS": " 2000 "}, tmp_path).max_result_chars == 2000
    assert settings_for({"BINANCE_SPOT_MCP_MAX_RESULT_CHARS": "123456"}, tmp_path).max_result_chars == 123456


@pytest.mark.parametrize("value", ["1999", "-3000", "3e4", "lots", "2000.5"])
def test_a_bad_max_result_chars_stops_start_up(tmp_path, value):
    message = start_up_error({"BINANCE_SPOT_MCP_MAX_RESULT_CHARS": value}, tmp_path)
    assert message == "BINANCE_SPOT_MCP_MAX_RESULT_CHARS must be a whole number of at least 2000"


# --- credentials from the environment ----------------------------------------------------------


def test_each_environment_pair_becomes_an_env_account(tmp_path):
    env = {
        "BINANCE_API_KEY": f" {KEY_A} ", "BINANCE_SECRET_KEY": f"{SECRET_A}\n",
        "BINANCE_TESTNET_API_KEY": KEY_B, "BINANCE_TESTNET_SECRET_KEY": SECRET_B,
        "BINANCE_DEMO_API_KEY": KEY_C, "BINANCE_DEMO_SECRET_KEY": SECRET_C,
    }
    credentials = settings_for(env, tmp_path).env_credentials
    assert [(c.environment, c.name, c.api_key, c.secret, c.source) for c in credentials] == [
        ("mainnet", "env", KEY_A, SECRET_A, "BINANCE_API_KEY/BINANCE_SECRET_KEY"),
        ("testnet", "env-testnet", KEY_B, SECRET_B, "BINANCE_TESTNET_API_KEY/BINANCE_TESTNET_SECRET_KEY"),
        ("demo", "env-demo", KEY_C, SECRET_C, "BINANCE_DEMO_API_KEY/BINANCE_DEMO_SECRET_KEY"),
    ]


def test_half_an_environment_pair_gives_no_account(tmp_path):
    env = {"BINANCE_API_KEY": KEY_A, "BINANCE_TESTNET_SECRET_KEY": SECRET_B, "BINANCE_DEMO_API_KEY": "  ",
           "BINANCE_DEMO_SECRET_KEY": SECRET_C}
    assert settings_for(env, tmp_path).env_credentials == ()


def test_the_form_pair_comes_after_the_environment_pairs(tmp_path):
    env = {"BINANCE_SPOT_MCP_API_KEY": KEY_A, "BINANCE_SPOT_MCP_SECRET_KEY": SECRET_A,
           "BINANCE_TESTNET_API_KEY": KEY_B, "BINANCE_TESTNET_SECRET_KEY": SECRET_B}
    credentials = settings_for(env, tmp_path).env_credentials
    assert [(c.name, c.environment, c.source) for c in credentials] == [
        ("env-testnet", "testnet", "BINANCE_TESTNET_API_KEY/BINANCE_TESTNET_SECRET_KEY"),
        ("main", "testnet", "BINANCE_SPOT_MCP_API_KEY/BINANCE_SPOT_MCP_SECRET_KEY"),
    ]


def test_half_a_form_pair_names_the_missing_half(tmp_path):
    assert start_up_error({"BINANCE_SPOT_MCP_SECRET_KEY": SECRET_A}, tmp_path) == (
        "BINANCE_SPOT_MCP_API_KEY is not set: give both the API key and its secret, or neither"
    )
    assert start_up_error({"BINANCE_SPOT_MCP_API_KEY": KEY_A, "BINANCE_SPOT_MCP_SECRET_KEY": " "}, tmp_path) == (
        "BINANCE_SPOT_MCP_SECRET_KEY is not set: give both the API key and its secret, or neither"
    )


def test_an_unknown_form_environment_is_named_shortened(tmp_path):
    env = {"BINANCE_SPOT_MCP_API_KEY": KEY_A, "BINANCE_SPOT_MCP_SECRET_KEY": SECRET_A,
           "BINANCE_SPOT_MCP_KEY_ENVIRONMENT": " Production-Environment-Of-Binance "}
    assert start_up_error(env, tmp_path) == (
        "BINANCE_SPOT_MCP_KEY_ENVIRONMENT must be one of mainnet, testnet, demo, not 'production-environme'"
    )


def test_a_blank_form_environment_is_testnet(tmp_path):
    env = {"BINANCE_SPOT_MCP_API_KEY": KEY_A, "BINANCE_SPOT_MCP_SECRET_KEY": SECRET_A,
           "BINANCE_SPOT_MCP_KEY_ENVIRONMENT": "  "}
    (credential,) = settings_for(env, tmp_path).env_credentials
    assert credential.environment == "testnet"


# --- TOOLS.md location --------------------------------------------------------------------------


def test_tools_file_from_flag_then_variable_then_default(tmp_path):
    default = settings_for({}, tmp_path)
    assert default.tools_file == tmp_path / "TOOLS.md" and default.tools_file_explicit is False
    from_env = settings_for({"BINANCE_TOOLS_FILE": "conf/T.md"}, tmp_path)
    assert from_env.tools_file == tmp_path / "conf/T.md" and from_env.tools_file_explicit is True
    flagged = settings_for({"BINANCE_TOOLS_FILE": "conf/T.md"}, tmp_path, tools_file="/abs/F.md")
    assert flagged.tools_file == Path("/abs/F.md") and flagged.tools_file_explicit is True
    empty_env = settings_for({"BINANCE_TOOLS_FILE": ""}, tmp_path)
    assert empty_env.tools_file == tmp_path / "TOOLS.md" and empty_env.tools_file_explicit is False


def test_tools_file_expands_the_home_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    settings = settings_for({}, tmp_path, tools_file="~/T.md")
    assert settings.tools_file == tmp_path / "me/T.md"


def test_a_relative_tools_file_without_cwd_is_under_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={"BINANCE_TOOLS_FILE": "T.md", "HOME": str(tmp_path)})
    assert settings.tools_file == tmp_path / "T.md"


def test_the_process_environment_is_read_when_none_is_given(tmp_path, monkeypatch):
    monkeypatch.setenv("BINANCE_TOOLS_FILE", str(tmp_path / "from-process.md"))
    monkeypatch.setenv("BINANCE_SPOT_MCP_LOG_LEVEL", "info")
    settings = load_settings()
    assert settings.tools_file == tmp_path / "from-process.md" and settings.log_level == "INFO"


# --- switches -----------------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["1", "true", "YES", " on "])
def test_true_words_turn_switches_on(tmp_path, word):
    env = {"BINANCE_SPOT_MCP_READ_ONLY": word, "BINANCE_SPOT_MCP_ALLOW_CHAT_CONFIRM": word,
           "BINANCE_SPOT_MCP_REQUIRE_ELICITATION": word}
    settings = settings_for(env, tmp_path)
    assert (settings.read_only, settings.allow_chat_confirm, settings.require_elicitation) == (True, True, True)


@pytest.mark.parametrize("word", ["0", "false", "no", "off", "", "y", "enabled"])
def test_other_words_leave_switches_off(tmp_path, word):
    env = {"BINANCE_SPOT_MCP_READ_ONLY": word, "BINANCE_SPOT_MCP_ALLOW_CHAT_CONFIRM": word,
           "BINANCE_SPOT_MCP_REQUIRE_ELICITATION": word}
    settings = settings_for(env, tmp_path)
    assert (settings.read_only, settings.allow_chat_confirm, settings.require_elicitation) == (False, False, False)


def test_switch_flags(tmp_path):
    on = settings_for({}, tmp_path, read_only=True, allow_chat_confirm=True, require_elicitation=True,
                      insecure_permissions=True)
    assert (on.read_only, on.allow_chat_confirm, on.require_elicitation, on.insecure_permissions) == (True,) * 4
    off = settings_for({}, tmp_path)
    assert (off.read_only, off.allow_chat_confirm, off.require_elicitation, off.insecure_permissions) == (False,) * 4
    # --require-elicitation given as False wins over the variable
    env = {"BINANCE_SPOT_MCP_REQUIRE_ELICITATION": "1"}
    assert settings_for(env, tmp_path, require_elicitation=False).require_elicitation is False


@pytest.mark.parametrize(("value", "checks"), [
    (None, True), ("1", True), ("yes", True), ("0", False), ("false", False), (" NO ", False), ("Off", False),
])
def test_local_filter_checks(tmp_path, value, checks):
    env = {} if value is None else {"BINANCE_SPOT_MCP_LOCAL_FILTERS": value}
    assert settings_for(env, tmp_path).local_filter_checks is checks


def test_log_level(tmp_path):
    assert settings_for({}, tmp_path).log_level == "WARNING"
    assert settings_for({"BINANCE_SPOT_MCP_LOG_LEVEL": "debug"}, tmp_path).log_level == "DEBUG"


def test_http_token(tmp_path):
    assert settings_for({}, tmp_path).http_token is None
    assert settings_for({"BINANCE_SPOT_MCP_HTTP_TOKEN": "   "}, tmp_path).http_token is None
    token = "t" * 24
    settings = settings_for({"BINANCE_SPOT_MCP_HTTP_TOKEN": f" {token} "}, tmp_path)
    assert settings.http_token == token and token not in repr(settings)


def test_a_short_http_token_is_refused_only_when_serving_http(tmp_path):
    settings = settings_for({"BINANCE_SPOT_MCP_HTTP_TOKEN": "short"}, tmp_path)  # stdio still starts
    with pytest.raises(ConfigError) as caught:
        check_http_token(settings.http_token)
    assert caught.value.message == (
        "BINANCE_SPOT_MCP_HTTP_TOKEN is too short: use at least 16 characters "
        "(or unset it to get a random token for each run)"
    )
    with pytest.raises(ConfigError):
        check_http_token("x" * 15)
    check_http_token("x" * 16)
    check_http_token(None)


# --- toolsets -----------------------------------------------------------------------------------


def test_toolset_names_are_trimmed_lowered_and_deduplicated():
    assert parse_toolsets(" Market , ACCOUNT,,market, order_lists ", "src") == ("market", "account", "order_lists")


@pytest.mark.parametrize("name", ["_", "__", "market-data", "trade!"])
def test_a_toolset_name_needs_a_letter_or_digit_and_nothing_but_underscores_besides(name):
    with pytest.raises(ConfigError, match="is not a toolset name"):
        parse_toolsets(name, "src")


@pytest.mark.parametrize("raw", ["", " , ,", "all", "market, ALL"])
def test_empty_or_all_means_every_toolset(raw):
    assert parse_toolsets(raw, "src") is None


def test_a_bad_toolset_name_names_its_source_shortened():
    with pytest.raises(ConfigError) as caught:
        parse_toolsets("market, " + "x-" * 30, "SOURCE")
    assert caught.value.message == (
        f"SOURCE: '{('x-' * 30)[:40]}' is not a toolset name (use names such as market,account)"
    )


def test_toolsets_from_the_flag_then_the_variable(tmp_path):
    env = {"BINANCE_SPOT_MCP_TOOLSETS": "Market, account"}
    assert settings_for(env, tmp_path).toolsets == ("market", "account")
    assert settings_for(env, tmp_path, toolsets="trade").toolsets == ("trade",)


def test_a_bad_toolset_from_the_flag_or_the_variable_names_which(tmp_path):
    assert start_up_error({}, tmp_path, toolsets="a;b").startswith("--toolsets: 'a;b' is not a toolset name")
    assert start_up_error({"BINANCE_SPOT_MCP_TOOLSETS": "a;b"}, tmp_path).startswith(
        "BINANCE_SPOT_MCP_TOOLSETS: 'a;b' is not a toolset name"
    )
    assert settings_for({}, tmp_path).toolsets is None  # nothing given: every toolset
    # the flag wins, even when empty
    assert settings_for({"BINANCE_SPOT_MCP_TOOLSETS": "market"}, tmp_path, toolsets="").toolsets is None


# --- server-wide policy and the kill switch -----------------------------------------------------


def test_policy_from_variables_and_flags(tmp_path):
    env = {
        "BINANCE_SPOT_MCP_MAX_ORDER_VALUE": "100 USDT",
        "BINANCE_SPOT_MCP_MAX_DAILY_VALUE": "500 usdt",
        "BINANCE_SPOT_MCP_ALLOWED_SYMBOLS": "BTCUSDT, eth*",
        "BINANCE_SPOT_MCP_DENIED_SYMBOLS": "DOGEUSDT",
        "BINANCE_SPOT_MCP_DRY_RUN": "true",
        "BINANCE_SPOT_MCP_CONFIRM": "always",
    }
    rules = settings_for(env, tmp_path).policy_rules
    assert (rules.max_order_value.value, rules.max_order_value.asset) == (Decimal(100), "USDT")
    assert (rules.max_daily_value.value, rules.max_daily_value.asset) == (Decimal(500), "USDT")
    assert rules.allowed_symbols == ("BTCUSDT", "ETH*") and rules.denied_symbols == ("DOGEUSDT",)
    assert rules.dry_run is True and rules.confirm == "always"
    flagged = settings_for(env, tmp_path, policy={"max_order_value": "5 BTC", "dry_run": None}).policy_rules
    assert (flagged.max_order_value.value, flagged.max_order_value.asset) == (Decimal(5), "BTC")
    assert flagged.dry_run is True  # a flag given as None leaves the variable in force


def test_a_bad_policy_value_names_the_flag_or_the_variable(tmp_path):
    message = start_up_error({"BINANCE_SPOT_MCP_MAX_ORDER_VALUE": "lots"}, tmp_path)
    assert message.startswith("BINANCE_SPOT_MCP_MAX_ORDER_VALUE: 'lots' is not an amount")
    message = start_up_error({}, tmp_path, policy={"max_daily_value": "lots"})
    assert message.startswith("--max-daily-value: 'lots' is not an amount")
    message = start_up_error({"BINANCE_SPOT_MCP_DRY_RUN": "perhaps"}, tmp_path, policy={"max_order_value": "1 BTC"})
    assert message.startswith("BINANCE_SPOT_MCP_DRY_RUN: 'perhaps' must be true or false")


@pytest.mark.parametrize(("env", "flag", "off"), [
    ({}, None, None),
    ({"BINANCE_SPOT_MCP_TRADING": ""}, None, None),
    ({"BINANCE_SPOT_MCP_TRADING": " On "}, None, None),
    ({"BINANCE_SPOT_MCP_TRADING": " OFF "}, None, "BINANCE_SPOT_MCP_TRADING=off"),
    ({}, "off", "--trading off"),
    ({"BINANCE_SPOT_MCP_TRADING": "off"}, "on", None),
    ({"BINANCE_SPOT_MCP_TRADING": "on"}, "Off", "--trading off"),
])
def test_the_kill_switch(tmp_path, env, flag, off):
    assert settings_for(env, tmp_path, trading=flag).trading_off == off


def test_a_bad_kill_switch_value_names_the_flag_or_the_variable(tmp_path):
    assert start_up_error({"BINANCE_SPOT_MCP_TRADING": "halt"}, tmp_path) == (
        "BINANCE_SPOT_MCP_TRADING must be on or off"
    )
    assert start_up_error({}, tmp_path, trading="halt") == "--trading must be on or off"


# --- journal, halt file and config directory ---------------------------------------------------


def test_journal_and_halt_file_default_under_home(tmp_path):
    settings = settings_for({}, tmp_path)
    state = tmp_path / "home/.local/state/binance-spot-mcp"
    assert settings.journal_file == state / "journal.jsonl"
    assert settings.halt_file == state / "HALT"


def test_halt_file_from_the_variable(tmp_path, monkeypatch):
    assert settings_for({"BINANCE_SPOT_MCP_HALT_FILE": " /run/stop "}, tmp_path).halt_file == Path("/run/stop")
    assert settings_for({"BINANCE_SPOT_MCP_HALT_FILE": "stop"}, tmp_path).halt_file == tmp_path / "stop"
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    assert settings_for({"BINANCE_SPOT_MCP_HALT_FILE": "~/stop"}, tmp_path).halt_file == tmp_path / "me/stop"
    monkeypatch.chdir(tmp_path / "..")
    no_cwd = load_settings(environ={"BINANCE_SPOT_MCP_HALT_FILE": "stop", "HOME": str(tmp_path)})
    assert no_cwd.halt_file == tmp_path.parent / "stop"


def test_halt_file_follows_a_relative_journal(tmp_path):
    settings = settings_for({"BINANCE_SPOT_MCP_JOURNAL": "audit/j.jsonl"}, tmp_path)
    assert settings.journal_file == tmp_path / "audit/j.jsonl" and settings.halt_file == tmp_path / "audit/HALT"


def test_journal_file_rules(tmp_path, monkeypatch):
    home = {"HOME": str(tmp_path / "home")}
    assert default_journal_file({**home, "BINANCE_SPOT_MCP_JOURNAL": " /var/j.jsonl "}) == Path("/var/j.jsonl")
    assert default_journal_file({**home, "BINANCE_SPOT_MCP_JOURNAL": "j.jsonl"}, tmp_path) == tmp_path / "j.jsonl"
    assert default_journal_file({**home, "BINANCE_SPOT_MCP_JOURNAL": "  "}) == (
        tmp_path / "home/.local/state/binance-spot-mcp/journal.jsonl"
    )
    xdg = {**home, "XDG_STATE_HOME": f" {tmp_path}/xdg "}
    assert default_journal_file(xdg) == tmp_path / "xdg/binance-spot-mcp/journal.jsonl"
    relative_xdg = {**home, "XDG_STATE_HOME": "xdg"}
    assert default_journal_file(relative_xdg, tmp_path) == tmp_path / "home/.local/state/binance-spot-mcp/journal.jsonl"
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    assert default_journal_file({"BINANCE_SPOT_MCP_JOURNAL": "~/j.jsonl"}) == tmp_path / "me/j.jsonl"
    assert default_journal_file({"XDG_STATE_HOME": "~/st"}) == tmp_path / "me/st/binance-spot-mcp/journal.jsonl"
    assert default_journal_file({}) == tmp_path / "me/.local/state/binance-spot-mcp/journal.jsonl"
    assert default_journal_file({"HOME": "  "}) == tmp_path / "me/.local/state/binance-spot-mcp/journal.jsonl"
    monkeypatch.chdir(tmp_path)
    assert default_journal_file({"BINANCE_SPOT_MCP_JOURNAL": "j.jsonl"}) == tmp_path / "j.jsonl"


def test_an_absolute_journal_needs_no_working_directory(tmp_path, monkeypatch):
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()  # started from a directory that was removed since
    assert default_journal_file({"BINANCE_SPOT_MCP_JOURNAL": str(tmp_path / "j.jsonl")}) == tmp_path / "j.jsonl"


def test_journal_file_reads_the_process_environment_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("BINANCE_SPOT_MCP_JOURNAL", str(tmp_path / "p.jsonl"))
    assert default_journal_file() == tmp_path / "p.jsonl"


def test_config_dir_rules(tmp_path, monkeypatch):
    home = {"HOME": str(tmp_path / "home")}
    assert default_config_dir(home) == tmp_path / "home/.config/binance-spot-mcp"
    assert default_config_dir({**home, "XDG_CONFIG_HOME": f" {tmp_path}/cfg "}) == tmp_path / "cfg/binance-spot-mcp"
    assert default_config_dir({**home, "XDG_CONFIG_HOME": "cfg"}) == tmp_path / "home/.config/binance-spot-mcp"
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    assert default_config_dir({"XDG_CONFIG_HOME": "~/cfg"}) == tmp_path / "me/cfg/binance-spot-mcp"
    assert default_config_dir({}) == tmp_path / "me/.config/binance-spot-mcp"
    assert default_config_dir({"HOME": " "}) == tmp_path / "me/.config/binance-spot-mcp"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "proc"))
    assert default_config_dir() == tmp_path / "proc/binance-spot-mcp"


def test_settings_carry_the_config_dir(tmp_path):
    assert settings_for({}, tmp_path).config_dir == tmp_path / "home/.config/binance-spot-mcp"
    xdg = settings_for({"XDG_CONFIG_HOME": str(tmp_path / "c")}, tmp_path)
    assert xdg.config_dir == tmp_path / "c/binance-spot-mcp"


def test_the_portfolio_symbol_list_is_read_as_binance_spells_symbols_and_a_bad_one_stops_start_up(tmp_path):
    settings = settings_for({"BINANCE_SPOT_MCP_PORTFOLIO_SYMBOLS": " btcusdt, ETHBTC ,,BTCUSDT"}, tmp_path)
    assert settings.portfolio_symbols == ("BTCUSDT", "ETHBTC")
    message = start_up_error({"BINANCE_SPOT_MCP_PORTFOLIO_SYMBOLS": "BTC USDT"}, tmp_path)
    assert message.startswith("BINANCE_SPOT_MCP_PORTFOLIO_SYMBOLS: 'BTC USDT' is not a symbol")
