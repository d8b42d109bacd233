"""What an account is once read: ``Account`` (usable), ``BrokenAccount`` (named, with its problem),
``AccountSet`` (one reading of the sources), and the one-way ``fingerprint`` of key material.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from binance_spot_mcp.config import MAINNET, PAPER, destination_environment
from binance_spot_mcp.exchange.signing import Signer
from binance_spot_mcp.paper.settings import PaperSettings
from binance_spot_mcp.policy import Policy, Rules
from binance_spot_mcp.redact import mask_api_key


def fingerprint(*parts: bytes | str) -> str:
    """A short, one-way digest of key material: tells keys apart without revealing them."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8") if isinstance(part, str) else part)
        digest.update(b"\x00")
    return digest.hexdigest()[:16]


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
    # One-way digest of the signing material (HMAC secret, or the PEM file's bytes): an approval is
    # bound to it, so a key swapped in TOOLS.md after the preview voids the approval.
    signer_fingerprint: str = field(default="", repr=False)
    chat_confirm: bool = False  # this account opted in to CONFIRM typed in the chat
    rules: Rules = Rules()  # the account's own guard-rail lines in TOOLS.md
    policy: Policy = Policy()  # the rules in force: these and the server's, the stricter winning
    # Lines of the account's block the reader did not understand (a misspelt 'Allowed Symbol'):
    # a rule may be missing, so the guard refuses every state-changing request while any is here.
    field_problems: tuple[str, ...] = ()
    paper: PaperSettings | None = None  # set for a paper account (``Environment: paper``): no key, no money

    @property
    def signing(self) -> str:
        return self.signer.kind

    @property
    def api_key_fingerprint(self) -> str:
        return fingerprint(self.api_key)

    @property
    def destination(self) -> str:
        """Where requests go: the base URL's environment for a Binance host, the label for loopback."""
        if self.paper is not None:  # answered on this computer; only unsigned market data goes out
            return PAPER
        return destination_environment(self.base_url) or self.environment

    def binding(self) -> dict[str, str]:
        """What an approval of a request from this account is bound to (see approvals.request_digest)."""
        return {
            "account": self.name,
            "environment": self.environment,
            "destination": self.destination,
            "base_url": self.base_url,
            "api_key_fingerprint": self.api_key_fingerprint,
            "signer_kind": self.signing,
            "signer_fingerprint": self.signer_fingerprint,
        }

    @property
    def is_mainnet(self) -> bool:
        """True when a request from this account can touch real money (label or destination)."""
        return MAINNET in (self.environment, self.destination)

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
    # its API Key line, if any: its rules could not be read, so entries sharing the key refuse
    # changes and add_account over MCP refuses the key (``store``, ``tools``)
    api_key: str = field(default="", repr=False)


@dataclass
class AccountSet:
    """What one reading of the sources produced."""

    accounts: dict[str, Account] = field(default_factory=dict)
    broken: dict[str, BrokenAccount] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    mode_problem: str | None = None  # also in ``problems``: TOOLS.md was refused for its owner or mode
    # TOOLS.md exists (or was named) but was not read: why, and how to fix it. Every account tool
    # says so rather than "no account named ..." (``AccountStore.resolve``, ``list_accounts``).
    file_problem: str | None = None
    file_fix: str | None = None

    def names(self) -> list[str]:
        return list(self.accounts)


