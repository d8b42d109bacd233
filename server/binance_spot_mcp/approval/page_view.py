"""The HTML of the approval page: the question, and what a reopened link says afterwards.

Laid out for a phone first: the MAINNET badge, the short request code and the server's headline,
then the CONFIRM field and the buttons, then the legs and figures, the values the assistant chose
(each in a labelled cell of its own, on one line, never wrapping into what could look like a line
of the server's), and the technical details folded below. Plain HTML and CSS, no JavaScript: the
browser itself asks again when the CONFIRM field is empty or mistyped (``required`` + ``pattern``).
Every value is HTML-escaped here; the summary's text is already escaped for control characters.
"""

from __future__ import annotations

import html
import time
from typing import Any

from binance_spot_mcp.approval.book import (
    WRONG_TEXT_NOTE,
    PendingApproval,
    Status,
    request_code,
)
from binance_spot_mcp.approval.outcome import Outcome, State
from binance_spot_mcp.approval.summary import Summary

PROGRAM = "binance-spot-mcp"
REFRESH_S = 2  # a page waiting for the outcome reloads itself (a meta refresh, not a script)
CONFIRM_PATTERN = " *CONFIRM *"  # what confirm.is_confirm_text takes: the word, ASCII spaces around it
_STYLE = """
*{box-sizing:border-box}
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:44rem;padding:12px 16px 24px;
color:#1b1b1b;background:#fff}
.top{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:0 0 8px}
.badge{font-weight:700;padding:4px 10px;border-radius:6px;letter-spacing:.02em}
.mainnet{background:#b00020;color:#fff}.testnet{background:#e8f0fe;color:#174ea6;border:1px solid #174ea6}
.code{font-family:ui-monospace,monospace;font-weight:700;border:1px solid #888;border-radius:6px;padding:3px 8px}
h1{font-size:1.3rem;line-height:1.35;margin:4px 0 12px}
ol{margin:0 0 12px;padding-left:1.4rem}li{margin:0 0 6px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0 0 12px}dt{font-weight:600}dd{margin:0}
form{margin:12px 0;padding:12px;border:2px solid #1b1b1b;border-radius:10px}
label{display:block;font-weight:600;margin-bottom:6px}
input[type=text]{font-size:1.25rem;width:100%;min-height:48px;padding:8px;border:2px solid #555;border-radius:8px}
.buttons{display:flex;flex-wrap:wrap;gap:12px;margin-top:12px}
button{font-size:1.1rem;min-height:48px;padding:10px 18px;border-radius:8px;cursor:pointer}
#approve{background:#0b57d0;color:#fff;border:2px solid #0b57d0;font-weight:700;flex:1 1 12rem}
#decline{background:#fff;color:#1b1b1b;border:2px solid #1b1b1b;flex:0 1 8rem}
.note{color:#333;margin:6px 0}
table.supplied{border-collapse:collapse;width:100%;table-layout:fixed;margin:4px 0 12px}
table.supplied th{text-align:left;font-weight:600;width:38%;padding:6px 8px;vertical-align:top;border:1px solid #c9a400}
table.supplied td{font-family:ui-monospace,monospace;background:#fff8d6;border:1px dashed #c9a400;padding:6px 8px;
white-space:nowrap;overflow-x:auto;text-overflow:ellipsis}
h2{font-size:1rem;margin:16px 0 4px}
details{margin:12px 0}summary{cursor:pointer;font-weight:600;min-height:44px;padding:10px 0}
pre{font-size:.85rem;background:#f4f4f4;border:1px solid #ccc;padding:10px;white-space:pre;overflow-x:auto}
footer{color:#444;font-size:.95rem;border-top:1px solid #ccc;margin-top:16px;padding-top:8px}
.state{font-size:1.1rem;padding:10px 12px;border-radius:8px;border:2px solid #555}
.sent{border-color:#137333;background:#e6f4ea}.refused,.unknown{border-color:#b00020;background:#fce8e6}
@media (prefers-color-scheme: dark){body{background:#121212;color:#eee}form{border-color:#eee}
#decline{background:#121212;color:#eee;border-color:#eee}table.supplied td{background:#3a3200;color:#fff}
pre{background:#1e1e1e;border-color:#444;color:#eee}.note,footer{color:#ccc}}
"""


def clock_time(wall: float) -> str:
    """An absolute time a person can read (UTC, to the second): "14:05:09 UTC"."""
    return time.strftime("%H:%M:%S UTC", time.gmtime(wall))


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def document(title: str, body: str, *, refresh: bool = False) -> str:
    meta = f'<meta http-equiv="refresh" content="{REFRESH_S}">' if refresh else ""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">{meta}<style>{_STYLE}</style></head>'
        f"<body>{body}<footer>Shown by <strong>{PROGRAM}</strong>, the program your AI assistant uses for "
        "Binance. This page is served by this computer, not by Binance.</footer></body></html>"
    )


def summary_of(pending: PendingApproval) -> Summary:
    return pending.summary if isinstance(pending.summary, Summary) else Summary.plain(pending.preview)


def _top(summary: Summary, pending: PendingApproval) -> str:
    badge = ""
    if summary.environment:
        kind = "mainnet" if summary.mainnet else "testnet"
        badge = f'<span class="badge {kind}" id="badge">{_e(summary.environment)}</span>'
    return f'<div class="top">{badge}<span class="code" id="code">Request {_e(request_code(pending.approval_id))}</span></div>'


def _recap(summary: Summary) -> str:
    """Legs, figures and account; then the assistant's values; then the folded details."""
    parts = []
    if summary.legs:
        parts.append('<ol id="legs">' + "".join(f"<li>{_e(leg)}</li>" for leg in summary.legs) + "</ol>")
    facts = list(summary.facts) + ([("Account", summary.account)] if summary.account else [])
    if facts:
        parts.append('<dl id="facts">' + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts) + "</dl>")
    if summary.supplied:
        rows = "".join(f'<tr><th scope="row">{_e(c.label)}</th><td title="{_e(c.value)}">{_e(c.value)}</td></tr>'
                       for c in summary.supplied)
        parts.append('<h2>Chosen by the assistant (shown exactly as given)</h2>'
                     f'<table class="supplied" id="supplied">{rows}</table>')
    if summary.details:
        parts.append(f'<details id="details"><summary>Technical details</summary><pre id="preview">{_e(summary.details)}</pre></details>')
    return "".join(parts)


def question(pending: PendingApproval) -> str:
    """The page that asks: headline and buttons first, everything else after."""
    summary = summary_of(pending)
    body = (
        f'{_top(summary, pending)}<h1 id="headline">{_e(summary.headline)}</h1>'
        '<form method="post">'
        f'<input type="hidden" name="csrf" value="{_e(pending.csrf)}">'
        '<label for="confirm">Type CONFIRM to send exactly this request</label>'
        f'<input type="text" id="confirm" name="confirm" required pattern="{CONFIRM_PATTERN}" '
        'title="Type the word CONFIRM in capital letters" autocomplete="off" autocapitalize="characters" '
        'spellcheck="false" autofocus>'
        '<div class="buttons"><button type="submit" id="approve" name="decision" value="approve">Approve and send</button>'
        '<button type="submit" id="decline" name="decision" value="decline" formnovalidate>Decline</button></div>'
        f'<p class="note" id="expiry">This link works once, until {_e(clock_time(pending.expires_wall))}. '
        "Closing this page sends nothing.</p></form>"
        f"{_recap(summary)}"
    )
    return document("Approve a Binance request", body)


def _verdict(pending: PendingApproval) -> tuple[str, str, str]:
    """(title, css state, the sentence) for a decided record."""
    at = clock_time(pending.decided_wall) if pending.decided_wall is not None else "an earlier moment"
    if pending.status is Status.DECLINED:
        if pending.note == WRONG_TEXT_NOTE:
            return "Not approved", "declined", f"Not approved at {at}: the text typed was not CONFIRM. Nothing was sent; you can close this tab."
        if pending.note:
            return "Not approved", "declined", f"Withdrawn at {at} ({_e(pending.note)}). Nothing was sent; you can close this tab."
        return "Not approved", "declined", f"Declined at {at}. Nothing was sent; you can close this tab."
    outcome = pending.outcome
    approved = f"Approved at {at}."
    if not isinstance(outcome, Outcome):
        waiting = ("It is sent as soon as the assistant's request continues; this page shows what happened "
                   "(it reloads by itself). You can close it: that changes nothing now.")
        return "Approved", "pending", f"{approved} {waiting}"
    title = {State.SENT: "Sent", State.REFUSED: "Refused by Binance", State.NOT_SENT: "Not sent",
             State.UNKNOWN: "Outcome unknown"}[outcome.state]
    return title, outcome.state.value, f"{approved} {_e(outcome.headline)}"


def decided(pending: PendingApproval) -> tuple[str, bool]:
    """The page a decided link shows (after the POST, and whenever it is reopened until it
    expires): what was decided, when, and what happened. Returns (document, still waiting)."""
    summary = summary_of(pending)
    title, state, sentence = _verdict(pending)
    waiting = state == "pending"
    body = (
        f'{_top(summary, pending)}<h1 id="verdict">{_e(title)}</h1>'
        f'<p class="state {state}" id="outcome">{sentence}</p>'
        f'<h2>The request</h2><p id="headline">{_e(summary.headline)}</p>{_recap(summary)}'
    )
    return document(title, body, refresh=waiting), waiting


def gone() -> str:
    body = ('<h1 id="verdict">Nothing to approve</h1><p id="outcome">This approval link is unknown or has expired, '
            "so it cannot approve anything now. If you still want the change, ask the assistant again: you will get a new "
            "link.</p>")
    return document("Nothing to approve", body)


def refused(message: str) -> str:
    return document("Refused", f'<h1 id="verdict">Refused</h1><p id="outcome">{_e(message)}</p>')
