"""The live status page in a real headless Chromium: a submitted job appears and its progress
bar follows the worker's WORK_STATUS, without a reload. ``UPDATE_SCREENSHOT=1`` writes the
screenshot README shows (docs/status-page.png) from this run."""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.server.test_monitor import (
    CAN_DO,
    JOB_CREATED,
    SUBMIT_JOB,
    SUBMIT_JOB_BG,
    WORK_COMPLETE,
    Monitored,
    connect,
    grab,
    submit,
)
from tests.server.test_process import read_packet, request
from tests.support.prerequisites import require

WORK_STATUS = 12
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "status-page.png"


@pytest.fixture
def browser() -> Iterator[object]:
    require(shutil.which("chromium") and shutil.which("chromedriver"),
            "Chromium is missing: apt-get install chromium chromium-driver")
    require(importlib.util.find_spec("selenium"), "selenium is missing: pip install selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")  # type: ignore[assignment]
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1200,900",
                 f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def eventually(check: Callable[[], object], what: str, timeout: float = 15.0) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"the page never showed {what}"
        time.sleep(0.1)


def test_a_job_appears_and_its_progress_bar_moves_without_a_reload(  # type: ignore[no-untyped-def]
        browser) -> None:
    m = Monitored(["-t", "0"])
    try:
        with connect(m.server) as worker, connect(m.server) as client, \
                connect(m.server) as other:
            worker.sendall(request(CAN_DO, b"resize"))
            other.sendall(request(CAN_DO, b"thumbnail"))
            for i in range(3):
                submit(client, SUBMIT_JOB_BG, b"thumbnail", b"%d" % i)
            browser.get(f"http://127.0.0.1:{m.monitor_port}/")  # type: ignore[attr-defined]
            browser.execute_script("window.loadedOnce = true")  # type: ignore[attr-defined]
            client.sendall(request(SUBMIT_JOB, b"resize", b"photo-1", b"image bytes"))
            kind, handle = read_packet(client)
            assert kind == JOB_CREATED

            row_selector = f'tr[data-handle="{handle.decode()}"]'

            def in_row(expression: str) -> object:
                """``expression`` of the job's row (``row``), or None while it is not there;
                read in one script, as the page replaces its rows at every update."""
                return browser.execute_script(  # type: ignore[attr-defined]
                    f"const row = document.querySelector(arguments[0]);"
                    f"return row ? {expression} : null", row_selector)

            def bar() -> object:
                return in_row("row.querySelector('.bar').dataset.percent")

            assert eventually(bar, "the submitted job") == "0"
            assert grab(worker) == handle
            for numerator, percent in ((1, "25"), (3, "75")):
                worker.sendall(request(WORK_STATUS, handle, b"%d" % numerator, b"4"))
                eventually(lambda: bar() == percent, f"the bar at {percent}%")
            assert "running" in in_row("row.textContent")  # type: ignore[operator]
            reloaded = not browser.execute_script(  # type: ignore[attr-defined]
                "return window.loadedOnce")
            assert not reloaded
            if os.environ.get("UPDATE_SCREENSHOT") == "1":
                for _ in range(3):  # some work done between polls, for the throughput column
                    other.sendall(request(WORK_COMPLETE, grab(other), b"small"))
                    time.sleep(2.1)
                browser.save_screenshot(str(SCREENSHOT))  # type: ignore[attr-defined]
    finally:
        m.server.stop()


def test_the_page_fits_a_phone(browser) -> None:  # type: ignore[no-untyped-def]
    m = Monitored(["-t", "0"])
    try:
        browser.set_window_size(390, 844)  # type: ignore[attr-defined]
        browser.get(f"http://127.0.0.1:{m.monitor_port}/")  # type: ignore[attr-defined]
        eventually(lambda: "updated" in browser.execute_script(  # type: ignore[attr-defined]
            "return document.getElementById('updated').textContent"), "its first update")
        width = browser.execute_script(  # type: ignore[attr-defined]
            "return document.documentElement.scrollWidth")
        assert width <= 390
    finally:
        m.server.stop()
