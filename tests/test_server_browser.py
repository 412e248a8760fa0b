"""The cashier page in a real browser (the system's chromium, driven by Playwright), JavaScript off:
open a ``paymentUrl``, pay; a decline; a cancel with the keyboard. Each case saves a screenshot."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tradepay import Host, HostSettings, MemoryLedger
from tradepay.testing import Outcome, ReferenceProvider

sys.path.insert(0, str(Path(__file__).parent))  # pytest's importlib mode: the kit by its plain name
if TYPE_CHECKING:  # mypy knows this folder as the package `tests`
    from tests import server_kit as kit
else:
    import server_kit as kit

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (.ci/run installs it)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where the screenshots go: ``$TRADEPAY_SCREENSHOTS`` when set, else the test's own folder."""
    folder = Path(os.environ.get("TRADEPAY_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shop(tmp_path: Path, script: list[Outcome]) -> tuple[kit.LiveServer, ReferenceProvider]:
    """A live server (not started) whose cashier URL is its own."""
    port = kit.free_port()
    cashier = f"http://127.0.0.1:{port}/cashier"
    provider = ReferenceProvider(script=script)
    host = Host.from_providers(
        {"reference": provider},
        host=HostSettings(data_dir=tmp_path / "data", cashier_url=cashier),
        ledger=MemoryLedger(cashier_url=cashier),
    )
    return kit.LiveServer(kit.make_app(host), port), provider


def order_url(server: kit.LiveServer) -> str:
    """The paymentUrl of a new order of alice's, created over the server's socket as a merchant does."""
    answer = kit.http_post(server.url, "/v1/orders/create", kit.order_fields())
    return str(answer.json()["paymentUrl"])


def open_page(browser: Any, url: str) -> Any:
    context = browser.new_context(java_script_enabled=False)  # the page must work without it
    page = context.new_page()
    page.goto(url)
    return page


def sign_in_and_pay(page: Any) -> None:
    page.get_by_label("Your sign-in token").fill(kit.bearer("alice")["Authorization"].removeprefix("Bearer "))
    page.get_by_role("button", name="Pay USD 12.50").click()


def test_paying_in_the_browser(browser: Any, tmp_path: Path, screenshots: Path) -> None:
    server, provider = shop(tmp_path, [])
    with server:
        page = open_page(browser, order_url(server))
        assert page.locator("#merchant").inner_text() == "shop-1"
        assert page.locator("#amount").inner_text() == "USD 12.50"
        assert page.locator("#currency").inner_text() == "USD"
        page.screenshot(path=str(screenshots / "cashier-order.png"), full_page=True)
        sign_in_and_pay(page)
        outcome = page.get_by_role("status")
        assert outcome.get_by_role("heading").inner_text() == "Payment successful"
        page.screenshot(path=str(screenshots / "cashier-paid.png"), full_page=True)
    assert provider.charged == 1250


def test_a_decline_in_the_browser(browser: Any, tmp_path: Path, screenshots: Path) -> None:
    server, provider = shop(tmp_path, [Outcome.INSUFFICIENT])
    with server:
        page = open_page(browser, order_url(server))
        sign_in_and_pay(page)
        outcome = page.get_by_role("status")
        assert outcome.get_by_role("heading").inner_text() == "Payment declined"
        assert "USER_BALANCE_NOT_ENOUGH" in outcome.inner_text()
        page.screenshot(path=str(screenshots / "cashier-declined.png"), full_page=True)
    assert provider.charged == 0


def test_a_cancel_with_the_keyboard(browser: Any, tmp_path: Path, screenshots: Path) -> None:
    server, provider = shop(tmp_path, [])
    with server:
        page = open_page(browser, order_url(server))
        # Tab through the form as a keyboard user does: the token field, Pay, then Cancel.
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "token"
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Cancel"
        page.keyboard.press("Enter")
        outcome = page.get_by_role("status")
        assert outcome.get_by_role("heading").inner_text() == "Payment cancelled"
        page.screenshot(path=str(screenshots / "cashier-cancelled.png"), full_page=True)
    assert provider.charged == 0
