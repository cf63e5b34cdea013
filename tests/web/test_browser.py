"""The dashboard in Debian's Chromium (Playwright): sign in, worklist, approve, patient, language.

Screenshots go to ``test-artifacts/browser/``. Under ``CI=true`` a missing Chromium or
Playwright fails the run; elsewhere the tests are skipped with the reason.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright not installed (pip install playwright; never `playwright install`)"
    return None


@pytest.fixture(scope="module")
def base_url(demo) -> Iterator[str]:
    reason = _missing()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests need Chromium and Playwright under CI: {reason}")
        pytest.skip(f"BROWSER TESTS SKIPPED: {reason}")
    import uvicorn

    from axhub.api.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(demo.settings), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser(base_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page, base_url: str, token: str) -> None:
    page.goto(f"{base_url}/web/signin")
    page.fill("#token", token)
    page.click("#signin-submit")
    page.wait_for_load_state()


def test_care_manager_flow(browser, base_url, demo) -> None:
    from axhub.care.models import Approval
    from axhub.care.store import CareStore

    pid = demo.seed.enrolled["north-1"][1]
    store = CareStore.open(demo.settings)
    with store.session() as s:
        a = Approval(person_id=pid, action_class="message", rationale="browser-test rationale",
                     action={"summary": "Send a reminder to measure BP"})  # fmt: skip
        s.add(a)
        s.flush()
        approval_id = a.id
    store.close()

    page = browser.new_page()
    sign_in(page, base_url, demo.seed.tokens["care-manager"])
    assert page.url.endswith("/web/worklist")
    assert page.inner_text("#me") == "demo-cm-kim"
    shot(page, "01-worklist-ko")
    card = page.locator(f"#approval-{approval_id}")
    assert "browser-test rationale" in card.inner_text()
    card.locator("button.approve").click()
    page.wait_for_load_state()
    assert page.locator("#decided").is_visible()
    assert page.locator(f"#approval-{approval_id}").count() == 0
    shot(page, "02-approved")

    page.locator("a.patient-link").first.click()
    page.wait_for_load_state()
    assert "/web/patients/" in page.url
    assert page.locator("#trends svg").count() == 6
    assert page.locator("#trend-bp polyline").count() >= 2
    assert page.locator("#trends polyline").count() >= 1
    shot(page, "03-patient-ko")

    assert "혈압" in page.inner_text("#trends")
    page.click("#lang-switch")
    page.wait_for_load_state()
    assert "Blood pressure" in page.inner_text("#trends")
    assert page.locator("html").get_attribute("lang") == "en"
    shot(page, "04-patient-en")
    page.click("#lang-switch")  # back to Korean for the other tests' pages
    page.close()


def test_researcher_is_stopped_at_patient_pages(browser, base_url, demo) -> None:
    page = browser.new_page()
    sign_in(page, base_url, demo.seed.tokens["researcher"])
    assert page.url.endswith("/web/cohort")
    page.check("input[value=hypertension]")
    page.click("#cohort-submit")
    page.wait_for_load_state()
    assert page.locator("#cohort-total").is_visible()
    shot(page, "05-cohort")
    resp = page.goto(f"{base_url}/web/patients/{demo.seed.enrolled['north-1'][0]}")
    assert resp is not None and resp.status == 403
    assert page.locator("#error").is_visible()
    shot(page, "06-researcher-denied")
    page.close()


def test_region_page_chart(browser, base_url, demo) -> None:
    page = browser.new_page()
    sign_in(page, base_url, demo.seed.tokens["analyst"])
    assert page.url.endswith("/web/region")
    assert page.locator("#district-chart svg rect").count() == 25
    page.select_option("#indicator", "htn_untreated")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "indicator=htn_untreated" in page.url
    shot(page, "07-region")
    page.close()
