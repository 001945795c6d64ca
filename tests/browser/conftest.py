"""Browser tests: Playwright driving Debian's Chromium against a real stack (api + worker
subprocesses, SQLite, Redis), with axe-core checking WCAG 2.0 A and AA on every page.

Screenshots of each state land in artifacts/screenshots/ for a person to look at.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from support.stack import ROOT, Stack

CHROMIUM = "/usr/bin/chromium"
AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
WIDE, NARROW = (1280, 900), (375, 740)

# Records what the page's CSP refused (an inline script or style would show up here).
_CSP_WATCH = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline'));
});
"""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack.running("sqlite", "redis", tmp_path_factory.mktemp("browser-stack")) as s:
        yield s


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/test.sh (ensure_chromium)")
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run scripts/test.sh (ensure_axe)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield chromium
        finally:
            chromium.close()


NewPage = Callable[..., Page]


@pytest.fixture
def new_page(browser: Browser) -> Iterator[NewPage]:
    """`new_page(size=WIDE, js=True, scale=1)`: a page in a fresh context (no cookies)."""
    contexts: list[BrowserContext] = []

    def make(size: tuple[int, int] = WIDE, *, js: bool = True, scale: float = 1) -> Page:
        context = browser.new_context(
            viewport={"width": size[0], "height": size[1]},
            java_script_enabled=js,
            device_scale_factor=scale,
            locale="en-GB",
        )
        context.set_default_timeout(15_000)
        if js:
            context.add_init_script(script=_CSP_WATCH)
            # An init script runs outside the page's CSP, which forbids injected scripts.
            context.add_init_script(path=str(AXE))
        contexts.append(context)
        page = context.new_page()
        page.on("dialog", lambda dialog: pytest.fail(f"unexpected dialog: {dialog.message}"))
        return page

    yield make
    for context in contexts:
        context.close()


def shoot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def axe_violations(page: Page) -> list[dict[str, Any]]:
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {
                runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']},
                resultTypes: ['violations'],
            });
            return r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(' ') + ' :: ' + n.failureSummary),
            }));
        }"""
    )
    return list(result)


def assert_accessible(page: Page, name: str) -> None:
    """No WCAG 2.0 A/AA violation per axe-core, no CSP refusal; saves a screenshot."""
    shoot(page, name)
    violations = axe_violations(page)
    assert violations == [], f"{name}: " + json.dumps(violations, indent=2)
    refused = page.evaluate("() => window.__cspViolations")
    assert refused == [], f"{name}: CSP refused {refused}"


def no_horizontal_scroll(page: Page) -> bool:
    return bool(
        page.evaluate(
            "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
    )


@pytest.fixture
def accessible() -> Callable[[Page, str], None]:
    return assert_accessible


@pytest.fixture
def screenshot() -> Callable[[Page, str], Path]:
    return shoot


@pytest.fixture
def fits() -> Callable[[Page], bool]:
    return no_horizontal_scroll
