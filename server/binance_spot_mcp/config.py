"""Settings: the only module that reads the process environment.

Everything else receives a ``Settings`` object. Defaults are named constants here.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from binance_spot_mcp.errors import ConfigError
from binance_spot_mcp.policy import Rules, ascii_upper, is_symbol, parse_server_rules

TOOLS_FILE_ENV = "BINANCE_TOOLS_FILE"
DEFAULT_TOOLS_FILE = "TOOLS.md"
LOG_LEVEL_ENV = "BINANCE_SPOT_MCP_LOG_LEVEL"
MAX_RESULT_CHARS_ENV = "BINANCE_SPOT_MCP_MAX_RESULT_CHARS"
LOCAL_FILTERS_ENV = "BINANCE_SPOT_MCP_LOCAL_FILTERS"
MIN_RESULT_CHARS = 2_000
JOURNAL_ENV = "BINANCE_SPOT_MCP_JOURNAL"
REQUIRE_ELICITATION_ENV = "BINANCE_SPOT_MCP_REQUIRE_ELICITATION"
HTTP_TOKEN_ENV = "BINANCE_SPOT_MCP_HTTP_TOKEN"
TOOLSETS_ENV = "BINANCE_SPOT_MCP_TOOLSETS"
READ_ONLY_ENV = "BINANCE_SPOT_MCP_READ_ONLY"
ALLOW_CHAT_CONFIRM_ENV = "BINANCE_SPOT_MCP_ALLOW_CHAT_CONFIRM"
MIN_HTTP_TOKEN_LENGTH = 16
# Server-wide guard rails (policy.Rules attribute -> variable); flags of the same name win.
POLICY_ENV = {
    "max_order_value": "BINANCE_SPOT_MCP_MAX_ORDER_VALUE",
    "max_daily_value": "BINANCE_SPOT_MCP_MAX_DAILY_VALUE",
    "allowed_symbols": "BINANCE_SPOT_MCP_ALLOWED_SYMBOLS",
    "denied_symbols": "BINANCE_SPOT_MCP_DENIED_SYMBOLS",
    "dry_run": "BINANCE_SPOT_MCP_DRY_RUN",
    "confirm": "BINANCE_SPOT_MCP_CONFIRM",
}
TRADING_ENV = "BINANCE_SPOT_MCP_TRADING"
HALT_FILE_ENV = "BINANCE_SPOT_MCP_HALT_FILE"
HALT_FILE_NAME = "HALT"
TRADING_CHOICES = ("on", "off")
JOURNAL_DIR_NAME = "binance-spot-mcp"
CONFIG_DIR_NAME = "binance-spot-mcp"
JOURNAL_FILE_NAME = "journal.jsonl"
_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})

MAINNET, TESTNET, DEMO = "mainnet", "testnet", "demo"
ENVIRONMENTS = (MAINNET, TESTNET, DEMO)
# A paper account trades on this computer against live public market data: no key, no money. Its
# "base URL" is where that data comes from (mainnet's, unless overridden); nothing signed goes there.
PAPER = "paper"
ACCOUNT_ENVIRONMENTS = (*ENVIRONMENTS, PAPER)
PAPER_BASE_URL_ENV = "BINANCE_SPOT_MCP_PAPER_BASE_URL"
PAPER_STREAM_URL_ENV = "BINANCE_SPOT_MCP_PAPER_STREAM_URL"
OFFICIAL_BASE_URLS: Mapping[str, str] = {
    MAINNET: "https://api.binance.com",
    TESTNET: "https://testnet.binance.vision",
    DEMO: "https://demo-api.binance.com",
}
# Hosts that belong to Binance and may receive API keys (over https only).
BINANCE_HOSTS = frozenset(
    {
        "api.binance.com",
        "api-gcp.binance.com",
        "api1.binance.com",
        "api2.binance.com",
        "api3.binance.com",
        "api4.binance.com",
        "data-api.binance.vision",
        "testnet.binance.vision",
        "demo-api.binance.com",
    }
)
# Which environment each Binance host belongs to: the destination, not a label, decides whether a
# request touches real money (invariant 3). data-api.binance.vision serves mainnet market data only.
HOST_ENVIRONMENTS: Mapping[str, str] = {
    **{host: MAINNET for host in BINANCE_HOSTS if host not in {"testnet.binance.vision", "demo-api.binance.com"}},
    "testnet.binance.vision": TESTNET,
    "demo-api.binance.com": DEMO,
}
# Environment-variable credentials, as the Binance skill names them: (environment, key var, secret var).
ENV_CREDENTIALS = (
    (MAINNET, "BINANCE_API_KEY", "BINANCE_SECRET_KEY"),
    (TESTNET, "BINANCE_TESTNET_API_KEY", "BINANCE_TESTNET_SECRET_KEY"),
    (DEMO, "BINANCE_DEMO_API_KEY", "BINANCE_DEMO_SECRET_KEY"),
)
ENV_ACCOUNT_NAMES = {MAINNET: "env", TESTNET: "env-testnet", DEMO: "env-demo"}
# One key pair plus the environment it belongs to, for hosts that collect settings in a form (the
# Claude Desktop bundle's user_config). It becomes the account "main" unless TOOLS.md has one.
FORM_API_KEY_ENV = "BINANCE_SPOT_MCP_API_KEY"
FORM_SECRET_KEY_ENV = "BINANCE_SPOT_MCP_SECRET_KEY"
FORM_KEY_ENVIRONMENT_ENV = "BINANCE_SPOT_MCP_KEY_ENVIRONMENT"
FORM_ACCOUNT_NAME = "main"
DEFAULT_FORM_KEY_ENVIRONMENT = TESTNET
# A host that leaves an optional form field empty may pass its placeholder through unresolved.
_UNRESOLVED_PLACEHOLDER_RE = re.compile(r"^\$\{user_config\.[A-Za-z0-9_.-]+\}$")
# Optional loopback overrides of an environment's base URL (tests, benchmarks, local proxies).
BASE_URL_ENV = {env: f"BINANCE_SPOT_MCP_{env.upper()}_BASE_URL" for env in ENVIRONMENTS}
# WebSocket market streams and the WebSocket API (user data stream), per environment
# (web-socket-streams.md, web-socket-api.md, testnet-general-info.md, demo-general-info.md).
OFFICIAL_STREAM_URLS: Mapping[str, str] = {
    MAINNET: "wss://stream.binance.com:9443",
    TESTNET: "wss://stream.testnet.binance.vision",
    DEMO: "wss://demo-stream.binance.com",
}
OFFICIAL_WS_API_URLS: Mapping[str, str] = {
    MAINNET: "wss://ws-api.binance.com:443/ws-api/v3",
    TESTNET: "wss://ws-api.testnet.binance.vision/ws-api/v3",
    DEMO: "wss://demo-ws-api.binance.com/ws-api/v3",
}
BINANCE_WS_HOSTS = frozenset(
    {
        "stream.binance.com",
        "data-stream.binance.vision",
        "stream.testnet.binance.vision",
        "demo-stream.binance.com",
        "ws-api.binance.com",
        "ws-api.testnet.binance.vision",
        "demo-ws-api.binance.com",
    }
)
WS_API_PATH = "/ws-api/v3"
STREAM_URL_ENV = {env: f"BINANCE_SPOT_MCP_{env.upper()}_STREAM_URL" for env in ENVIRONMENTS}
WS_API_URL_ENV = {env: f"BINANCE_SPOT_MCP_{env.upper()}_WS_API_URL" for env in ENVIRONMENTS}
STREAM_IDLE_ENV = "BINANCE_SPOT_MCP_STREAM_IDLE_SECONDS"
# Symbols get_portfolio and `export trades` always sync, beside the ones they find themselves
# (held assets, the journal's, the cache's): pairs an account traded out of completely elsewhere.
PORTFOLIO_SYMBOLS_ENV = "BINANCE_SPOT_MCP_PORTFOLIO_SYMBOLS"
DEFAULT_STREAM_IDLE_S = 600.0  # a subscription nobody read for this long is closed
MIN_STREAM_IDLE_S = 0.1

DEFAULT_HTTP_TIMEOUT_S = 10.0
DEFAULT_CONNECT_TIMEOUT_S = 5.0
MAX_CONNECTIONS = 20
MAX_KEEPALIVE_CONNECTIONS = 10
DEFAULT_MAX_RESULT_CHARS = 80_000


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1; IPv6 with or without brackets)."""
    bare = host.strip("[]").lower()
    if bare == "localhost":
        return True
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str) -> bool:
    """True for http(s) URLs whose host is localhost or a loopback address."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return False
    return is_loopback_host(parts.hostname)


def is_binance_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" and parts.hostname in BINANCE_HOSTS and parts.port in (None, 443)


def ws_url_problem(url: str, *, path: str = "") -> str | None:
    """Why a WebSocket URL may not be used (keys travel on the WebSocket API), or None when it may:
    ``wss://`` to a Binance stream/WebSocket API host, or ``ws(s)://`` to a loopback address.
    ``path`` is the one path the URL must have (``/ws-api/v3`` for the WebSocket API)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in 0-65535
    except ValueError:
        return "the port must be a number from 1 to 65535 (scheme://host[:port])"
    if parts.path.rstrip("/") != path.rstrip("/") or parts.query or parts.fragment or parts.username or parts.password:
        where = f"with the path {path}" if path else "with no path"
        return f"a WebSocket URL is scheme://host[:port] {where}, and no query or credentials"
    if parts.scheme == "wss" and parts.hostname in BINANCE_WS_HOSTS:
        return None
    if parts.scheme in {"ws", "wss"} and parts.hostname and is_loopback_host(parts.hostname):
        return None
    return "WebSocket URLs must be Binance's own wss:// hosts or a loopback address (127.0.0.1, ::1, localhost)"


def _portfolio_symbols(env: Mapping[str, str]) -> tuple[str, ...]:
    """``btcusdt, ETHBTC`` -> ("BTCUSDT", "ETHBTC"); a name that is no symbol stops start-up."""
    symbols = [ascii_upper(part.strip()) for part in env.get(PORTFOLIO_SYMBOLS_ENV, "").split(",") if part.strip()]
    for symbol in symbols:
        if not is_symbol(symbol):
            raise ConfigError(f"{PORTFOLIO_SYMBOLS_ENV}: '{symbol[:30]}' is not a symbol (e.g. BTCUSDT, ETHBTC)")
    return tuple(dict.fromkeys(symbols))


def _paper_url(env: Mapping[str, str], var: str, default: str, problem_of: Callable[[str], str | None]) -> str:
    """Where paper accounts read public market data: the variable's URL, else mainnet's (as resolved)."""
    override = env.get(var, "").strip().rstrip("/")
    if not override:
        return default
    problem = problem_of(override)
    if problem:
        raise ConfigError(f"{var}: {problem}")
    return override


def base_url_problem(url: str) -> str | None:
    """Why ``url`` may not receive API keys, or None when it may (invariant 3)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in 0-65535
    except ValueError:
        return "the port must be a number from 1 to 65535 (scheme://host[:port])"
    if parts.path not in {"", "/"} or parts.query or parts.fragment or parts.username or parts.password:
        return "a base URL is scheme://host[:port] only, with no path, query or credentials"
    if is_binance_url(url) or is_loopback_url(url):
        return None
    return "keys are only sent to Binance's own https hosts or to a loopback address (127.0.0.1, ::1, localhost)"


def destination_environment(url: str) -> str | None:
    """The environment a base URL reaches: its Binance host's, or None for loopback and unknown hosts.

    A ``*.binance.com`` or ``*.binance.vision`` host this table does not know is taken for mainnet:
    when in doubt, real money (and such a host never receives keys, see ``base_url_problem``)."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if host in HOST_ENVIRONMENTS:
        return HOST_ENVIRONMENTS[host]
    if host.endswith((".binance.com", ".binance.vision")) or host in {"binance.com", "binance.vision"}:
        return MAINNET
    return None


def environment_conflict(url: str, label: str) -> str | None:
    """Why ``url`` may not serve an account labelled ``label``, or None when it may.

    A Binance host serves exactly one environment; a loopback URL (the fake exchange, a local proxy)
    keeps the label."""
    actual = destination_environment(url)
    if actual is None or actual == label:
        return None
    host = urlsplit(url).hostname
    return (
        f"{host} is a Binance {actual} host, but the account is labelled {label}; "
        f"use {OFFICIAL_BASE_URLS[label]} for {label}, or label the account {actual}"
    )


def default_journal_file(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Path:
    """Where the audit journal lives: ``$BINANCE_SPOT_MCP_JOURNAL``, else
    ``$XDG_STATE_HOME/binance-spot-mcp/journal.jsonl``, else ``~/.local/state/binance-spot-mcp/journal.jsonl``."""
    env = os.environ if environ is None else environ
    explicit = env.get(JOURNAL_ENV, "").strip()
    if explicit:
        path = Path(explicit).expanduser()
        return path if path.is_absolute() else (cwd or Path.cwd()) / path
    state_home = env.get("XDG_STATE_HOME", "").strip()
    # XDG: a relative XDG_STATE_HOME is invalid and must be ignored
    if state_home and Path(state_home).expanduser().is_absolute():
        base = Path(state_home).expanduser()
    else:
        home = env.get("HOME", "").strip()
        base = (Path(home) if home else Path.home()) / ".local" / "state"
    return base / JOURNAL_DIR_NAME / JOURNAL_FILE_NAME


def default_config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """This server's config directory: ``$XDG_CONFIG_HOME/binance-spot-mcp``, else
    ``~/.config/binance-spot-mcp``. Key and credentials files named over MCP must live there
    or beside TOOLS.md."""
    env = os.environ if environ is None else environ
    config_home = env.get("XDG_CONFIG_HOME", "").strip()
    if config_home and Path(config_home).expanduser().is_absolute():
        return Path(config_home).expanduser() / CONFIG_DIR_NAME
    home = env.get("HOME", "").strip()
    return (Path(home) if home else Path.home()) / ".config" / CONFIG_DIR_NAME


def _is_true(value: str | None) -> bool:
    return (value or "").strip().lower() in _TRUE_WORDS


def check_http_token(token: str | None) -> None:
    """Refuse an operator's bearer token that is too short to be a secret (None: one is generated)."""
    if token is not None and len(token) < MIN_HTTP_TOKEN_LENGTH:
        raise ConfigError(
            f"{HTTP_TOKEN_ENV} is too short: use at least {MIN_HTTP_TOKEN_LENGTH} characters "
            "(or unset it to get a random token for each run)"
        )


def parse_toolsets(raw: str, source: str) -> tuple[str, ...] | None:
    """``"market, account"`` -> ("market", "account"); empty or ``all`` -> None (every toolset).

    Names are checked against SKILL.md later, when the tools are built."""
    names = [part.strip().lower() for part in raw.split(",") if part.strip()]
    if not names or "all" in names:
        return None
    for name in names:
        if not name.replace("_", "").isalnum():
            raise ConfigError(f"{source}: '{name[:40]}' is not a toolset name (use names such as market,account)")
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class EnvCredential:
    environment: str
    name: str
    api_key: str = field(repr=False)
    secret: str = field(repr=False)
    source: str = ""


@dataclass(frozen=True)
class Settings:
    tools_file: Path
    tools_file_explicit: bool = False
    env_credentials: tuple[EnvCredential, ...] = ()
    base_urls: Mapping[str, str] = field(default_factory=lambda: {**OFFICIAL_BASE_URLS, PAPER: OFFICIAL_BASE_URLS[MAINNET]})
    http_timeout_s: float = DEFAULT_HTTP_TIMEOUT_S
    max_result_chars: int = DEFAULT_MAX_RESULT_CHARS
    log_level: str = "WARNING"
    require_elicitation: bool = False
    # Waits between look-ups of an order whose reply was lost (timeout, 5xx, dropped connection).
    outcome_lookup_delays_s: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 3.0)
    # Check orders against the symbol's exchangeInfo filters before sending (0 turns it off).
    local_filter_checks: bool = True
    journal_file: Path = field(default_factory=default_journal_file)
    # Bearer token for `serve --http` from $BINANCE_SPOT_MCP_HTTP_TOKEN; None: one is generated per run.
    http_token: str | None = field(default=None, repr=False)
    # Toolsets to enable (None: all); checked against SKILL.md's Toolsets table when tools are built.
    toolsets: tuple[str, ...] | None = None
    # Drop every state-changing tool, whatever the toolsets say.
    read_only: bool = False
    # Let a mainnet change be approved by CONFIRM typed in the chat and relayed by the model (opt-in:
    # only as trustworthy as the model). Never used when require_elicitation is set.
    allow_chat_confirm: bool = False
    # Accept TOOLS.md and key files that other users can read (never ones they can write).
    insecure_permissions: bool = False
    config_dir: Path = field(default_factory=default_config_dir)
    # Server-wide guard rails; every account's own TOOLS.md lines can only tighten them.
    policy_rules: Rules = field(default_factory=Rules)
    # Kill switch: off by --trading off / $BINANCE_SPOT_MCP_TRADING=off, or while halt_file exists.
    trading_off: str | None = None  # None: on; else what turned it off
    halt_file: Path | None = None  # None: next to the journal
    stream_urls: Mapping[str, str] = field(default_factory=lambda: {**OFFICIAL_STREAM_URLS, PAPER: OFFICIAL_STREAM_URLS[MAINNET]})
    ws_api_urls: Mapping[str, str] = field(default_factory=lambda: dict(OFFICIAL_WS_API_URLS))
    # A stream subscription (or user data stream) nobody used for this long is closed.
    stream_idle_s: float = DEFAULT_STREAM_IDLE_S
    portfolio_symbols: tuple[str, ...] = ()


def state_dir(settings: Settings) -> Path:
    """The state directory: the journal's folder; the default halt file and the desk database live there."""
    return settings.journal_file.parent


def _check_rule_variable_names(env: Mapping[str, str]) -> None:
    """A misspelt guard-rail or kill-switch variable would leave its rule off without a word:
    refuse to start, naming the variable it resembles (a known variable of any kind passes)."""
    rule_variables = [*POLICY_ENV.values(), TRADING_ENV, HALT_FILE_ENV]
    known = {value for name, value in globals().items() if name.endswith("_ENV") and isinstance(value, str)}
    for name in env:
        if name in known or name in rule_variables or not name.upper().startswith("BINANCE"):
            continue
        close = difflib.get_close_matches(name.upper(), rule_variables, n=1, cutoff=0.85)
        if close:
            raise ConfigError(f"the environment variable {name[:60]} is not one this server reads; did you mean "
                              f"{close[0]}? (as it is, that rule is not applied)")


def _resolved(env: Mapping[str, str]) -> dict[str, str]:
    """The environment without variables a host left as unresolved ``${user_config.*}`` placeholders."""
    return {name: value for name, value in env.items() if not _UNRESOLVED_PLACEHOLDER_RE.match(value.strip())}


def _form_credential(env: Mapping[str, str]) -> EnvCredential | None:
    """The key pair from ``BINANCE_SPOT_MCP_API_KEY``/``_SECRET_KEY``, in ``_KEY_ENVIRONMENT`` (default testnet)."""
    key, secret = env.get(FORM_API_KEY_ENV, "").strip(), env.get(FORM_SECRET_KEY_ENV, "").strip()
    if not key and not secret:
        return None
    if not (key and secret):
        missing = FORM_SECRET_KEY_ENV if key else FORM_API_KEY_ENV
        raise ConfigError(f"{missing} is not set: give both the API key and its secret, or neither")
    environment = env.get(FORM_KEY_ENVIRONMENT_ENV, "").strip().lower() or DEFAULT_FORM_KEY_ENVIRONMENT
    if environment not in ENVIRONMENTS:
        raise ConfigError(f"{FORM_KEY_ENVIRONMENT_ENV} must be one of {', '.join(ENVIRONMENTS)}, not '{environment[:20]}'")
    return EnvCredential(environment, FORM_ACCOUNT_NAME, key, secret, f"{FORM_API_KEY_ENV}/{FORM_SECRET_KEY_ENV}")


def load_settings(
    *,
    tools_file: str | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    require_elicitation: bool | None = None,
    toolsets: str | None = None,
    read_only: bool | None = None,
    allow_chat_confirm: bool | None = None,
    insecure_permissions: bool = False,
    policy: Mapping[str, str | None] | None = None,
    trading: str | None = None,
) -> Settings:
    """Build settings from CLI values and the environment (``os.environ`` unless given).

    ``require_elicitation`` is the CLI flag: True forces it on, None leaves it to
    ``$BINANCE_SPOT_MCP_REQUIRE_ELICITATION``. ``toolsets`` (comma-separated) and ``read_only``
    are CLI values too, winning over ``$BINANCE_SPOT_MCP_TOOLSETS`` / ``$BINANCE_SPOT_MCP_READ_ONLY``;
    so are ``policy`` (Rules attribute -> flag value, see ``POLICY_ENV``) and ``trading`` (on/off)."""
    env = _resolved(os.environ if environ is None else environ)
    explicit = tools_file is not None or bool(env.get(TOOLS_FILE_ENV))
    chosen = tools_file or env.get(TOOLS_FILE_ENV) or DEFAULT_TOOLS_FILE
    path = Path(chosen).expanduser()
    if not path.is_absolute():
        path = (cwd or Path.cwd()) / path

    credentials = []
    for environment, key_var, secret_var in ENV_CREDENTIALS:
        key, secret = env.get(key_var, "").strip(), env.get(secret_var, "").strip()
        if key and secret:
            credentials.append(
                EnvCredential(environment, ENV_ACCOUNT_NAMES[environment], key, secret, f"{key_var}/{secret_var}")
            )
    form_credential = _form_credential(env)
    if form_credential is not None:
        credentials.append(form_credential)

    base_urls = dict(OFFICIAL_BASE_URLS)
    for environment, var in BASE_URL_ENV.items():
        override = env.get(var, "").strip().rstrip("/")
        if override:
            problem = base_url_problem(override) or environment_conflict(override, environment)
            if problem:
                raise ConfigError(f"{var}: {problem}")
            base_urls[environment] = override
    base_urls[PAPER] = _paper_url(env, PAPER_BASE_URL_ENV, base_urls[MAINNET], base_url_problem)

    stream_urls, ws_api_urls = dict(OFFICIAL_STREAM_URLS), dict(OFFICIAL_WS_API_URLS)
    for urls, variables, url_path in ((stream_urls, STREAM_URL_ENV, ""), (ws_api_urls, WS_API_URL_ENV, WS_API_PATH)):
        for environment, var in variables.items():
            override = env.get(var, "").strip().rstrip("/")
            if override:
                problem = ws_url_problem(override, path=url_path)
                if problem:
                    raise ConfigError(f"{var}: {problem}")
                urls[environment] = override
    stream_urls[PAPER] = _paper_url(env, PAPER_STREAM_URL_ENV, stream_urls[MAINNET], lambda url: ws_url_problem(url, path=""))

    stream_idle_s = DEFAULT_STREAM_IDLE_S
    raw_idle = env.get(STREAM_IDLE_ENV, "").strip()
    if raw_idle:
        try:
            stream_idle_s = float(raw_idle)
        except ValueError:
            stream_idle_s = -1.0
        if not stream_idle_s >= MIN_STREAM_IDLE_S:
            raise ConfigError(f"{STREAM_IDLE_ENV} must be a number of seconds, at least {MIN_STREAM_IDLE_S}")

    max_chars = DEFAULT_MAX_RESULT_CHARS
    raw_max = env.get(MAX_RESULT_CHARS_ENV, "").strip()
    if raw_max:
        if not raw_max.isdigit() or int(raw_max) < MIN_RESULT_CHARS:
            raise ConfigError(f"{MAX_RESULT_CHARS_ENV} must be a whole number of at least {MIN_RESULT_CHARS}")
        max_chars = int(raw_max)

    # Checked by check_http_token when serving HTTP, so a bad token never stops stdio or doctor.
    http_token = env.get(HTTP_TOKEN_ENV, "").strip() or None

    raw_toolsets = toolsets if toolsets is not None else env.get(TOOLSETS_ENV, "")
    chosen_toolsets = parse_toolsets(raw_toolsets, TOOLSETS_ENV if toolsets is None else "--toolsets")

    flags = {k: v for k, v in (policy or {}).items() if v is not None}
    raw_rules = {key: flags.get(key, env.get(var)) for key, var in POLICY_ENV.items()}
    sources = {key: ("--" + key.replace("_", "-")) if key in flags else var for key, var in POLICY_ENV.items()}
    try:
        rules = parse_server_rules(raw_rules, sources)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    _check_rule_variable_names(env)
    raw_trading = (trading if trading is not None else env.get(TRADING_ENV, "on")).strip().lower() or "on"
    if raw_trading not in TRADING_CHOICES:
        raise ConfigError(f"{'--trading' if trading is not None else TRADING_ENV} must be on or off")
    trading_off = None
    if raw_trading == "off":
        trading_off = "--trading off" if trading is not None else f"{TRADING_ENV}=off"
    journal_file = default_journal_file(env, cwd)
    raw_halt = env.get(HALT_FILE_ENV, "").strip()
    halt_file = Path(raw_halt).expanduser() if raw_halt else journal_file.parent / HALT_FILE_NAME
    if not halt_file.is_absolute():
        halt_file = (cwd or Path.cwd()) / halt_file

    return Settings(
        tools_file=path,
        policy_rules=rules,
        trading_off=trading_off,
        halt_file=halt_file,
        toolsets=chosen_toolsets,
        read_only=bool(read_only) or _is_true(env.get(READ_ONLY_ENV)),
        max_result_chars=max_chars,
        local_filter_checks=env.get(LOCAL_FILTERS_ENV, "1").strip().lower() not in {"0", "false", "no", "off"},
        tools_file_explicit=explicit,
        env_credentials=tuple(credentials),
        base_urls=base_urls,
        stream_urls=stream_urls,
        ws_api_urls=ws_api_urls,
        stream_idle_s=stream_idle_s,
        portfolio_symbols=_portfolio_symbols(env),
        log_level=env.get(LOG_LEVEL_ENV, "WARNING").upper(),
        require_elicitation=(
            require_elicitation if require_elicitation is not None else _is_true(env.get(REQUIRE_ELICITATION_ENV))
        ),
        journal_file=journal_file,
        http_token=http_token,
        allow_chat_confirm=bool(allow_chat_confirm) or _is_true(env.get(ALLOW_CHAT_CONFIRM_ENV)),
        insecure_permissions=insecure_permissions,
        config_dir=default_config_dir(env),
    )
