"""The dashboard in a real browser: headless Chromium, driven by Selenium, on a live mock.

Uses Debian's ``chromium`` and ``chromium-driver`` (.ci/run installs them); nothing is
downloaded. Screenshots are kept under tests/artifacts/ (their paths are printed).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from mockserver.render.dashboard import ROWS
from mockserver.serving.server import MockServer
from mockserver.settings import MockSettings, Timing

from support import CREDITS, SUBMIT, TESTS, WebhookReceiver, poll_to_end

ARTIFACTS = TESTS / "artifacts"
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
WAIT_SECONDS = 30.0
"""How long the page may take to show a change (a guard against hanging, not a bound)."""

pytestmark = pytest.mark.skipif(
    BROWSER is None or DRIVER is None,
    reason="no chromium and chromedriver installed (Debian: apt-get install chromium "
    "chromium-driver; .ci/run does)",
)


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebDriver]:
    # Never let Selenium Manager look for (or download) a browser or driver.
    monkeypatch.setenv("SE_OFFLINE", "true")
    options = webdriver.ChromeOptions()
    assert BROWSER is not None and DRIVER is not None
    options.binary_location = BROWSER
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1300",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=DRIVER))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def live_mock() -> Iterator[MockServer]:
    settings = MockSettings(port=0, timing=Timing.POLLS, polls_until_ready=2, seed=0)
    with MockServer(settings) as server:
        yield server


def screenshot(driver: WebDriver, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    assert driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


def until(driver: WebDriver, found: Callable[[WebDriver], object]) -> object:
    return WebDriverWait(driver, WAIT_SECONDS, poll_frequency=0.05).until(found)


def status_of(driver: WebDriver, task_id: str) -> str:
    # Read in one step: each snapshot replaces the rows, so a found element may go stale.
    script = "const c = document.querySelector(arguments[0]); return c ? c.textContent : ''"
    return str(driver.execute_script(script, f'#tasks tr[data-id="{task_id}"] .status'))


def row_text(driver: WebDriver, selector: str) -> str:
    script = "return document.querySelector(arguments[0]).innerText"
    return str(driver.execute_script(script, selector))


def clicked(driver: WebDriver, selector: str) -> bool:
    """Click the first element matching ``selector``, if any (False to try again)."""
    try:
        found = driver.find_elements(By.CSS_SELECTOR, selector)
        if found:
            found[0].click()
        return bool(found)
    except StaleElementReferenceException:
        return False


def test_the_dashboard_follows_the_mock_live_in_a_browser(
    browser: WebDriver, live_mock: MockServer
) -> None:
    key = {"x-key": live_mock.api_key}
    with httpx.Client(base_url=live_mock.url) as client, WebhookReceiver() as receiver:
        browser.get(live_mock.url + "/_mock/")
        until(browser, lambda d: d.find_element(By.ID, "live").text == "live")
        browser.execute_script("window.notReloaded = true")

        # A task seen Pending, then Ready, without reloading the page.
        fox = client.post(SUBMIT, json={"prompt": "a red fox in the snow"}, headers=key)
        fox_id = fox.json()["id"]
        until(browser, lambda d: status_of(d, fox_id) == "Pending")
        assert poll_to_end(client, fox.json()["polling_url"])["status"] == "Ready"
        until(browser, lambda d: status_of(d, fox_id) == "Ready")
        # The thumbnail's element is kept across snapshots: found once, it stays fresh.
        image = browser.find_element(By.CSS_SELECTOR, f'#tasks tr[data-id="{fox_id}"] img')
        until(browser, lambda d: d.execute_script("return arguments[0].naturalWidth", image))
        assert browser.execute_script("return arguments[0].naturalWidth", image) == 1024
        assert browser.execute_script("return window.notReloaded") is True
        row = row_text(browser, f'#tasks tr[data-id="{fox_id}"]')
        assert "a red fox in the snow" in row and "1024×768 jpeg" in row

        # A refused request stands out, and its detail says why.
        client.post(SUBMIT, json={"prompt": "wide", "width": 1000}, headers=key)
        until(browser, lambda d: clicked(d, "#calls tr.rejected"))
        until(browser, lambda d: d.find_element(By.ID, "detail").get_attribute("open") is not None)
        detail = browser.find_element(By.ID, "detail-body")
        until(browser, lambda d: "Why refused" in detail.text)
        assert "body.width: Input should be a multiple of 32 (multiple_of)" in detail.text
        assert '"width": 1000' in detail.text
        assert "null" not in detail.text.splitlines()[-1]
        screenshot(browser, "dashboard-request-detail")
        browser.find_element(By.ID, "detail-close").click()

        # The scenario edited in place; a bad directive is refused, saying why.
        text = browser.find_element(By.ID, "scenario-text")
        text.clear()
        text.send_keys("teleport")
        browser.find_element(By.ID, "scenario-apply").click()
        message = browser.find_element(By.ID, "scenario-message")
        until(browser, lambda d: message.text.startswith("unknown directive 'teleport'"))
        text.clear()
        text.send_keys("content-moderated=Violence")
        browser.find_element(By.ID, "scenario-apply").click()
        until(browser, lambda d: message.text == "Applied.")
        assert client.get("/_mock/scenario").json()["outcome"] == "CONTENT_MODERATED"
        stormy = client.post(SUBMIT, json={"prompt": "a storm at sea"}, headers=key).json()
        storm = stormy["id"]
        assert poll_to_end(client, stormy["polling_url"])["status"] == "Content Moderated"
        until(browser, lambda d: status_of(d, storm) == "Content Moderated")
        assert "Violence" in row_text(browser, f'#tasks tr[data-id="{storm}"]')
        browser.find_element(By.ID, "scenario-clear").click()
        until(browser, lambda d: message.text == "Cleared.")

        # A webhook delivery and its attempt; a balance.
        hooked = {"prompt": "a lighthouse at dusk", "webhook_url": receiver.url}
        client.post(SUBMIT, json=hooked, headers=key)
        live_mock.wait_for_deliveries(1)
        until(browser, lambda d: "delivered" in d.find_element(By.ID, "webhooks").text)
        live_mock.set_credits(live_mock.api_key, 42)
        until(browser, lambda d: "42" in d.find_element(By.ID, "balances").text)
        screenshot(browser, "dashboard")

        # A capped list says how many there are.
        for _ in range(ROWS):
            client.get(CREDITS, headers=key)
        total = len(live_mock.calls)
        shown = f"showing {ROWS} of {total}"
        until(browser, lambda d: d.find_element(By.ID, "calls-count").text == shown)
        assert len(browser.find_elements(By.CSS_SELECTOR, "#calls tbody tr")) == ROWS

        # The status filter and the search narrow the lists, and say how many matched.
        Select(browser.find_element(By.ID, "status-filter")).select_by_visible_text(
            "Content Moderated"
        )
        until(browser, lambda d: d.find_element(By.ID, "tasks-count").text == "1")
        assert status_of(browser, storm) == "Content Moderated"
        Select(browser.find_element(By.ID, "status-filter")).select_by_value("")
        browser.find_element(By.ID, "search").send_keys("fox")
        until(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#tasks tbody tr")) == 1)
        assert browser.find_element(By.ID, "tasks-count").text == "1"
        assert status_of(browser, fox_id) == "Ready"
        assert browser.execute_script("return window.notReloaded") is True

    # Only the client's own requests are in the journal: none of the page's.
    agents = {call.header("user-agent") for call in live_mock.calls}
    assert agents == {f"python-httpx/{httpx.__version__}"}
