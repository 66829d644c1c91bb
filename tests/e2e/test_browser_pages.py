"""What a person sees in a real browser (headless Chromium): landing, payment and recovery pages."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from tests.support.databases import migrated_sqlite_copy
from tests.support.external import require_programs
from tests.support.fake_polar import fake_polar
from tests.support.keys import AgentKey
from tests.support.server import ServerProcess, SharedServers

pytestmark = pytest.mark.slow

LOG_DEADLINE_SECONDS = 20.0


@pytest.fixture
def sqlite_server(shared_servers: SharedServers) -> ServerProcess:
    return shared_servers.get("sqlite", {"BUILD_NUMBER": "b-42"})


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    require_programs("chromium", "chromedriver")
    options = webdriver.ChromeOptions()
    options.binary_location = str(shutil.which("chromium"))
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1200,1400",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(shutil.which("chromedriver"))), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def screenshot(browser: WebDriver, directory: Path, name: str) -> Path:
    path = directory / f"{name}.png"
    assert browser.save_screenshot(str(path))
    assert path.stat().st_size > 1000
    print(f"screenshot: {path}")
    return path


def until_shown(browser: WebDriver, shown: Callable[[WebDriver], bool]) -> None:
    """Waits for the page a click leads to. While the old page is replaced, the driver may answer with
    errors about elements of the document that is going; those mean "not yet"."""
    WebDriverWait(browser, timeout=30, ignored_exceptions=(WebDriverException,)).until(shown)


def visible_text(browser: WebDriver) -> str:
    return str(browser.find_element(By.TAG_NAME, "body").text)


def test_a_person_sees_the_landing_page_with_the_quick_start(
    sqlite_server: ServerProcess, browser: WebDriver, tmp_path: Path
) -> None:
    browser.get(f"{sqlite_server.base_url}/")

    assert browser.title == "Mail Service: private inboxes for AI agents"
    heading = browser.find_element(By.TAG_NAME, "h1")
    assert heading.is_displayed()
    assert heading.text == "A private mailbox, bound to your agent's key."
    text = visible_text(browser)
    assert "Build b-42" in text
    assert "Quick start for an agent" in text
    assert f"{sqlite_server.base_url}/v1/mailboxes/claim" in text
    screenshot(browser, tmp_path, "landing")

    browser.find_element(By.LINK_TEXT, "Agent guide").click()
    until_shown(browser, lambda shown: "# Agent guide" in visible_text(shown))


def test_a_person_who_opens_the_payment_link_sees_the_payment_received(
    sqlite_server: ServerProcess, browser: WebDriver, tmp_path: Path
) -> None:
    claimed = claim(sqlite_server)

    browser.get(claimed["payment_url"])

    assert browser.find_element(By.TAG_NAME, "h1").text == "Payment received"
    assert claimed["email"] in visible_text(browser)
    screenshot(browser, tmp_path, "mock-payment")
    browser.get(f"{sqlite_server.base_url}/mock/pay/mock_unknown")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Payment not found"


def test_a_person_returning_from_polar_sees_whether_the_payment_went_through(
    browser: WebDriver, tmp_path: Path
) -> None:
    with fake_polar(lambda: datetime.now(UTC)) as polar:
        polar_env = {
            "POLAR_TOKEN": "polar_oat_browser",
            "POLAR_PRODUCT_ID": "prod_browser",
            "POLAR_SERVER_URL": polar.url,
            "POLAR_WEBHOOK_SECRET": "polar_whs_browser",
        }
        server = ServerProcess(tmp_path, migrated_sqlite_copy(tmp_path / "data"), polar_env)
        server.start()
        try:
            claimed = claim(server)
            [checkout_id] = polar.checkouts
            success_page = f"{server.base_url}/v1/payments/polar/success?checkout_id={checkout_id}"

            browser.get(success_page)
            assert browser.find_element(By.TAG_NAME, "h1").text == "Payment not complete yet"
            assert "status: open" in visible_text(browser)
            screenshot(browser, tmp_path, "polar-waiting")

            polar.set_status(checkout_id, "succeeded")
            browser.refresh()
            assert browser.find_element(By.TAG_NAME, "h1").text == "Payment received"
            assert claimed["email"] in visible_text(browser)
            screenshot(browser, tmp_path, "polar-paid")

            browser.get(f"{server.base_url}/v1/payments/polar/success?checkout_id=unknown-checkout")
            assert browser.find_element(By.TAG_NAME, "h1").text == "Payment not found"
        finally:
            server.kill()


def test_a_person_recovers_an_account_by_confirming_on_the_linked_page(
    sqlite_server: ServerProcess, browser: WebDriver, tmp_path: Path
) -> None:
    base = sqlite_server.base_url
    owner = "owner@example.com"
    assert httpx.post(f"{base}/v1/accounts", json={"owner_email": owner}).status_code == 201
    assert httpx.post(f"{base}/v1/accounts/recovery/start", json={"owner_email": owner}).status_code == 202
    link = recovery_link(sqlite_server)

    browser.get(link)
    browser.get(link)  # a second look (or a mail scanner's) spends nothing
    assert browser.find_element(By.TAG_NAME, "h1").text == "Recover your account"
    screenshot(browser, tmp_path, "recovery-confirm")
    browser.find_element(By.ID, "confirm").click()

    until_shown(
        browser, expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Account recovered")
    )
    api_token = browser.find_element(By.ID, "api-token").text
    screenshot(browser, tmp_path, "recovery-done")
    listing = httpx.get(f"{base}/v1/mailboxes", headers={"X-API-Token": api_token})
    assert listing.status_code == 200
    browser.get(link)
    assert browser.find_element(By.TAG_NAME, "h1").text == "This recovery link is not valid"


def claim(server: ServerProcess) -> dict[str, str]:
    key = AgentKey.generate()
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        challenge = http.post("/v1/auth/challenge", json={"public_key": key.public_line}).json()["challenge"]
        body = {
            "billing_email": "b@example.com",
            "edproof": key.public_line,
            "challenge": challenge,
            "signature": key.sign(challenge),
        }
        response = http.post("/v1/mailboxes/claim", json=body)
    assert response.status_code == 201, response.text
    claimed: dict[str, str] = response.json()
    return claimed


def recovery_link(server: ServerProcess) -> str:
    """The log notifier writes the e-mail to the server's log; the link is read from there."""
    pattern = re.compile(rf"{re.escape(server.base_url)}/v1/accounts/recovery/complete\?token=\S+")
    deadline = time.monotonic() + LOG_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        found = pattern.search(server.log())
        if found:
            return found.group(0)
        time.sleep(0.1)
    raise AssertionError(f"no recovery link in the log:\n{server.log()}")
