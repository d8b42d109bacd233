"""``binance-spot-mcp journal --account A --symbol S --since T --until T``: which entries to show.

An intent (and an account change) names its account and, in ``params``, its symbol; an outcome
names neither, so it is shown when the intent it answers (same ``id``) is. Times are UTC: an ISO
date or date and time (``2026-12-07``, ``2026-12-07T05:00``, ``...Z``), or a span back from now
(``30m``, ``24h``, ``7d``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from binance_spot_mcp.policy import ascii_upper

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # "since the beginning"
_SPAN_RE = re.compile(r"^(\d{1,6})\s*([smhdw])$")
_SPAN_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(text: str, *, now: datetime | None = None) -> datetime:
    """A point in time (UTC) from an ISO date/time or a span back from ``now``; ValueError says why."""
    value = text.strip()
    span = _SPAN_RE.match(value.lower())
    if span:
        return (now or datetime.now(UTC)) - timedelta(**{_SPAN_UNITS[span.group(2)]: int(span.group(1))})
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"'{text}' is not a time: use 2026-12-07, 2026-12-07T05:00 (UTC) or a span such as 24h, 7d") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _entry_time(entry: Mapping[str, Any]) -> datetime | None:
    ts = entry.get("ts")
    if not isinstance(ts, str):
        return None
    try:
        return parse_when(ts)
    except ValueError:
        return None


@dataclass(frozen=True)
class JournalFilter:
    account: str | None = None
    symbol: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.account, self.symbol, self.since, self.until))

    def _in_time(self, entry: Mapping[str, Any]) -> bool:
        when = _entry_time(entry)
        if when is None:
            return self.since is None and self.until is None
        return (self.since is None or when >= self.since) and (self.until is None or when <= self.until)

    def _names(self, entry: Mapping[str, Any]) -> bool:
        if self.account is not None and entry.get("account") != self.account:
            return False
        if self.symbol is not None:
            params = entry.get("params")
            symbol = params.get("symbol") if isinstance(params, Mapping) else None
            return isinstance(symbol, str) and ascii_upper(symbol) == ascii_upper(self.symbol)
        return True

    def apply(self, entries: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The entries that match, in their order; an outcome goes with its intent."""
        chosen: list[dict[str, Any]] = []
        matched_ids: set[str] = set()
        for entry in entries:
            if not self._in_time(entry):
                continue
            if entry.get("phase") == "outcome":
                if entry.get("id") in matched_ids or (self.account is None and self.symbol is None):
                    chosen.append(dict(entry))
                continue
            if self._names(entry):
                chosen.append(dict(entry))
                if isinstance(entry.get("id"), str):
                    matched_ids.add(entry["id"])
        return chosen
