"""The approval page, pinned where the issue-22 mutation run found it unpinned: the exact words of
every answer the human can get, the security headers on each, the form's limits at their edges,
both names of its own origin, and the page server's own life (no log line carrying the secret link,
no handler of its own beside the redacting ones, no ``Server`` header, a daemon thread, a clear
error when it cannot start, serving again after a close).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from html.parser import HTMLParser

import anyio
import httpx
import pytest
import uvicorn

from binance_spot_mcp.approval import page as page_module
from binance_spot_mcp.approval.book import (
    WRONG_TEXT_NOTE,
    ApprovalBook,
    Channel,
    Status,
    request_code,
)
from binance_spot_mcp.approval.page import ApprovalPage, clock_time
from tests.approval_support import open_page

pytestmark = pytest.mark.anyio

DIGEST = "d" * 64
PREVIEW = "Cancel all open orders\nAccount: live (MAINNET)"
FORM = "application/x-www-form-urlencoded"
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}
NOTHING_APPROVED = "Nothing was approved."
FOOTER = ("Shown by binance-spot-mcp, the program your AI assistant uses for Binance. This page is served by this "
          "computer, not by Binance.")
GONE = ("This approval link is unknown or has expired, so it cannot approve anything now. If you still want the "
        "change, ask the assistant again: you will get a new link.")


@pytest.fixture
def page():
    book = ApprovalBook()
    server = ApprovalPage(book)
    yield book, server
    server.close()


def _pending(book: ApprovalBook, preview: str = PREVIEW):
    return book.create(channel=Channel.URL, tool="cancel_open_orders", arguments={}, digest=DIGEST,
                       preview=preview, session=None)


class _Reader(HTMLParser):
    """What a browser shows (text outside <style>) and the elements the human acts on."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self._in_style = tag == "style"
        if tag in ("html", "meta", "form", "input", "label", "button", "pre", "h1", "details"):
            self.elements.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if not self._in_style:
            self.text.append(data)


def _read(response: httpx.Response) -> _Reader:
    reader = _Reader()
    reader.feed(response.text)
    return reader


def _assert_secured(response: httpx.Response) -> None:
    headers = {k.lower(): v for k, v in response.headers.items()}
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name) == value, (name, headers)
    assert "server" not in headers and "access-control-allow-origin" not in headers


def _assert_says(response: httpx.Response, status: int, title: str, words: str) -> None:
    """The visible text: the title (tab and heading), then ``words`` (after the request's badge and
    code where the page has them), and the footer naming the program and who serves the page."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text.startswith('<!doctype html><html lang="en"><head><meta charset="utf-8">')
    shown = "".join(_read(response).text)
    assert shown.startswith(title) and shown.endswith(FOOTER), shown
    assert f"{title}{words}" in shown, shown  # the heading, then what it says
    _assert_secured(response)


async def _post(url: str, content: bytes, *, origin: str, content_type: str | None = FORM,
                host: str | None = None) -> httpx.Response:
    headers = {"Origin": origin}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if host is not None:
        headers["Host"] = host
    async with httpx.AsyncClient() as http:
        return await http.post(url, content=content, headers=headers)


def _fields(csrf: str, confirm: str = "CONFIRM", decision: str = "approve", **more: str) -> bytes:
    return "&".join(f"{k}={v}" for k, v in {"csrf": csrf, "confirm": confirm, "decision": decision, **more}.items()).encode()


# --- what each answer says -----------------------------------------------------------------------


async def test_the_form_says_what_to_do_and_offers_exactly_two_buttons(page):
    book, server = page
    pending = _pending(book, preview="Cancel <all> & more")
    async with httpx.AsyncClient() as http:
        response = await http.get(server.url_for(pending))
    assert response.status_code == 200 and response.headers["content-type"] == "text/html; charset=utf-8"
    _assert_secured(response)
    code, until = request_code(pending.approval_id), clock_time(pending.expires_wall)
    assert "".join(_read(response).text) == (
        f"Approve a Binance requestRequest {code}Cancel <all> & more"
        "Type CONFIRM to send exactly this requestApprove and sendDecline"
        f"This link works once, until {until}. Closing this page sends nothing."
        f"Technical detailsCancel <all> & more{FOOTER}"
    )
    csrf = pending.csrf
    assert _read(response).elements == [
        ("html", {"lang": "en"}),
        ("meta", {"charset": "utf-8"}),
        ("meta", {"name": "viewport", "content": "width=device-width,initial-scale=1"}),
        ("h1", {"id": "headline"}),
        ("form", {"method": "post"}),
        ("input", {"type": "hidden", "name": "csrf", "value": csrf}),
        ("label", {"for": "confirm"}),
        ("input", {"type": "text", "id": "confirm", "name": "confirm", "required": None, "pattern": " *CONFIRM *",
                   "title": "Type the word CONFIRM in capital letters", "autocomplete": "off",
                   "autocapitalize": "characters", "spellcheck": "false", "autofocus": None}),
        ("button", {"type": "submit", "id": "approve", "name": "decision", "value": "approve"}),
        ("button", {"type": "submit", "id": "decline", "name": "decision", "value": "decline", "formnovalidate": None}),
        ("details", {"id": "details"}),
        ("pre", {"id": "preview"}),
    ]


@pytest.mark.parametrize("where", ["/approve/0123456789abcdef/guess", "/", "/favicon.ico", "/approve"])
async def test_an_unknown_link_says_it_approves_nothing(page, where):
    """It cannot know what an unknown link was for, so it never claims that nothing was sent."""
    book, server = page
    server.url_for(_pending(book))
    async with httpx.AsyncClient() as http:
        response = await http.get(server.origin + where)
    _assert_says(response, 404, "Nothing to approve", GONE)
    assert "Nothing was sent" not in response.text


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"])
async def test_any_other_method_or_path_gets_the_same_dead_end_and_decides_nothing(page, method):
    book, server = page
    pending = _pending(book)
    link = server.url_for(pending)
    async with httpx.AsyncClient() as http:
        elsewhere = await http.request(method, f"{server.origin}/elsewhere", headers={"Origin": server.origin})
        on_the_link = await http.request(method, link, headers={"Origin": server.origin}) if method not in ("GET", "POST") else None
    _assert_says(elsewhere, 404, "Nothing to approve", GONE)
    if on_the_link is not None:
        _assert_says(on_the_link, 404, "Nothing to approve", GONE)
    assert book.status(pending.approval_id) is Status.PENDING


async def test_approving_says_so(page):
    book, server = page
    pending = _pending(book)
    opened = await open_page(server.url_for(pending))
    response = await opened.submit(confirm="CONFIRM")
    at = clock_time(book.seen(pending.approval_id, pending.secret, Channel.URL).decided_wall)
    _assert_says(response, 200, "Approved",
                 f"Approved at {at}. It is sent as soon as the assistant's request continues; this page shows what "
                 "happened (it reloads by itself). You can close it: that changes nothing now.")
    assert '<meta http-equiv="refresh" content="2">' in response.text


async def test_the_decline_button_says_nothing_was_sent_and_blames_no_typing(page):
    book, server = page
    for typed in ("CONFIRM", "nope"):
        pending = _pending(book)
        opened = await open_page(server.url_for(pending))
        response = await opened.submit(confirm=typed, decision="decline")
        at = clock_time(book.seen(pending.approval_id, pending.secret, Channel.URL).decided_wall)
        _assert_says(response, 200, "Not approved", f"Declined at {at}. Nothing was sent; you can close this tab.")
        assert "refresh" not in response.text
        assert book.status(pending.approval_id) is Status.DECLINED
        assert book.note(pending.approval_id) != WRONG_TEXT_NOTE  # the gate journals it as declined


async def test_wrong_text_says_the_text_was_not_confirm(page):
    book, server = page
    pending = _pending(book)
    opened = await open_page(server.url_for(pending))
    response = await opened.submit(confirm="CONFIRMED")
    at = clock_time(book.seen(pending.approval_id, pending.secret, Channel.URL).decided_wall)
    _assert_says(response, 200, "Not approved",
                 f"Not approved at {at}: the text typed was not CONFIRM. Nothing was sent; you can close this tab.")
    assert book.note(pending.approval_id) == WRONG_TEXT_NOTE  # the gate journals it as wrong text


async def test_each_refused_post_says_why_and_approves_nothing(page):
    book, server = page
    pending = _pending(book)
    opened = await open_page(server.url_for(pending))
    url, origin = opened.url, server.origin
    cases = [
        (await _post(url, _fields(opened.csrf), origin="https://evil.example"), 403,
         "This form may only be sent from its own page."),
        (await _post(url, _fields(opened.csrf), origin=origin, content_type="application/json"), 415,
         "Unexpected form encoding."),
        (await _post(url, _fields(opened.csrf), origin=origin, content_type=None), 415, "Unexpected form encoding."),
        (await _post(url, _fields(opened.csrf, pad="x" * 5000), origin=origin), 413, "Form too large."),
        (await _post(url, "&".join(f"f{i}=x" for i in range(20)).encode(), origin=origin), 400, "Malformed form."),
        (await _post(url, _fields(opened.csrf[:-2] + "xx"), origin=origin), 403,
         "This form is stale or was tampered with."),
        (await _post(url, b"confirm=CONFIRM&decision=approve", origin=origin), 403,
         "This form is stale or was tampered with."),
    ]
    for response, status, why in cases:
        _assert_says(response, status, "Refused", f"{why} {NOTHING_APPROVED}")
    assert book.status(pending.approval_id) is Status.PENDING


async def test_another_host_gets_a_bare_refusal_with_the_security_headers(page):
    book, server = page
    async with httpx.AsyncClient() as http:
        response = await http.get(server.url_for(_pending(book)), headers={"Host": "evil.example"})
    assert response.status_code == 421 and response.text == "unknown host"
    _assert_secured(response)


# --- the form's edges ----------------------------------------------------------------------------


async def test_a_form_of_exactly_the_size_limit_is_read_one_byte_more_is_not(page):
    book, server = page
    pending, too_big = _pending(book), _pending(book)
    for record, size, status in ((pending, 4096, 200), (too_big, 4097, 413)):
        opened = await open_page(server.url_for(record))
        head = _fields(opened.csrf, pad="")
        body = head + b"x" * (size - len(head))
        assert len(body) == size
        assert (await _post(opened.url, body, origin=server.origin)).status_code == status
    assert book.status(pending.approval_id) is Status.APPROVED
    assert book.status(too_big.approval_id) is Status.PENDING


async def test_eight_fields_are_read_nine_are_malformed(page):
    book, server = page
    eight, nine = _pending(book), _pending(book)
    for record, extra, status in ((eight, 5, 200), (nine, 6, 400)):
        opened = await open_page(server.url_for(record))
        body = _fields(opened.csrf, **{f"p{i}": "x" for i in range(extra)})
        assert (await _post(opened.url, body, origin=server.origin)).status_code == status
    assert book.status(eight.approval_id) is Status.APPROVED
    assert book.status(nine.approval_id) is Status.PENDING


async def test_bytes_that_are_not_utf8_are_read_as_wrong_text_not_an_error(page):
    book, server = page
    pending = _pending(book)
    opened = await open_page(server.url_for(pending))
    body = f"csrf={opened.csrf}&decision=approve&confirm=CONF".encode() + b"\xff\xfeIRM"
    response = await _post(opened.url, body, origin=server.origin)
    at = clock_time(book.seen(pending.approval_id, pending.secret, Channel.URL).decided_wall)
    _assert_says(response, 200, "Not approved",
                 f"Not approved at {at}: the text typed was not CONFIRM. Nothing was sent; you can close this tab.")
    assert book.status(pending.approval_id) is Status.DECLINED


async def test_a_form_encoding_with_a_charset_is_still_a_form(page):
    book, server = page
    pending = _pending(book)
    opened = await open_page(server.url_for(pending))
    response = await _post(opened.url, _fields(opened.csrf), origin=server.origin, content_type=f"{FORM}; charset=UTF-8")
    assert response.status_code == 200 and book.status(pending.approval_id) is Status.APPROVED


@pytest.mark.parametrize(("host", "origin"), [("localhost", "localhost"), ("127.0.0.1", "localhost"),
                                              ("localhost", "127.0.0.1")])
async def test_localhost_is_the_pages_other_name(page, host, origin):
    book, server = page
    pending = _pending(book)
    link = server.url_for(pending)
    async with httpx.AsyncClient() as http:
        shown = await http.get(link, headers={"Host": f"{host}:{server.port}"})
    assert shown.status_code == 200
    response = await _post(link, _fields(pending.csrf), origin=f"http://{origin}:{server.port}",
                           host=f"{host}:{server.port}")
    assert response.status_code == 200 and book.status(pending.approval_id) is Status.APPROVED


# --- the page server's own life ------------------------------------------------------------------


async def test_the_secret_link_never_reaches_a_log_and_uvicorn_gets_no_handler_of_its_own(page, caplog, monkeypatch,
                                                                                          request):
    """A log line with the link would let anyone who reads the log approve; uvicorn's own handlers
    would bypass the redacting filter on the root handler and write access lines to stdout (the
    stdio transport's channel)."""
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        monkeypatch.setattr(logger, "handlers", [])
        monkeypatch.setattr(logger, "propagate", True)
        monkeypatch.setattr(logger, "disabled", False)  # as in a fresh process, whatever ran before in this one
        request.addfinalizer(lambda logger=logger, level=logger.level: logger.setLevel(level))
        logger.setLevel(logging.NOTSET)
    caplog.set_level(logging.DEBUG)
    book, server = page
    pending = _pending(book)
    opened = await open_page(server.url_for(pending))
    await opened.submit(confirm="CONFIRM")
    async with httpx.AsyncClient() as http:
        await http.get(opened.url)
    logged = "\n".join(record.getMessage() for record in caplog.records
                       if not record.name.startswith(("httpx", "httpcore")))  # the test's own client
    assert pending.secret not in logged and pending.csrf not in logged
    assert logging.getLogger("uvicorn").handlers == [] and logging.getLogger("uvicorn").propagate
    assert logging.getLogger("uvicorn.error").handlers == []


def test_the_page_server_never_keeps_the_process_alive(page):
    book, server = page
    server.url_for(_pending(book))
    threads = [t for t in threading.enumerate() if t.name == "approval-page"]
    assert threads and all(t.daemon for t in threads)


def test_the_page_names_only_its_port(page):
    book, server = page
    assert repr(server) == "ApprovalPage(port=None)"
    pending = _pending(book)
    server.url_for(pending)
    assert repr(server) == f"ApprovalPage(port={server.port})" and server.port > 0
    assert server.origin == f"http://127.0.0.1:{server.port}"


async def test_a_closed_page_serves_nothing_and_starts_again_for_the_next_link(page):
    book, server = page
    first = server.url_for(_pending(book))
    server.close()
    async with httpx.AsyncClient() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(first)
    again = _pending(book)
    assert (await open_page(server.url_for(again))).preview == again.preview
    server.close()
    server.close()  # closing twice is harmless


async def test_two_pages_serve_at_once_each_only_its_own_links(page):
    book, server = page
    other_book = ApprovalBook()
    other = ApprovalPage(other_book)
    try:
        mine, theirs = _pending(book), _pending(other_book)
        my_link, their_link = server.url_for(mine), other.url_for(theirs)
        assert server.port != other.port
        assert (await open_page(my_link)).preview == (await open_page(their_link)).preview == PREVIEW
        async with httpx.AsyncClient() as http:
            crossed = await http.get(f"{server.origin}/approve/{theirs.approval_id}/{theirs.secret}")
        assert crossed.status_code == 404
    finally:
        other.close()


def test_a_page_that_cannot_start_says_so_and_starts_on_a_later_link(page, monkeypatch):
    book, server = page

    async def returns_at_once(self, sockets=None):
        return None

    monkeypatch.setattr(uvicorn.Server, "serve", returns_at_once)
    with pytest.raises(OSError, match="^the approval page could not be started$"):
        server.url_for(_pending(book))
    monkeypatch.undo()
    pending = _pending(book)
    link = server.url_for(pending)
    assert httpx.get(link).status_code == 200


def test_a_page_that_hangs_while_starting_is_given_up_on(page, monkeypatch):
    """A page server that never comes up must not hold the tool call: after START_TIMEOUT_S the
    approval fails (and the call says so) instead of waiting for ever."""
    book, server = page
    release = threading.Event()

    async def never_ready(self, sockets=None):
        while not release.is_set():
            await asyncio.sleep(0.01)

    monkeypatch.setattr(uvicorn.Server, "serve", never_ready)
    monkeypatch.setattr(page_module, "START_TIMEOUT_S", 0.2)
    try:
        with pytest.raises(OSError, match="^the approval page could not be started$"):
            server.url_for(_pending(book))
    finally:
        release.set()


async def test_closing_never_waits_long_on_a_request_that_hangs(page, monkeypatch):
    """A client that sends half a form and keeps the connection open must not hang the server's
    shutdown: close() gives up after START_TIMEOUT_S."""
    book, server = page
    monkeypatch.setattr(page_module, "START_TIMEOUT_S", 0.3)
    link = server.url_for(_pending(book))
    path = link.split(str(server.port), 1)[1]
    hanging = socket.create_connection(("127.0.0.1", server.port))
    try:
        hanging.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nOrigin: {server.origin}\r\n"
            f"Content-Type: {FORM}\r\nContent-Length: 1000\r\n\r\ncsrf=".encode()
        )
        async with httpx.AsyncClient() as http:  # a full request served after it: the half one is in
            assert (await http.get(f"{server.origin}/")).status_code == 404
        closed = threading.Event()
        closer = threading.Thread(target=lambda: (server.close(), closed.set()), daemon=True)
        closer.start()
        with anyio.fail_after(10):
            while not closed.is_set():
                await anyio.sleep(0.01)
    finally:
        hanging.close()
