"""Headless Chromium for the browser tests and the README's screenshot: Debian's `chromium`
driven by playwright (never `playwright install`), with the flags ../shared/NOTES.md gives for
these machines, a fresh profile, and the MLflow UI put into its "Model training" mode."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from playwright.sync_api import BrowserContext, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
TIMEOUT_MS = 30_000  # any one navigation or wait


@contextmanager
def chromium(width: int = 1600, height: int = 1000) -> Iterator[BrowserContext]:
    """One headless Chromium with a fresh temporary profile; every wait bounded."""
    with tempfile.TemporaryDirectory(prefix="ui-profile-") as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True,
            viewport={"width": width, "height": height},
        )  # fmt: skip
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


def goto(page, url: str) -> None:
    # `networkidle` never settles on MLflow's UI (a telemetry request stays open): wait for
    # `load`, then for the page's own elements.
    page.goto(url, wait_until="load")


def mlflow_training_mode(context: BrowserContext, url: str) -> None:
    """Put the MLflow UI at `url` (an experiment's runs page) in "Model training" mode (a fresh
    profile opens in GenAI mode) with the assistant panel closed; the choice lives in the
    profile, so it holds for later pages."""
    page = context.new_page()
    goto(page, url)
    page.get_by_text("Model training", exact=True).click()
    expect(page.get_by_role("link", name="Runs", exact=True)).to_be_visible(timeout=TIMEOUT_MS)
    # Cosmetic: the assistant opens by itself on a first visit and covers a quarter of the page.
    close = page.locator('[data-component-id="mlflow.assistant.chat_panel.close"]')
    with suppress(PlaywrightTimeout):
        close.click(timeout=5_000)
    page.close()
