"""The console in Debian's Chromium (never a downloaded browser), for the end-to-end tests:
one browser per module, pages that collect script errors, screenshots, accounts, signing in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from support.vigil import Vigil, wait_for
from vigil.accounts.store import Accounts
from vigil.storage.database import connect, migrate

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "console"
PASSWORD = "console test passphrase"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Debian's Chromium, never a downloaded one.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


def new_page(browser: Browser, width: int = 1280) -> tuple[Page, list[str]]:
    """A page, and the errors its scripts report: the console must not break silently."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Refused requests are logged by the browser as errors too; those are expected (401 before
    # signing in), so only what the scripts themselves report counts.
    page.on(
        "console",
        lambda m: (
            m.type == "error" and not m.text.startswith("Failed to load") and errors.append(m.text)
        ),
    )
    return page, errors


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def add_accounts(vigil: Vigil, accounts: dict[str, list[str]]) -> None:
    engine = connect(vigil.config.database_url())
    migrate(engine)
    store = Accounts(engine)
    for name, roles in accounts.items():
        store.add(name, PASSWORD, roles)
    engine.dispose()


def console(vigil: Vigil) -> str:
    """The console's address once the API answers."""
    url = f"http://127.0.0.1:{vigil.config.api.port}/"

    def healthy() -> bool:
        try:
            return httpx.get(f"{url}healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for("the console to answer", healthy, 60)
    return url


def sign_in(page: Page, url: str, name: str, password: str) -> None:
    page.goto(url)
    form = page.locator("form#signin")
    form.locator("input[name=name]").fill(name)
    form.locator("input[name=password]").fill(password)
    form.locator("button[type=submit]").click()
