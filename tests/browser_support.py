"""Headless Chromium for the tests that look at a page or a card as a person would (Debian's
chromium and chromium-driver; Selenium Manager is never allowed to download anything)."""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
BASE_FLAGS = ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu")
os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager look for a download


def require_chromium(what: str, *, whole_module: bool = True) -> None:
    """Without Chromium: a failure in CI (it must run there), a skip on a developer's machine."""
    if CHROMIUM and CHROMEDRIVER:
        return
    if os.environ.get("CI"):
        raise RuntimeError(f"CI needs Chromium for {what}: apt-get install chromium chromium-driver")
    pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
                allow_module_level=whole_module)


def start_chromium(*flags: str) -> Any:
    """A headless Chromium driver with the base flags and ``flags``; the caller quits it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*BASE_FLAGS, *flags):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
