"""The kill switch: one switch that stops every state-changing request, for all accounts at once.

Trading is off when the server was started with ``--trading off`` (or
``BINANCE_SPOT_MCP_TRADING=off``), or while the halt file exists. The halt file lives next to the
audit journal unless ``BINANCE_SPOT_MCP_HALT_FILE`` says otherwise, so every server process that
writes the same journal sees the same switch; it is looked at on every request, so creating it
stops servers that are already running. ``binance-spot-mcp halt`` creates it and ``resume``
removes it.

Cancels stay possible while trading is off: cancelling reduces risk (``is_cancel``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from binance_spot_mcp.catalog.endpoints import Endpoint
from binance_spot_mcp.config import HALT_FILE_NAME, Settings, state_dir
from binance_spot_mcp.errors import ConfigError

HALT_FILE_MODE = 0o600
MAX_REASON_CHARS = 200
HALT_FILE_HINT = "Cancels still work. Only the operator can turn trading back on (binance-spot-mcp resume)."


def halt_path(settings: Settings) -> Path:
    return settings.halt_file or state_dir(settings) / HALT_FILE_NAME


def is_cancel(endpoint: Endpoint) -> bool:
    """Cancels (DELETE) only ever take orders away; they pass the kill switch and symbol lists."""
    return endpoint.method == "DELETE"


@dataclass(frozen=True)
class SwitchState:
    trading: bool
    reason: str = ""
    hint: str = ""  # how the operator turns trading back on: names the switch that turned it off

    def describe(self) -> dict[str, object]:
        return {"trading": "on" if self.trading else "off", **({"reason": self.reason} if self.reason else {})}


def state(settings: Settings) -> SwitchState:
    """Whether trading is on now, and if not, why."""
    if settings.trading_off:
        return SwitchState(
            False,
            f"the server was started with {settings.trading_off}",
            f"Cancels still work. Only the operator can turn trading back on, by restarting the server without "
            f"{settings.trading_off} ('resume' only removes a halt file).",
        )
    path = halt_path(settings)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")[:1000]
    except FileNotFoundError:
        return SwitchState(True)
    except OSError:
        return SwitchState(False, f"the halt file {path} exists (unreadable)", HALT_FILE_HINT)
    detail = ""
    try:
        note = json.loads(text)
        if isinstance(note, dict) and note.get("reason"):
            detail = f": {str(note['reason'])[:MAX_REASON_CHARS]}"
    except ValueError:
        pass
    return SwitchState(False, f"the halt file {path} exists{detail}", HALT_FILE_HINT)


def halt_note(settings: Settings) -> dict[str, str] | None:
    """The halt file's note (``halted_at``, ``reason``) when it exists; ``{}`` when it cannot be
    read as one (an empty or foreign halt file still halts); None when there is no halt file."""
    path = halt_path(settings)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")[:1000]
    except FileNotFoundError:
        return None
    except OSError:
        return {}
    try:
        note = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(note, dict):
        return {}
    return {k: str(note[k])[:MAX_REASON_CHARS] for k in ("halted_at", "reason") if note.get(k)}


def halt(settings: Settings, reason: str = "") -> Path:
    """Create the halt file (and its directory, 0700). Returns its path."""
    path = halt_path(settings)
    try:
        path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
        note = {"halted_at": datetime.now(UTC).isoformat(timespec="seconds"), "reason": reason[:MAX_REASON_CHARS]}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), HALT_FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(note) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise ConfigError(f"cannot create the halt file {path}: {exc.strerror or type(exc).__name__}") from None
    return path


def resume(settings: Settings) -> bool:
    """Remove the halt file; False when there was none."""
    path = halt_path(settings)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise ConfigError(f"cannot remove the halt file {path}: {exc.strerror or type(exc).__name__}") from None
    return True
