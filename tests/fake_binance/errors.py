"""Binance-style API errors raised inside the fake exchange."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error rendered as ``{"code": code, "msg": msg}`` with an HTTP status."""

    def __init__(self, code: int, msg: str, status: int = 400, data: Any = None) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status
        self.data = data

    def payload(self) -> dict[str, Any]:
        """JSON body for this error."""
        body: dict[str, Any] = {"code": self.code, "msg": self.msg}
        if self.data is not None:
            body["data"] = self.data
        return body


def mandatory(name: str) -> ApiError:
    """-1102 for a missing/empty mandatory parameter."""
    return ApiError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def either(a: str, b: str) -> ApiError:
    """-1102 when neither of two alternative parameters was sent."""
    return ApiError(-1102, f"Param '{a}' or '{b}' must be sent, but both were empty/null!")


def illegal(name: str, legal: str) -> ApiError:
    """-1100 for a malformed value."""
    return ApiError(-1100, f"Illegal characters found in parameter '{name}'; legal range is '{legal}'.")


def bad_symbol() -> ApiError:
    """-1121 unknown symbol."""
    return ApiError(-1121, "Invalid symbol.")


def filter_failure(name: str) -> ApiError:
    """-1013 filter failure."""
    return ApiError(-1013, f"Filter failure: {name}")


def rejected(msg: str) -> ApiError:
    """-2010 NEW_ORDER_REJECTED with a matching-engine message."""
    return ApiError(-2010, msg)


def insufficient_balance() -> ApiError:
    """-2010 insufficient balance."""
    return rejected("Account has insufficient balance for requested action.")


def unknown_order(code: int = -2013) -> ApiError:
    """-2013 (query) / -2011 (cancel) unknown order."""
    return ApiError(code, "Order does not exist." if code == -2013 else "Unknown order sent.")
