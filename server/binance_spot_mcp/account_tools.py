"""The account tools of the skill's "Agent Behavior": list, show (masked) and add accounts.

These are the only hand-written tools: they manage the local TOOLS.md, not a Binance endpoint.
Nothing here ever returns a full API key, a secret or a passphrase.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mcp.types import CallToolResult, Tool, ToolAnnotations

from binance_spot_mcp.accounts import AccountStore
from binance_spot_mcp.accounts_file import AccountEntry, add_account, read_credentials_file
from binance_spot_mcp.config import ENVIRONMENTS
from binance_spot_mcp.errors import BinanceSpotError, ToolInputError
from binance_spot_mcp.redact import Redactor, mask_api_key, mask_secret
from binance_spot_mcp.results import failure, json_result

LIST_ACCOUNTS, SHOW_ACCOUNT, ADD_ACCOUNT = "list_accounts", "show_account", "add_account"
CLI_HINT = "binance-spot-mcp accounts add NAME --environment ENV"

_READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)
_ADD_FIELDS: dict[str, dict[str, Any]] = {
    "name": {"type": "string", "description": "Letters, digits, . _ -"},
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
    "replace": {"type": "boolean", "description": "Overwrite an account of this name"},
}

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
            "required": ["name", "environment"],
            "additionalProperties": False,
        },
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False
        ),
    ),
]
NAMES = frozenset(t.name for t in TOOLS)
CHANGES_STATE = frozenset({ADD_ACCOUNT})  # writes TOOLS.md: gone in read-only mode


def _ok(payload: Any, redactor: Redactor) -> CallToolResult:
    return json_result(payload, error=False, redactor=redactor)


def _string(args: Mapping[str, Any], name: str) -> str | None:
    value = args.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ToolInputError(f"'{name}' must be a non-empty string", parameter=name)
    return value.strip()


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
                raise ToolInputError(f"unknown parameter(s): {', '.join(unknown)}", parameter=unknown[0])
            if name == LIST_ACCOUNTS:
                return self._list()
            if name == SHOW_ACCOUNT:
                return self._show(_string(args, "account"))
            return self._add(args)
        except BinanceSpotError as exc:
            return failure(exc, redactor=self._redactor)

    def _list(self) -> CallToolResult:
        current = self._store.current()
        payload: dict[str, Any] = {
            "accounts": [{"name": a.name, "environment": a.environment} for a in current.accounts.values()],
            "accounts_file": str(self._store.path),
        }
        if current.broken:
            payload["unusable"] = [{"name": b.name, "problem": b.problem} for b in current.broken.values()]
        return _ok(payload, self._redactor)

    def _show(self, name: str | None) -> CallToolResult:
        account = self._store.resolve(name)
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

    def _add(self, args: Mapping[str, Any]) -> CallToolResult:
        name, environment = _string(args, "name"), _string(args, "environment")
        if name is None:
            raise ToolInputError("missing required parameter: name", parameter="name")
        if environment not in ENVIRONMENTS:
            raise ToolInputError(f"'environment' must be one of {', '.join(ENVIRONMENTS)}", parameter="environment")
        api_key, secret = _string(args, "api_key"), _string(args, "secret")
        key_file, passphrase = _string(args, "private_key_file"), _string(args, "private_key_passphrase")
        credentials = _string(args, "credentials_file")
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
            api_key, secret = read_credentials_file(Path(credentials).expanduser())
            self._redactor.add_api_key(api_key)
            self._redactor.add_secret(secret)
        if not api_key:
            raise ToolInputError("give api_key (or credentials_file)", parameter="api_key")
        if bool(secret) == bool(key_file):
            raise ToolInputError("give exactly one of secret (HMAC) or private_key_file (RSA/Ed25519)", parameter="secret")
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
        )
        add_account(self._store.path, entry, replace=replace)
        current = self._store.current()
        added = current.accounts.get(name)
        payload: dict[str, Any] = {
            "added": name,
            "environment": environment,
            "api_key": mask_api_key(api_key),
            "secret": mask_secret(secret) if secret else f"private key file {key_file}",
            "accounts_file": str(self._store.path),
            "usable_now": added is not None,
        }
        if added is None and name in current.broken:
            payload["problem"] = current.broken[name].problem
        if credentials:
            payload["note"] = "The keys were read from the local file and never entered the chat."
        else:
            payload["note"] = (
                "These keys passed through the chat. Next time use a credentials_file, or run "
                f"`{CLI_HINT}` in a terminal, so keys never enter the conversation."
            )
        return _ok(payload, self._redactor)
