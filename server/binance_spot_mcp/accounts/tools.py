"""The account tools of the skill's "Agent Behavior": list, show (masked) and add accounts.

These are the only hand-written tools: they manage the local TOOLS.md, not a Binance endpoint.
Nothing here ever returns a full API key, a secret or a passphrase.

``add_account`` is planned first (``plan_add``) and applied after (``apply_add``): a new mainnet
account, or any replacement of an existing one, is applied only after a human approved it through
the same channels as a mainnet order (the server runs that step). Every applied change keeps the
previous TOOLS.md as a 0600 backup and is written to the audit journal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mcp.types import CallToolResult, Tool, ToolAnnotations

from binance_spot_mcp.accounts.key_paths import check_key_file, local_key_path
from binance_spot_mcp.accounts.reading import Account, BrokenAccount, fingerprint
from binance_spot_mcp.accounts.store import AccountStore
from binance_spot_mcp.accounts.writing import AccountEntry, account_names, add_account, read_credentials_file
from binance_spot_mcp.catalog.schema import CHAT_CONFIRM_PROPERTIES, optional_string
from binance_spot_mcp.config import ENVIRONMENTS, MAINNET, base_url_problem, destination_environment, environment_conflict
from binance_spot_mcp.errors import BinanceSpotError, ToolInputError
from binance_spot_mcp.journal import Journal
from binance_spot_mcp.redact import Redactor, escape_text, mask_api_key, mask_secret
from binance_spot_mcp.results import failure, json_result

LIST_ACCOUNTS, SHOW_ACCOUNT, ADD_ACCOUNT = "list_accounts", "show_account", "add_account"
CLI_HINT = "binance-spot-mcp accounts add NAME --environment ENV"

_READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)
_ADD_FIELDS: dict[str, dict[str, Any]] = {
    "account": {"type": "string", "description": "New name: letters, digits, . _ -"},
    "environment": {"type": "string", "enum": list(ENVIRONMENTS), "description": "Where the key works"},
    "api_key": {"type": "string", "description": "Omit with credentials_file"},
    "secret": {"type": "string", "description": "HMAC secret"},
    "private_key_file": {"type": "string", "description": "RSA or Ed25519 PEM path, instead of secret"},
    "private_key_passphrase": {"type": "string", "description": "For an encrypted PEM"},
    "credentials_file": {
        "type": "string",
        "description": "File with API key, then secret; keeps keys out of chat",
    },
    "description": {"type": "string", "description": "Free text"},
    "base_url": {"type": "string"},  # Binance's host of the environment or loopback: a refusal says so
    "replace": {"type": "boolean", "description": "Overwrite an account of this name (needs approval)"},
}
LEGACY_NAME = "name"  # add_account's first spelling of ``account``, still accepted

TOOLS = [
    Tool(
        name=LIST_ACCOUNTS,
        title="List accounts",
        description="List configured Binance accounts by name and environment (never keys).",
        input_schema={"type": "object", "properties": {}, "additionalProperties": False},
        annotations=_READ,
    ),
    Tool(
        name=SHOW_ACCOUNT,
        title="Show an account",
        description="Show one account with its API key and secret masked.",
        input_schema={
            "type": "object",
            "properties": {"account": {"type": "string", "description": "Account name; default main."}},
            "additionalProperties": False,
        },
        annotations=_READ,
    ),
    Tool(
        name=ADD_ACCOUNT,
        title="Add an account",
        description="Add a Binance account to TOOLS.md; prefer credentials_file so keys stay out of the chat.",
        input_schema={
            "type": "object",
            "properties": _ADD_FIELDS,
            "required": ["account", "environment"],
            "additionalProperties": False,
        },
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False
        ),
    ),
]
NAMES = frozenset(t.name for t in TOOLS)


def _account_name(args: Mapping[str, Any]) -> str:
    """The new account's name: ``account``, as every other tool names an account (``name`` too)."""
    account, legacy = optional_string(args, "account"), optional_string(args, LEGACY_NAME)
    if account is not None and legacy is not None and account != legacy:
        raise ToolInputError("give the new account's name once, as 'account'", parameter="account")
    name = account or legacy
    if name is None:
        raise ToolInputError("missing required parameter: account (the new account's name)", parameter="account")
    return name


def _base_url(args: Mapping[str, Any], environment: str) -> str | None:
    """An optional Base URL: Binance's own host of ``environment``, or a loopback address (invariant 3)."""
    url = optional_string(args, "base_url")
    if url is None:
        return None
    url = url.rstrip("/")
    problem = base_url_problem(url) or environment_conflict(url, environment)
    if problem:
        raise ToolInputError(f"'base_url': {problem}", parameter="base_url")
    return url


def with_chat_confirm(tool: Tool) -> Tool:
    """``tool`` with the chat approval path's arguments, where the operator allowed that path."""
    if tool.name != ADD_ACCOUNT:
        return tool
    schema = dict(tool.input_schema)
    schema["properties"] = {**schema["properties"], **CHAT_CONFIRM_PROPERTIES}
    return tool.model_copy(update={"input_schema": schema})
CHANGES_STATE = frozenset({ADD_ACCOUNT})  # writes TOOLS.md: gone in read-only mode


def _ok(payload: Any, redactor: Redactor) -> CallToolResult:
    return json_result(payload, error=False, redactor=redactor)


class AccountTools:
    """Handlers for the account tools, sharing the server's account store and redactor."""

    def __init__(self, store: AccountStore, redactor: Redactor) -> None:
        self._store = store
        self._redactor = redactor

    async def call(self, name: str, arguments: Mapping[str, Any] | None) -> CallToolResult:
        args = dict(arguments or {})
        try:
            allowed = set(next(t for t in TOOLS if t.name == name).input_schema["properties"])
            unknown = sorted(set(args) - allowed)
            if unknown:
                takes = ", ".join(sorted(allowed)) or "no parameters"
                raise ToolInputError(
                    f"unknown parameter(s) {', '.join(unknown)} for {name}; it takes: {takes}", parameter=unknown[0]
                )
            if name == LIST_ACCOUNTS:
                return self._list()
            if name == SHOW_ACCOUNT:
                return self._show(optional_string(args, "account"))
            raise ToolInputError(f"{name} is run by the server's approval step")
        except BinanceSpotError as exc:
            return failure(exc, redactor=self._redactor)

    def _list(self) -> CallToolResult:
        current = self._store.current()
        payload: dict[str, Any] = {
            "accounts": [{"name": a.name, "environment": a.environment} for a in current.accounts.values()],
            "accounts_file": str(self._store.path),
        }
        if not self._store.path.exists():
            payload["note"] = (
                f"{self._store.path} does not exist: no account is read from a file, so the built-in paper "
                "account 'paper' (no key, no real money, live prices) is there to trade on. Add a real one with "
                f"add_account (a credentials_file keeps keys out of the chat), or the user can run `{CLI_HINT}`."
            )
        if current.broken:
            payload["unusable"] = [{"name": b.name, "problem": b.problem} for b in current.broken.values()]
        if current.file_problem is not None:  # its accounts exist but cannot be read: say why, not "none"
            payload["accounts_file_refused"] = {
                "problem": current.file_problem,
                "fix": current.file_fix or "see the problem",
                "note": "No account from this file is listed until the user fixes it; it is re-read automatically.",
            }
        return _ok(payload, self._redactor)

    def _show(self, name: str | None) -> CallToolResult:
        account = self._store.resolve(name)
        if account.paper is not None:  # no key to mask: say what it is instead
            return _ok({"account": account.name, "environment": account.environment, "api_key": "none (paper account)",
                        "paper": account.paper.describe(), "market_data_from": account.base_url,
                        "description": account.description, "source": account.source,
                        "note": "Trades are simulated on this computer against live prices; nothing is signed or sent."},
                       self._redactor)
        return _ok(
            {
                "account": account.name,
                "api_key": account.masked_api_key,
                "secret": account.secret_display,
                "environment": account.environment,
                "signing": account.signing,
                "description": account.description,
                "base_url": account.base_url,
            },
            self._redactor,
        )

    def plan_add(self, arguments: Mapping[str, Any] | None) -> AddPlan:
        """Validate an add_account call and say what it would change (nothing is written)."""
        args = dict(arguments or {})
        allowed = set(next(t for t in TOOLS if t.name == ADD_ACCOUNT).input_schema["properties"]) | set(
            CHAT_CONFIRM_PROPERTIES
        ) | {LEGACY_NAME}
        unknown = sorted(set(args) - allowed)
        if unknown:
            raise ToolInputError(
                f"unknown parameter(s): {', '.join(unknown)}; add_account takes {', '.join(sorted(allowed))}",
                parameter=unknown[0],
            )
        name, environment = _account_name(args), optional_string(args, "environment")
        if environment not in ENVIRONMENTS:
            raise ToolInputError(f"'environment' must be one of {', '.join(ENVIRONMENTS)}", parameter="environment")
        api_key, secret = optional_string(args, "api_key"), optional_string(args, "secret")
        key_file, passphrase = optional_string(args, "private_key_file"), optional_string(args, "private_key_passphrase")
        credentials = optional_string(args, "credentials_file")
        if api_key:
            self._redactor.add_api_key(api_key)
        if secret:
            self._redactor.add_secret(secret)
        if passphrase:
            self._redactor.add_opaque(passphrase)
        replace = args.get("replace", False)
        if not isinstance(replace, bool):
            raise ToolInputError("'replace' must be true or false", parameter="replace")
        if credentials:
            if api_key or secret:
                raise ToolInputError("give credentials_file or api_key/secret, not both", parameter="credentials_file")
            api_key, secret = read_credentials_file(local_key_path(credentials, "credentials_file", self._store))
            self._redactor.add_api_key(api_key)
            self._redactor.add_secret(secret)
        if not api_key:
            raise ToolInputError("give api_key (or credentials_file)", parameter="api_key")
        if bool(secret) == bool(key_file):
            raise ToolInputError("give exactly one of secret (HMAC) or private_key_file (RSA/Ed25519)", parameter="secret")
        if key_file:
            key_file = str(check_key_file(key_file, passphrase, self._store))
        description = args.get("description") or ""
        if not isinstance(description, str):
            raise ToolInputError("'description' must be a string", parameter="description")
        entry = AccountEntry(
            name=name,
            environment=environment,
            api_key=api_key,
            secret=secret,
            private_key_file=key_file,
            passphrase=passphrase,
            description=description,
            base_url=_base_url(args, environment),
        )
        current = self._store.current()
        existing: Account | BrokenAccount | None = current.accounts.get(name) or current.broken.get(name)
        if existing is None and name in _file_account_names(self._store):
            existing = BrokenAccount(name, "present in the file")
        if existing is not None and not replace:
            raise ToolInputError(
                f"an account named '{name}' already exists; nothing was changed",
                hint="Choose another name, or call again with replace: true (the user must approve a replacement).",
                parameter="account",
            )
        # A new entry for a configured key would be a second door to one Binance account; a
        # replacement (which a human approves) may keep or bring a key.
        # (an entry that cannot be read counts too: its rules are unknown, not absent)
        entries = (*current.accounts.values(), *current.broken.values())
        twin = next((a.name for a in entries if a.api_key and a.api_key == api_key and a.name != name), None)
        if twin is not None and existing is None:
            raise ToolInputError(
                f"this API key is already configured as account '{twin}'; nothing was changed. A second entry "
                "for the same Binance account is refused here (its rules would follow the key anyway)",
                hint=f"Use account '{twin}'. If the user wants a second entry for the key, the operator adds it "
                f"with the CLI: {CLI_HINT}.",
                parameter="credentials_file" if credentials else "api_key",
            )
        if key_file:
            signer_kind = "private key file"
            material = fingerprint(signer_kind, _key_file_bytes(key_file, self._store.path.parent))
        else:
            signer_kind, material = "HMAC_SHA256", fingerprint("HMAC_SHA256", secret or "")
        base_url = entry.base_url or self._store.base_urls[environment]  # the destination decides the environment
        token = args.get("confirmation_token")
        confirm = args.get("confirm")
        return AddPlan(
            entry=entry,
            arguments={k: v for k, v in args.items() if k not in ("confirm", "confirmation_token")},
            existing=existing,
            base_url=base_url,
            destination=destination_environment(base_url) or environment,
            api_key_fingerprint=fingerprint(api_key),
            signer_kind=signer_kind,
            signer_fingerprint=material,
            from_credentials_file=bool(credentials),
            confirm=confirm if isinstance(confirm, str) else None,
            confirmation_token=token if isinstance(token, str) else None,
        )

    def apply_add(self, plan: AddPlan, approval: Any, journal: Journal) -> CallToolResult:
        """Write a planned (and, where needed, approved) account; back up TOOLS.md; journal it."""
        entry = plan.entry
        fields = approval.journal_fields() if approval is not None else None
        backup = add_account(self._store.path, entry, replace=plan.existing is not None, backup=True)
        journal.record_account_change(
            action="replace" if plan.existing is not None else "add",
            account=entry.name,
            environment=entry.environment,
            previous_environment=getattr(plan.existing, "environment", None),
            approval=fields,
            backup=str(backup) if backup else None,
        )
        current = self._store.current()
        added = current.accounts.get(entry.name)
        payload: dict[str, Any] = {
            "added" if plan.existing is None else "replaced": entry.name,
            "environment": entry.environment,
            "api_key": mask_api_key(entry.api_key),
            "secret": mask_secret(entry.secret) if entry.secret else f"private key file {entry.private_key_file}",
            "accounts_file": str(self._store.path),
            "usable_now": added is not None,
        }
        if backup is not None:
            payload["backup"] = str(backup)
        if fields is not None:
            payload["approved_via"] = fields["approved_via"]
        if added is None and entry.name in current.broken:
            payload["problem"] = current.broken[entry.name].problem
        if plan.from_credentials_file:
            payload["note"] = "The keys were read from the local file and never entered the chat."
        else:
            payload["note"] = (
                "These keys passed through the chat. Next time pass credentials_file (a local file with the API "
                "key on the first line and the secret on the second), or have the user run `" + CLI_HINT + "` in a terminal, so keys never enter the conversation."
            )
        return _ok(payload, self._redactor)


@dataclass(frozen=True)
class AddPlan:
    """What an add_account call would write, and what an approval of it is bound to."""

    entry: AccountEntry
    arguments: Mapping[str, Any] = field(repr=False)
    existing: Account | BrokenAccount | None
    base_url: str
    destination: str
    api_key_fingerprint: str = field(repr=False)
    signer_kind: str
    signer_fingerprint: str = field(repr=False)
    from_credentials_file: bool = False
    confirm: str | None = field(default=None, repr=False)
    confirmation_token: str | None = field(default=None, repr=False)

    @property
    def needs_approval(self) -> bool:
        """Replacing any account, or adding one that reaches mainnet, needs a human's approval."""
        return self.existing is not None or MAINNET in (self.entry.environment, self.destination)

    def binding(self) -> dict[str, str]:
        """The account fields an approval of this change is bound to (see approvals.request_digest)."""
        return {
            "account": self.entry.name,
            "environment": self.entry.environment,
            "destination": self.destination,
            "base_url": self.base_url,
            "api_key_fingerprint": self.api_key_fingerprint,
            "signer_kind": self.signer_kind,
            "signer_fingerprint": self.signer_fingerprint,
        }

    def bound_fields(self) -> tuple[tuple[str, str], ...]:
        entry = self.entry
        return (
            ("name", entry.name),
            ("environment", entry.environment),
            ("private_key_file", entry.private_key_file or ""),
            ("description", entry.description),
            ("replace", str(self.existing is not None)),
        )

    def preview(self) -> str:
        entry = self.entry
        host = urlsplit(self.base_url).netloc or self.base_url
        old = getattr(self.existing, "environment", None)
        action = "Replace" if self.existing is not None else "Add"
        lines = [f"{action} the Binance account '{escape_text(entry.name)}' in TOOLS.md (add_account)"]
        if self.existing is not None:
            lines.append(f"Environment: {old or 'unknown (the current entry is unusable)'} -> {entry.environment}")
        else:
            lines.append(f"Environment: {entry.environment}")
        money = "MAINNET, real money" if MAINNET in (entry.environment, self.destination) else "not real money"
        lines += [
            f"Destination: {escape_text(host)} ({money})",
            f"API key: {mask_api_key(entry.api_key)}",
            "Signing: " + ("HMAC secret" if entry.secret else f"private key file {escape_text(entry.private_key_file)}"),
        ]
        if entry.description:
            lines.append(f"Description: {escape_text(entry.description)}")
        if self.existing is not None:
            lines.append("Orders for this account name will then be signed with the new key.")
        lines.append("Type CONFIRM to make this change; anything else cancels.")
        return "\n".join(lines)


def _file_account_names(store: AccountStore) -> set[str]:
    try:
        return set(account_names(store.path))
    except (BinanceSpotError, OSError):
        return set()


def _key_file_bytes(key_file: str, base_dir: Path) -> bytes:
    path = Path(key_file).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    try:
        return key_file.encode() + b"\x00" + path.read_bytes()[:65536]
    except OSError:
        return key_file.encode()
