"""The approval page as a person sees it (issue 27, item 6): headless Chromium at a desktop size
(1280x900) and a phone size (390x844, via the DevTools viewport override), driven through the real
server and the fake exchange, for a LIMIT order, an OTOCO, an add_account with a hostile
description, and a reused link. Each case asserts what is visible without scrolling -- the
headline, the MAINNET badge, the CONFIRM field and both buttons -- and keeps a screenshot as a test
artefact under the test's own tmp_path (never in the repository).

How this module drives Chromium follows ``test_approval_browser.py`` (Debian's chromium and
chromium-driver; skipped elsewhere, required in CI).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.types import ElicitRequestURLParams, ElicitResult

from binance_spot_mcp.approval.book import request_code
from tests.approval_support import host, runtime_for, sends
from tests.browser_support import require_chromium, start_chromium
from tests.e2e_support import random_token, result_json

pytestmark = pytest.mark.anyio

PAGE_WAIT_S = 20
SIZES = {"desktop": (1280, 900), "phone": (390, 844)}
FIRST_SCREEN = ("headline", "badge", "code", "confirm", "approve", "decline")

require_chromium("the approval-page test")

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

LIMIT = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.002",
         "price": "50000", "account": "live"}
OTOCO = {"symbol": "BTCUSDT", "account": "live", "workingType": "LIMIT", "workingSide": "BUY", "workingPrice": "50000",
         "workingQuantity": "0.001", "workingTimeInForce": "GTC", "pendingSide": "SELL", "pendingQuantity": "0.001",
         "pendingAboveType": "LIMIT_MAKER", "pendingAbovePrice": "70000", "pendingBelowType": "STOP_LOSS_LIMIT",
         "pendingBelowStopPrice": "46000", "pendingBelowPrice": "45000", "pendingBelowTimeInForce": "GTC"}
FAKE_LINE = "Environment: testnet (not real money)"
HOSTILE = f"my savings {FAKE_LINE} ok"  # short enough to be shown whole
LONG = "x" * 200  # shortened in its cell, with its length said


@pytest.fixture(scope="module")
def browser():
    driver = start_chromium("--force-device-scale-factor=1")
    try:
        yield driver
    finally:
        driver.quit()


def viewport(driver: Any, size: str) -> None:
    """An exact viewport (the window's own size would include the browser's frame)."""
    width, height = SIZES[size]
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": size == "phone"})


def on_first_screen(driver: Any, element_id: str) -> bool:
    """True when the element is wholly inside the viewport with the page scrolled to the top."""
    return bool(driver.execute_script(
        "window.scrollTo(0, 0); var el = document.getElementById(arguments[0]);"
        "if (!el) { return false; } var r = el.getBoundingClientRect();"
        "return r.width > 0 && r.height > 0 && r.top >= 0 && r.left >= 0 &&"
        " r.bottom <= window.innerHeight && r.right <= window.innerWidth;", element_id))


def measure(driver: Any, element_id: str) -> dict[str, float]:
    return driver.execute_script(
        "var el = document.getElementById(arguments[0]); var r = el.getBoundingClientRect(); var s = getComputedStyle(el);"
        "return {height: r.height, width: r.width, font: parseFloat(s.fontSize), line: parseFloat(s.lineHeight),"
        " background: s.backgroundColor, weight: s.fontWeight};",
        element_id)


def _wait(driver: Any) -> Any:
    return WebDriverWait(driver, PAGE_WAIT_S, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException))


class Person:
    """Opens the link at one size, reads the first screen, keeps a screenshot, then answers."""

    def __init__(self, driver: Any, size: str, shots: Path, name: str, *, typed: str = "CONFIRM",
                 button: str = "approve") -> None:
        self.driver, self.size, self.shots, self.name = driver, size, shots, name
        self.typed, self.button = typed, button
        self.url = self.message = ""
        self.seen: dict[str, Any] = {}

    def _look_and_answer(self, url: str) -> dict[str, Any]:
        driver = self.driver
        viewport(driver, self.size)
        driver.get(url)
        _wait(driver).until(expected_conditions.presence_of_element_located((By.ID, "confirm")))
        seen = {
            "first_screen": {i: on_first_screen(driver, i) for i in FIRST_SCREEN},
            "text": {i: driver.find_element(By.ID, i).text for i in ("headline", "badge", "code", "expiry")},
            "body_font": driver.execute_script("return parseFloat(getComputedStyle(document.body).fontSize)"),
            "approve": measure(driver, "approve"),
            "decline": measure(driver, "decline"),
            "legs": [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#legs li")],
            # each cell the assistant filled: its label and how many lines its text takes on screen
            "cells": driver.execute_script(
                "var out = {}; document.querySelectorAll('#supplied tr').forEach(function (tr) {"
                " var range = document.createRange(); range.selectNodeContents(tr.querySelector('td'));"
                " var tops = {}; Array.prototype.forEach.call(range.getClientRects(), function (r) { tops[Math.round(r.top)] = 1; });"
                " out[tr.querySelector('th').textContent] = Object.keys(tops).length; }); return out;"),
        }
        seen["lines_starting"] = driver.execute_script(
            "var out = []; var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);"
            "while (walker.nextNode()) { var n = walker.currentNode; var p = n.parentElement;"
            " if (p && p.offsetParent !== null && n.textContent.trim()) { out.push([p.tagName, p.id, p.closest('td') !== null,"
            " n.textContent]); } } return out;")
        driver.save_screenshot(str(self.shots / f"{self.name}-{self.size}.png"))
        driver.find_element(By.ID, "confirm").send_keys(self.typed)
        driver.find_element(By.ID, self.button).click()
        verdict = _wait(driver).until(expected_conditions.presence_of_element_located((By.ID, "verdict"))).text
        seen["verdict"] = verdict
        driver.save_screenshot(str(self.shots / f"{self.name}-{self.size}-answered.png"))
        return seen

    async def callback(self, ctx: Any, params: Any) -> ElicitResult:
        assert isinstance(params, ElicitRequestURLParams)
        self.url, self.message = params.url, params.message
        self.seen = await anyio.to_thread.run_sync(self._look_and_answer, params.url)
        return ElicitResult(action="accept")


def _first_screen_holds(person: Person) -> None:
    seen = person.seen
    assert all(seen["first_screen"].values()), (person.size, seen["first_screen"])
    assert seen["text"]["badge"] == "MAINNET · real money"
    assert seen["body_font"] >= 16
    assert seen["approve"]["height"] >= 44 and seen["decline"]["height"] >= 44
    # the primary button stands out; Decline looks different from it
    assert seen["approve"]["background"] != seen["decline"]["background"] and seen["approve"]["weight"] == "700"
    # the host's prompt and the page name the same short request code
    code = seen["text"]["code"].removeprefix("Request ")
    assert code in person.message and code == request_code(person.url.split("/approve/")[1].split("/")[0])
    assert seen["text"]["expiry"].startswith("This link works once, until ") and "UTC" in seen["text"]["expiry"]
    assert "Closing this page sends nothing." in seen["text"]["expiry"]


async def _run(world: Any, monkeypatch: Any, person: Person, tool: str, arguments: dict[str, Any],
               after: Any = None) -> tuple[Any, Any]:
    """The call through the URL channel; then ``after`` (in a thread) while the page still serves."""
    runtime = runtime_for(world)
    try:
        async with host(runtime, "url", "legacy", person, monkeypatch) as client:
            result = await client.call_tool(tool, arguments)
            later = await anyio.to_thread.run_sync(after) if after is not None else None
            return result, later
    finally:
        await runtime.aclose()


@pytest.mark.parametrize("size", list(SIZES))
async def test_a_limit_order_reads_at_a_glance_and_a_reused_link_tells_what_happened(world, monkeypatch, browser,
                                                                                      tmp_path, size):
    person = Person(browser, size, tmp_path, "limit")

    def reopen() -> dict[str, Any]:
        # the page the person was left on said "Approved" and reloads itself: it comes to say "Sent"
        _wait(browser).until(lambda d: d.find_element(By.ID, "verdict").text == "Sent")
        viewport(browser, size)
        browser.get(person.url)
        _wait(browser).until(expected_conditions.presence_of_element_located((By.ID, "verdict")))
        browser.save_screenshot(str(tmp_path / f"reused-{size}.png"))
        return {"verdict": browser.find_element(By.ID, "verdict").text,
                "outcome": browser.find_element(By.ID, "outcome").text,
                "forms": len(browser.find_elements(By.TAG_NAME, "form")),
                "first_screen": {i: on_first_screen(browser, i) for i in ("verdict", "outcome", "badge", "code")}}

    result, again = await _run(world, monkeypatch, person, "place_order", LIMIT, after=reopen)
    assert not result.is_error and sends(world) == 1
    _first_screen_holds(person)
    assert person.seen["text"]["headline"].startswith("Buy 0.002 BTC at 50,000 USDT")
    assert "you pay about 100 USDT + fee" in person.seen["text"]["headline"]
    assert person.seen["verdict"] == "Approved"  # decided; the request goes out when the call continues
    order_id = result_json(result)["orderId"]
    assert again["verdict"] == "Sent" and again["forms"] == 0
    assert again["outcome"].startswith("Approved at ") and f"Binance accepted it: order {order_id}" in again["outcome"]
    assert "Nothing was sent" not in again["outcome"]
    assert all(again["first_screen"].values()), again
    assert (tmp_path / f"limit-{size}.png").stat().st_size > 0 and (tmp_path / f"reused-{size}.png").stat().st_size > 0


@pytest.mark.parametrize("size", list(SIZES))
async def test_an_otoco_shows_one_line_per_order_and_its_total(world, monkeypatch, browser, tmp_path, size):
    person = Person(browser, size, tmp_path, "otoco", button="decline")
    result, _ = await _run(world, monkeypatch, person, "place_order_list_otoco", OTOCO)
    assert result_json(result)["error"] == "not_confirmed" and sends(world) == 0
    _first_screen_holds(person)
    assert person.seen["text"]["headline"].startswith("Buy 0.001 BTC at 50,000 USDT")
    legs = person.seen["legs"]
    assert len(legs) == 3
    assert legs[0].startswith("Buy 0.001 BTC at 50,000 USDT") and legs[0].endswith("about 50 USDT")
    assert legs[1].startswith("When it has filled: sell 0.001 BTC at 70,000 USDT") and legs[1].endswith("about 70 USDT")
    assert "once the price reaches 46,000 USDT" in legs[2] and legs[2].endswith("about 45 USDT")
    assert person.seen["verdict"] == "Not approved"


@pytest.mark.parametrize("size", list(SIZES))
async def test_a_hostile_description_stays_in_its_own_cell(world, monkeypatch, browser, tmp_path, size):
    person = Person(browser, size, tmp_path, "hostile", button="decline")
    arguments = {"name": "savings", "environment": "mainnet", "description": HOSTILE,
                 "api_key": random_token(), "secret": random_token()}
    result, _ = await _run(world, monkeypatch, person, "add_account", arguments)
    assert result_json(result)["error"] == "not_confirmed"
    _first_screen_holds(person)
    # the description is one line in its labelled cell, shortened: it cannot start a line of the page's own
    assert person.seen["cells"]["Description"] == 1, person.seen["cells"]
    holders = [row for row in person.seen["lines_starting"] if FAKE_LINE in row[3]]
    assert any(in_cell for _, _, in_cell, _ in holders), holders
    for tag, element_id, in_cell, text in holders:  # elsewhere only inside the folded details, never starting a line
        assert in_cell or (tag, element_id) == ("PRE", "preview"), holders
        assert not any(line.startswith(FAKE_LINE) for line in text.splitlines())
    assert not any(text.strip().startswith("Environment: testnet") for *_, text in person.seen["lines_starting"])


async def test_a_slip_asks_again_instead_of_ending_the_request(world, monkeypatch, browser, tmp_path):
    """Lower-case 'confirm' and Approve: the browser keeps the page (``required`` + ``pattern``) and
    nothing is decided; the person then types CONFIRM and the order is sent once."""

    class Slipper(Person):
        def _look_and_answer(self, url: str) -> dict[str, Any]:
            driver = self.driver
            viewport(driver, "phone")
            driver.get(url)
            field = _wait(driver).until(expected_conditions.presence_of_element_located((By.ID, "confirm")))
            field.send_keys("confirm")
            driver.find_element(By.ID, "approve").click()
            still = {"valid": driver.execute_script("return document.getElementById('confirm').validity.valid"),
                     "asking": len(driver.find_elements(By.ID, "verdict")) == 0}
            driver.save_screenshot(str(self.shots / "slip-phone.png"))
            field = driver.find_element(By.ID, "confirm")
            field.clear()
            field.send_keys("CONFIRM")
            driver.find_element(By.ID, "approve").click()
            verdict = _wait(driver).until(expected_conditions.presence_of_element_located((By.ID, "verdict"))).text
            return {**still, "verdict": verdict}

    person = Slipper(browser, "phone", tmp_path, "slip")
    result, _ = await _run(world, monkeypatch, person, "place_order", LIMIT)
    assert person.seen["valid"] is False and person.seen["asking"] is True
    assert person.seen["verdict"] == "Approved" and not result.is_error and sends(world) == 1
