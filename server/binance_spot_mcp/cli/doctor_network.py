"""``doctor``'s network checks: once per base URL, ``GET /api/v3/ping`` and ``GET /api/v3/time``
(reachability and clock offset); once per account on a reached host, a signed read
(``GET /api/v3/account``) that says whether the key is accepted, and why not when it is not.

Every request goes through ``BinanceClient`` with a short timeout and no read retries, so an
unreachable host costs one timeout. Failures are described in a few words of our own, never
with the raw exception text (it may carry a request URL). Balances are never shown.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import httpx

from binance_spot_mcp.accounts.reading import Account
from binance_spot_mcp.catalog.endpoints import Catalog, Endpoint
from binance_spot_mcp.cli.doctor_report import FAIL, INFO, OK, SKIP, WARN, Check, Report
from binance_spot_mcp.config import MAINNET, Settings
from binance_spot_mcp.errors import (
    BinanceSpotError,
    ConfigError,
    ExchangeError,
    TransportError,
)
from binance_spot_mcp.exchange.client import BinanceClient, midpoint_offset_ms

DOCTOR_TIMEOUT_S = 5.0  # at most this long per request, whatever settings.http_timeout_s says
CLOCK_WARN_MS = 1000  # Binance rejects a timestamp 1 s ahead of its clock
RECV_WINDOW_MS = 5000  # ... or older than recvWindow (default 5000 ms)
PING, SERVER_TIME, ACCOUNT_INFO = "ping", "get_server_time", "get_account"
_KEY_REJECTED = frozenset({-2014, -2015})
_SIGNATURE_REJECTED = -1022
_TIMESTAMP_REJECTED = -1021


# ----------------------------------------------------------------------------- network checks
def _reason(exc: BaseException, timeout_s: float) -> str:
    """Why a request got no answer, in a few words (never the raw exception text, which may
    carry a request URL)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, OSError) and type(seen).__name__ == "gaierror":
            return "DNS lookup failed"
        if isinstance(seen, httpx.TimeoutException | TimeoutError):
            return f"no answer within {timeout_s:g} s"
        if isinstance(seen, httpx.ConnectError) and "ssl" in str(seen).lower():
            return "TLS handshake failed"
        seen = seen.__cause__ or seen.__context__
    if isinstance(exc, TransportError):
        return exc.message
    return type(exc).__name__


def _clock(offset_ms: int, rtt_ms: int) -> tuple[str, str, str]:
    """Verdict on Binance's clock minus ours (``offset_ms``)."""
    size = abs(offset_ms)
    if size <= CLOCK_WARN_MS:
        return OK, f"offset {offset_ms:+d} ms to Binance (round trip {rtt_ms} ms)", ""
    way = "ahead of" if offset_ms < 0 else "behind"
    detail = f"this machine's clock is {size} ms {way} Binance's (round trip {rtt_ms} ms)"
    hint = "the server corrects signed timestamps for the offset itself, but sync the OS clock (timedatectl set-ntp true)"
    if size > RECV_WINDOW_MS:
        return FAIL, f"{detail}: beyond recvWindow ({RECV_WINDOW_MS} ms)", hint
    return WARN, f"{detail}: more than {CLOCK_WARN_MS} ms", hint


def _signed_read_failure(exc: BinanceSpotError, account: Account) -> tuple[str, str]:
    if isinstance(exc, ExchangeError) and exc.code in _KEY_REJECTED:
        return (
            f"Binance rejected the API key {account.masked_api_key} (code {exc.code}: {exc.msg})",
            (
                f"check that the key belongs to {account.environment} ({account.base_url}), is not deleted, "
                "allows this IP (API restrictions) and has 'Enable Reading'"
            ),
        )
    if isinstance(exc, ExchangeError) and exc.code == _SIGNATURE_REJECTED:
        what = "secret" if account.signing == "HMAC_SHA256" else "private key file"
        return (
            f"Binance rejected the signature (code {exc.code}: {exc.msg})",
            f"the {what} does not belong to API key {account.masked_api_key}; copy it again from the API management page",
        )
    if isinstance(exc, ExchangeError) and exc.code == _TIMESTAMP_REJECTED:
        return (
            f"Binance rejected the timestamp even after the clock offset was measured (code {exc.code})",
            "sync the OS clock (timedatectl set-ntp true) and check for a slow or unstable network",
        )
    if isinstance(exc, TransportError):
        return f"no usable answer from {account.base_url}: {exc.message}", exc.hint
    return exc.message, exc.hint


def _now_ms() -> int:
    """This machine's clock in ms (the client's default clock, passed explicitly so both agree)."""
    return int(time.time() * 1000)


def _host_section(base_url: str, names: Sequence[str]) -> str:
    return f"host {base_url}" + (f" (used by {', '.join(names)})" if names else " (public market data)")


@dataclass
class _Probe:
    client: BinanceClient
    catalog: Catalog
    timeout_s: float
    clock_ms: Callable[[], int]

    def endpoint(self, tool: str) -> Endpoint:
        endpoint = self.catalog.get(tool)
        if endpoint is None:
            raise ConfigError(f"SKILL.md has no '{tool}' endpoint")
        return endpoint

    async def call(self, tool: str, params: Sequence[tuple[str, str]], base_url: str, account: Account | None) -> Any:
        # a -1021 makes the client re-measure the clock and send once more: three requests at most
        with anyio.fail_after(3 * self.timeout_s + 1):
            reply = await self.client.call(self.endpoint(tool), params, base_url=base_url, account=account)
        return reply.data

    async def host(self, base_url: str, names: Sequence[str]) -> tuple[list[Check], bool]:
        """Ping and clock checks for one base URL; returns them and whether the host answered."""
        report, section = Report(), _host_section(base_url, names)
        started = self.clock_ms()
        try:
            await self.call(PING, [], base_url, None)
        except (TransportError, TimeoutError) as exc:
            report.add(
                section, "reachable", FAIL, f"could not reach {base_url} ({_reason(exc, self.timeout_s)})",
                "check the network, a proxy or firewall, and the Base URL / BINANCE_SPOT_MCP_*_BASE_URL",
            )
            return report.checks, False
        except BinanceSpotError as exc:
            report.add(section, "reachable", FAIL, f"{base_url} refused GET /api/v3/ping: {exc.message}", exc.hint)
            return report.checks, False
        report.add(section, "reachable", OK, f"GET /api/v3/ping answered in {self.clock_ms() - started} ms")
        try:
            before = self.clock_ms()
            data = await self.call(SERVER_TIME, [], base_url, None)
            after = self.clock_ms()
            server_ms = int(data["serverTime"])
        except (BinanceSpotError, TimeoutError, KeyError, TypeError, ValueError) as exc:
            reason = exc.message if isinstance(exc, BinanceSpotError) else _reason(exc, self.timeout_s)
            report.add(section, "clock", FAIL, f"could not read Binance's time from {base_url} ({reason})")
            return report.checks, True
        verdict, detail, hint = _clock(midpoint_offset_ms(server_ms, before, after), after - before)
        report.add(section, "clock", verdict, detail, hint)
        return report.checks, True

    async def account(self, account: Account) -> Check:
        section = f"account {account.name}"
        if account.paper is not None:  # nothing to sign with: the desk answers on this computer
            return Check(section, "paper", OK, f"paper account ({account.paper.describe()}); market data from "
                         f"{account.base_url} was reached; nothing is ever signed or sent for it")
        try:
            data = await self.call(ACCOUNT_INFO, [("omitZeroBalances", "true")], account.base_url, account)
        except (BinanceSpotError, TimeoutError) as exc:
            if isinstance(exc, TimeoutError):
                exc = TransportError(f"no answer within {self.timeout_s:g} s", sent=True)
            detail, hint = _signed_read_failure(exc, account)
            return Check(section, "signed read", FAIL, detail, hint)
        facts = []
        if isinstance(data, Mapping):
            for key in ("accountType", "canTrade"):
                if key in data:
                    value = data[key]
                    facts.append(f"{key} {str(value).lower() if isinstance(value, bool) else value}")
            permissions = data.get("permissions")
            if isinstance(permissions, list):
                facts.append(f"permissions {','.join(str(p) for p in permissions) or 'none'}")
        detail = "GET /api/v3/account accepted the key" + (f": {', '.join(facts)}" if facts else "")
        if isinstance(data, Mapping) and data.get("canTrade") is False:
            return Check(section, "signed read", OK, f"{detail} (a read-only key: orders will be rejected)")
        return Check(section, "signed read", OK, detail)


async def network_checks(
    report: Report,
    settings: Settings,
    catalog: Catalog | None,
    accounts: Sequence[Account],
    *,
    offline: bool,
    transport: httpx.AsyncBaseTransport | None,
    check_key_file: Callable[[Report, str, Account, bool], None],
) -> None:
    hosts: dict[str, list[Account]] = {}
    for account in accounts:
        hosts.setdefault(account.base_url, []).append(account)
    if not hosts:  # no account to check: is Binance's public market data reachable?
        hosts[settings.base_urls[MAINNET]] = []

    def account_identity(account: Account) -> None:
        section = f"account {account.name}"
        if account.paper is not None:
            report.add(section, "identity", INFO, f"paper, no key, market data from {account.base_url}"
                       + (f" ({account.source})" if account.source else ""))
            return
        report.add(
            section, "identity", INFO,
            f"{account.environment}, {account.signing}, API key {account.masked_api_key}, {account.base_url}"
            + (f" ({account.source})" if account.source else ""),
        )
        check_key_file(report, section, account, settings.insecure_permissions)

    if offline or catalog is None:
        why = "--offline" if offline else "SKILL.md did not load"
        for base_url, members in hosts.items():
            report.add(_host_section(base_url, [a.name for a in members]), "reachable", SKIP, f"not checked ({why})")
            for account in members:
                account_identity(account)
                if account.paper is None:
                    report.add(f"account {account.name}", "signed read", SKIP, f"not checked ({why})")
        return

    timeout_s = min(settings.http_timeout_s, DOCTOR_TIMEOUT_S)
    client = BinanceClient(skill_version=catalog.version, timeout_s=timeout_s, transport=transport, clock_ms=_now_ms)
    client.read_retry_delays_s = ()  # one try: an unreachable host costs one timeout, not three
    probe = _Probe(client, catalog, timeout_s, _now_ms)
    results: dict[str, tuple[list[Check], bool]] = {}
    account_results: dict[str, Check] = {}
    try:
        async def one_host(base_url: str, members: list[Account]) -> None:
            results[base_url] = await probe.host(base_url, [a.name for a in members])
            if results[base_url][1]:
                for account in members:
                    account_results[account.name] = await probe.account(account)

        async with anyio.create_task_group() as group:
            for base_url, members in hosts.items():
                group.start_soon(one_host, base_url, members)
    finally:
        await client.aclose()

    for base_url, members in hosts.items():
        checks, reached = results[base_url]
        report.checks.extend(checks)
        for account in members:
            account_identity(account)
            if reached:
                report.checks.append(account_results[account.name])
            else:
                report.add(f"account {account.name}", "signed read", SKIP, f"not checked ({base_url} not reached)")
