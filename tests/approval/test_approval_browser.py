"""The approval page in a real browser: Debian's headless Chromium, driven by Selenium.

The test human reads the preview on the page, types into the field and presses the button, as a
person would; the tool call waiting on the MCP side then sends the request (or not).
CI installs Chromium and its driver (.ci/run); without them this test fails in CI and is skipped
elsewhere, with the install command in the reason.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp.types import ElicitRequestURLParams, ElicitResult

from tests.approval_support import host, runtime_for, sends
from tests.browser_support import require_chromium, start_chromium
from tests.e2e_support import result_json

pytestmark = pytest.mark.anyio

PAGE_WAIT_S = 20

require_chromium("the approval-page test")

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def browser():
    driver = start_chromium()
    try:
        yield driver
    finally:
        driver.quit()


def _read_and_answer(driver: Any, url: str, typed: str, button: str) -> dict[str, str]:
    driver.get(url)
    # the old page's heading goes stale while the answer page loads: that counts as "not yet"
    wait = WebDriverWait(driver, PAGE_WAIT_S, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException))
    # the technical details are folded: their text is there, not shown until opened
    preview = wait.until(expected_conditions.presence_of_element_located((By.ID, "preview"))).get_attribute("textContent")
    headline = driver.find_element(By.ID, "headline").text
    field = driver.find_element(By.ID, "confirm")
    field.send_keys(typed)
    driver.find_element(By.ID, button).click()
    verdict = wait.until(expected_conditions.presence_of_element_located((By.ID, "verdict"))).text
    return {"preview": preview, "headline": headline, "verdict": verdict, "body": driver.page_source}


class BrowserHuman:
    def __init__(self, driver: Any, typed: str, button: str = "approve") -> None:
        self.driver, self.typed, self.button = driver, typed, button
        self.seen: dict[str, str] = {}
        self.url = ""

    async def callback(self, ctx: Any, params: Any) -> ElicitResult:
        assert isinstance(params, ElicitRequestURLParams)
        self.url = params.url
        self.seen = await anyio.to_thread.run_sync(_read_and_answer, self.driver, params.url, self.typed, self.button)
        return ElicitResult(action="accept")


ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.002",
         "price": "50000", "account": "live"}


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_person_approves_in_chromium_and_the_order_is_sent_once(world, monkeypatch, browser, mode):
    runtime = runtime_for(world)
    human = BrowserHuman(browser, "CONFIRM")
    try:
        async with host(runtime, "url", mode, human, monkeypatch) as client:
            result = await client.call_tool("place_order", ORDER)
        # the link cannot approve again: reopened, it says what was decided and what happened
        await anyio.to_thread.run_sync(browser.get, human.url)
        assert browser.find_elements(By.ID, "confirm") == []
        assert browser.find_element(By.ID, "verdict").text == "Sent"
        assert "Sent, and Binance accepted it: order" in browser.find_element(By.ID, "outcome").text
    finally:
        await runtime.aclose()
    for word in ("place_order", "live", "MAINNET", "Destination: 127.0.0.1", "BTCUSDT", "BUY", "LIMIT", "0.002", "50000"):
        assert word in human.seen["preview"], word
    assert human.seen["verdict"] == "Approved"
    assert human.seen["headline"].startswith("Buy 0.002 BTC at 50,000 USDT")
    assert not result.is_error, result
    assert result_json(result)["symbol"] == "BTCUSDT" and sends(world) == 1


# a slip ("do NOT CONFIRM" then Approve) no longer ends the request: the browser asks again
# (test_approval_page_seen.py); declining ends it, whatever was typed
@pytest.mark.parametrize(("typed", "button"), [("do NOT CONFIRM", "decline"), ("CONFIRM", "decline")])
async def test_a_person_who_does_not_approve_sends_nothing(world, monkeypatch, browser, typed, button):
    runtime = runtime_for(world)
    human = BrowserHuman(browser, typed, button)
    try:
        async with host(runtime, "url", "legacy", human, monkeypatch) as client:
            result = await client.call_tool("place_order", ORDER)
    finally:
        await runtime.aclose()
    assert human.seen["verdict"] == "Not approved"
    assert result_json(result)["error"] == "not_confirmed" and sends(world) == 0
