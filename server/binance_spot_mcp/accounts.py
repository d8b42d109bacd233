"""Named accounts: read from TOOLS.md's ``## Binance Accounts`` section and the environment.

The file format extends the Binance skill's::

    ## Binance Accounts

    ### main
    - API Key: ...
    - Secret: ...                        (HMAC)
    - Private Key File: keys/main.pem    (instead of Secret; RSA or Ed25519, detected)
    - Private Key Passphrase: ...        (optional)
    - Environment: mainnet | testnet | demo   (or the skill's "Testnet: true|false")
    - Base URL: http://127.0.0.1:9000    (optional; Binance hosts or loopback only)
    - Description: ...
    - Max Order Value / Max Daily Value / Allowed Symbols / Denied Symbols / Dry Run / Confirm
                                         (optional guard rails; see ``policy``)

A problem in one account (or one line) is recorded with its line number and leaves the other
accounts usable. Keys and secrets are registered with the ``Redactor`` as soon as they are read.
The file is re-read when it changes, so new accounts are usable without a restart.
"""

from __future__ import annotations

import logging
import re
import stat
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from binance_spot_mcp.config import ENVIRONMENTS, MAINNET, TESTNET, Settings, base_url_problem
from binance_spot_mcp.errors import AccountError
from binance_spot_mcp.policy import POLICY_FIELDS, Policy, Rules, effective_policy, parse_rules
from binance_spot_mcp.redact import Redactor, mask_api_key, mask_secret
from binance_spot_mcp.signing import HmacSigner, KeyLoadError, Signer, signer_from_key_file

logger = logging.getLogger(__name__)

SECTION_TITLE = "binance accounts"
DEFAULT_ACCOUNT = "main"
ACCOUNT_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
API_KEY_RE = re.compile(r"^[\x21-\x7e]{8,256}$")
MAX_TOOLS_FILE_BYTES = 1024 * 1024
_FIELD_RE = re.compile(r"^\s*[-*]\s+([A-Za-z][A-Za-z ]*?)\s*:\s*(.*?)\s*$")
_FIELDS = {
    "api key": "api_key",
    "secret": "secret",
    "secret key": "secret",
    "private key file": "key_file",
    "private key passphrase": "passphrase",
    "environment": "environment",
    "testnet": "testnet",
    "base url": "base_url",
    "description": "description",
    **POLICY_FIELDS,  # Max Order Value, Max Daily Value, Allowed/Denied Symbols, Dry Run, Confirm
}


@dataclass(frozen=True)
class Account:
    """A usable account. Secrets stay inside ``signer``; ``repr`` shows masked values only."""

    name: str
    environment: str
    api_key: str = field(repr=False)
    signer: Signer = field(repr=False)
    base_url: str = ""
    description: str = ""
    source: str = ""
    secret_display: str = field(default="", repr=False)
    key_file: Path | None = None  # the PEM an RSA/Ed25519 account signs with; None for HMAC
    rules: Rules = Rules()  # the account's own guard-rail lines in TOOLS.md
    policy: Policy = Policy()  # the rules in force: these and the server's, the stricter winning

    @property
    def signing(self) -> str:
        return self.signer.kind

    @property
    def masked_api_key(self) -> str:
        return mask_api_key(self.api_key)

    def __repr__(self) -> str:
        return (
            f"Account(name={self.name!r}, environment={self.environment!r}, "
            f"api_key={self.masked_api_key!r}, signing={self.signing!r})"
        )


@dataclass(frozen=True)
class BrokenAccount:
    name: str
    problem: str


@dataclass
class AccountSet:
    """What one reading of the sources produced."""

    accounts: dict[str, Account] = field(default_factory=dict)
    broken: dict[str, BrokenAccount] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    mode_problem: str | None = None  # also in ``problems``: TOOLS.md is readable by other users

    def names(self) -> list[str]:
        return list(self.accounts)


@dataclass
class _Draft:
    name: str
    line: int
    fields: dict[str, tuple[str, int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _clean_value(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "`'\"":
        value = value[1:-1].strip()
    return value


def clean_value(value: str) -> str:
    """A field value as the reader sees it: stripped, one pair of matching quotes/backticks removed."""
    return _clean_value(value)


def is_section_heading(line: str) -> bool:
    """True for the ``## Binance Accounts`` heading line (any case; no line ending)."""
    return bool(re.match(r"^##\s+", line)) and line.lstrip("#").strip().lower() == SECTION_TITLE


def ends_section(line: str) -> bool:
    """True for a ``#``/``##`` heading line, which ends the accounts section."""
    return bool(re.match(r"^#{1,2}\s", line))


def account_heading(line: str) -> str | None:
    """The account name of a ``### name`` line, else None."""
    match = re.match(r"^###\s+(.*?)\s*$", line)
    return _clean_value(match.group(1)) if match else None


def _drafts(text: str, where: str, problems: list[str]) -> list[_Draft]:
    lines = text.splitlines()
    start = None
    for i, line in enumerate(lines):
        if is_section_heading(line):
            start = i + 1
            break
    if start is None:
        return []
    drafts: list[_Draft] = []
    current: _Draft | None = None
    for i in range(start, len(lines)):
        number, line = i + 1, lines[i]
        if ends_section(line):
            break
        stripped = line.strip()
        if not stripped or stripped.startswith("```") or stripped.startswith("<!--") or stripped == "---":
            continue
        heading = account_heading(line)
        if heading is not None:
            current = _Draft(heading, number)
            drafts.append(current)
            continue
        match = _FIELD_RE.match(line)
        if current is None:
            problems.append(f"{where} line {number}: text before the first '### name' heading is ignored")
            continue
        if not match:
            current.problems.append(f"{where} line {number}: not a '- Field: value' line")
            continue
        label, value = match.group(1).lower(), _clean_value(match.group(2))
        key = _FIELDS.get(label)
        if key is None:
            known = ", ".join(sorted({k.title() for k in _FIELDS}))
            problems.append(f"{where} line {number}: unknown field '{match.group(1)}' ignored (known: {known})")
            continue
        if key in current.fields:
            current.problems.append(f"{where} line {number}: '{match.group(1)}' given twice for '{current.name}'")
            continue
        current.fields[key] = (value, number)
    return drafts


def _environment(draft: _Draft, where: str) -> str:
    env_value = draft.fields.get("environment")
    testnet_value = draft.fields.get("testnet")
    environment = None
    if env_value:
        environment = env_value[0].lower()
        if environment not in ENVIRONMENTS:
            raise ValueError(
                f"{where} line {env_value[1]}: Environment must be mainnet, testnet or demo"
            )
    if testnet_value:
        flag = testnet_value[0].lower()
        if flag not in {"true", "false", "yes", "no"}:
            raise ValueError(f"{where} line {testnet_value[1]}: Testnet must be true or false")
        from_flag = TESTNET if flag in {"true", "yes"} else MAINNET
        if environment and environment != from_flag:
            raise ValueError(
                f"{where} line {testnet_value[1]}: Testnet: {testnet_value[0]} contradicts Environment: {environment}"
            )
        environment = from_flag
    if environment is None:
        raise ValueError(
            f"{where} line {draft.line}: account '{draft.name}' has no 'Environment: mainnet|testnet|demo' line"
        )
    return environment


def _build(draft: _Draft, where: str, base_dir: Path, base_urls: Mapping[str, str], redactor: Redactor) -> Account:
    if draft.problems:
        raise ValueError(draft.problems[0])
    if not ACCOUNT_NAME_RE.match(draft.name):
        raise ValueError(
            f"{where} line {draft.line}: account name '{draft.name}' may use letters, digits, '.', '_' and '-' only"
        )
    api_key_field = draft.fields.get("api_key")
    if not api_key_field or not api_key_field[0]:
        raise ValueError(f"{where} line {draft.line}: account '{draft.name}' has no 'API Key' line")
    api_key = api_key_field[0]
    redactor.add_api_key(api_key)
    secret, key_file = draft.fields.get("secret"), draft.fields.get("key_file")
    passphrase = draft.fields.get("passphrase")
    if secret and secret[0]:
        redactor.add_secret(secret[0])
    if passphrase and passphrase[0]:
        redactor.add_opaque(passphrase[0])
    if not API_KEY_RE.match(api_key):
        raise ValueError(f"{where} line {api_key_field[1]}: the API key has unexpected characters or length")
    environment = _environment(draft, where)
    rules = parse_rules(draft.fields, where)
    if secret and key_file:
        raise ValueError(
            f"{where} line {key_file[1]}: give either 'Secret' (HMAC) or 'Private Key File' (RSA/Ed25519), not both"
        )
    signer: Signer
    path: Path | None = None
    if secret and secret[0]:
        signer = HmacSigner(secret[0])
        secret_display = mask_secret(secret[0])
    elif key_file and key_file[0]:
        path = Path(key_file[0]).expanduser()
        if not path.is_absolute():
            path = base_dir / path
        try:
            signer = signer_from_key_file(path, passphrase[0] if passphrase else None)
        except KeyLoadError as exc:
            raise ValueError(f"{where} line {key_file[1]}: {exc}") from None
        secret_display = f"private key file {path}"
    else:
        raise ValueError(f"{where} line {draft.line}: account '{draft.name}' has neither 'Secret' nor 'Private Key File'")
    base_url = base_urls[environment]
    if "base_url" in draft.fields:
        value, number = draft.fields["base_url"]
        value = value.rstrip("/")
        problem = base_url_problem(value)
        if problem:
            raise ValueError(f"{where} line {number}: Base URL refused: {problem}")
        base_url = value
    return Account(
        name=draft.name,
        environment=environment,
        api_key=api_key,
        signer=signer,
        base_url=base_url,
        description=draft.fields.get("description", ("", 0))[0],
        source=f"{where} line {draft.line}",
        secret_display=secret_display,
        key_file=path,
        rules=rules,
        policy=effective_policy(Rules(), rules),
    )


def parse_accounts(
    text: str, *, where: str, base_dir: Path, base_urls: Mapping[str, str], redactor: Redactor
) -> AccountSet:
    """Parse the accounts section of a TOOLS.md text."""
    result = AccountSet()
    for draft in _drafts(text, where, result.problems):
        if draft.name in result.accounts or draft.name in result.broken:
            result.problems.append(
                f"{where} line {draft.line}: account '{draft.name}' is defined again; the first one is used"
            )
            continue
        try:
            result.accounts[draft.name] = _build(draft, where, base_dir, base_urls, redactor)
        except ValueError as exc:
            problem = redactor.redact(str(exc))
            result.broken[draft.name] = BrokenAccount(draft.name, problem)
            result.problems.append(problem)
    return result


class AccountStore:
    """The accounts in force. Re-reads TOOLS.md when its size or mtime changes."""

    def __init__(self, settings: Settings, redactor: Redactor) -> None:
        self._settings = settings
        self._redactor = redactor
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._current: AccountSet | None = None
        for credential in settings.env_credentials:
            redactor.add_api_key(credential.api_key)
            redactor.add_secret(credential.secret)

    @property
    def path(self) -> Path:
        return self._settings.tools_file

    @property
    def base_urls(self) -> Mapping[str, str]:
        return self._settings.base_urls

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            info = self.path.stat()
        except OSError:
            return None
        return (info.st_mtime_ns, info.st_size)

    def current(self) -> AccountSet:
        """The accounts as of now (re-reading the file if it changed)."""
        stamp = self._file_stamp()
        with self._lock:
            if self._current is None or stamp != self._stamp:
                self._current = self._load(stamp)
                self._stamp = stamp
            return self._current

    def _load(self, stamp: tuple[int, int] | None) -> AccountSet:
        where = self.path.name
        result = AccountSet()
        if stamp is None:
            if self._settings.tools_file_explicit:
                result.problems.append(f"accounts file {self.path} does not exist")
        elif stamp[1] > MAX_TOOLS_FILE_BYTES:
            result.problems.append(f"accounts file {self.path} is larger than {MAX_TOOLS_FILE_BYTES} bytes; not read")
        else:
            try:
                text = self.path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                result.problems.append(f"accounts file {self.path} cannot be read: {type(exc).__name__}")
            else:
                result = parse_accounts(
                    text,
                    where=where,
                    base_dir=self.path.parent,
                    base_urls=self._settings.base_urls,
                    redactor=self._redactor,
                )
                mode = self.path.stat().st_mode
                if mode & (stat.S_IRWXG | stat.S_IRWXO):
                    result.mode_problem = (
                        f"{self.path} is readable by other users (mode {stat.S_IMODE(mode):o}); run: chmod 600 {self.path}"
                    )
                    result.problems.append(result.mode_problem)
        for credential in self._settings.env_credentials:
            if credential.name in result.accounts:
                continue
            result.accounts[credential.name] = Account(
                name=credential.name,
                environment=credential.environment,
                api_key=credential.api_key,
                signer=HmacSigner(credential.secret),
                base_url=self._settings.base_urls[credential.environment],
                description=f"from environment variables {credential.source}",
                source=credential.source,
                secret_display=mask_secret(credential.secret),
            )
        server_rules = self._settings.policy_rules
        result.accounts = {
            name: replace(account, policy=effective_policy(server_rules, account.rules))
            for name, account in result.accounts.items()
        }
        for problem in result.problems:
            logger.warning("%s", problem)
        return result

    def resolve(self, name: str | None) -> Account:
        """The account to use: the one named, else ``main``, else the only one."""
        current = self.current()
        if name is not None:
            if name in current.accounts:
                return current.accounts[name]
            if name in current.broken:
                raise AccountError(
                    f"account '{name}' cannot be used: {current.broken[name].problem}",
                    hint=f"Fix the account in {self.path} (it is re-read automatically).",
                )
            raise AccountError(
                f"no account named '{name}'. {self._names_text(current)}",
                hint="Call again with one of the listed account names.",
            )
        if DEFAULT_ACCOUNT in current.accounts:
            return current.accounts[DEFAULT_ACCOUNT]
        if DEFAULT_ACCOUNT in current.broken:
            raise AccountError(
                f"the default account 'main' cannot be used: {current.broken[DEFAULT_ACCOUNT].problem}",
                hint=f"Fix it in {self.path}, or name another account.",
            )
        if len(current.accounts) == 1:
            return next(iter(current.accounts.values()))
        if not current.accounts:
            raise AccountError(
                "no account is configured for signed endpoints",
                hint=(
                    f"Add a '## Binance Accounts' section to {self.path} (see TOOLS.md.example) or set "
                    "BINANCE_TESTNET_API_KEY and BINANCE_TESTNET_SECRET_KEY."
                ),
            )
        raise AccountError(
            f"several accounts and none is named 'main'. {self._names_text(current)}",
            hint="Ask the user which account to use, then call again with 'account'.",
            choices=tuple(current.accounts),
        )

    @staticmethod
    def _names_text(current: AccountSet) -> str:
        if not current.accounts:
            return "No usable account is configured."
        listed = ", ".join(f"{a.name} ({a.environment})" for a in current.accounts.values())
        return f"Accounts: {listed}."


@dataclass(frozen=True)
class MarketDataSource:
    environment: str
    base_url: str
    account: str | None = None


def market_data_source(
    store: AccountStore, *, account: str | None, environment: str | None
) -> MarketDataSource:
    """Where public market data comes from: the named account's environment, the named
    environment, else the only configured account's, else mainnet. No key is ever sent."""
    if account is not None:
        chosen = store.resolve(account)
        return MarketDataSource(chosen.environment, chosen.base_url, chosen.name)
    base_urls = store.base_urls
    if environment is not None:
        return MarketDataSource(environment, base_urls[environment])
    accounts = store.current().accounts
    if len(accounts) == 1:
        only = next(iter(accounts.values()))
        return MarketDataSource(only.environment, only.base_url, only.name)
    return MarketDataSource(MAINNET, base_urls[MAINNET])
