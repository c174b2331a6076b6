"""The team page in a real headless Chromium, against the real services in both modes: a team
manager signs in with a reader token and sees the clocks and figures the query API gives for
the team, the at-risk projection of the worked case, and nothing axe-core calls serious; a board
token sees the figures and no child; without a token, a sign-in form."""

from __future__ import annotations

import re
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Page

from tests.e2e.conftest import System, post_and_apply
from tests.support import credentials as authed
from tests.support.browser import chromium, keep_screenshot, serious_violations
from tests.support.history import assessments_in_february

pytestmark = [pytest.mark.infra, pytest.mark.e2e]

TEAM = "North Assessment"  # teams of the built-in council file
OTHER = "South Assessment"


def post_worked_case(system: System) -> int:
    return post_and_apply(system, assessments_in_february(TEAM, OTHER))


def sign_in(page: Page, url: str, token: str) -> None:
    page.goto(url)
    assert page.title().startswith("Sign in")
    page.get_by_label("Reader token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def rows(page: Page, table: str) -> list[dict[str, str]]:
    """Each row's data- attributes and its data-field cells' text."""
    found: list[dict[str, str]] = page.eval_on_selector_all(
        f"table#{table} tbody tr[data-kpi]",
        "rows => rows.map(r => ({...r.dataset, ...Object.fromEntries("
        "[...r.querySelectorAll('[data-field]')].map(c => [c.dataset.field, c.innerText.trim()])"
        ")}))",
    )
    return found


def test_a_team_manager_sees_the_api_figures_their_open_work_and_what_is_at_risk(
    casetime_system: System,
) -> None:
    system = casetime_system
    post_worked_case(system)
    url = f"{system.kpi.url}/teams/{quote(TEAM)}"
    clocks_api = authed.get(f"{system.kpi.url}/open-clocks", params={"team": TEAM}).json()
    kpis_api = authed.get(f"{system.kpi.url}/kpis", params={"team": TEAM}).json()

    # without a token: the sign-in form, and no child anywhere
    anonymous = httpx.get(url)
    assert anonymous.status_code == 401
    assert "C1" not in anonymous.text
    assert 'name="token"' in anonymous.text
    # a token casetime does not know signs nobody in
    bogus = httpx.post(
        f"{system.kpi.url}/session",
        data={"token": "ct_rd_000000000000_" + "x" * 43, "next": "/teams"},
        follow_redirects=False,
    )
    assert bogus.status_code == 401
    assert "set-cookie" not in bogus.headers
    assert "cannot sign in" in bogus.text

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(page, url, system.credentials.reader)
        assert page.title() == f"{TEAM} · casetime"

        # every open clock the API lists for the team, most urgent first, and no other team's
        shown = rows(page, "clocks")
        listed = clocks_api["clocks"]
        assert {(r["kpi"], r["child"], r["state"]) for r in shown} == {
            (c["kpi"], c["child_id"], c["state"]) for c in listed
        }
        urgency = {"overdue": 0, "due_soon": 1, "on_track": 2}
        order = [(urgency[r["state"]], r["kpi"]) for r in shown]
        assert [u for u, _ in order] == sorted(u for u, _ in order)
        assert "S1" not in {r["child"] for r in shown}
        c1 = next(r for r in shown if r["child"] == "C1" and r["kpi"] == "ASMT-45WD")
        assert c1["day"] == "day 62 of 45 working days"
        assert c1["due"] == "22 January 2025 (23 days ago)"

        # the figures are /kpis' for the team, this month (or as at today)
        api_rows = {
            (v["kpi"], v["period"]): v
            for v in kpis_api["values"]
            if v["period"] in ("month", "as_at")
        }
        figures = rows(page, "figures")
        assert figures, "no figures on the page"
        for row in figures:
            api = api_rows[(row["kpi"], row["period"])]
            assert row["counts"] == f"{api['numerator']} of {api['denominator']}"
            assert row["rag"].startswith(api["rag"])
        assert len(figures) == len(api_rows)

        # the worked case: 2 of 3 in time now; B1 and B2 due by the 28th; C1 late already
        risk = page.locator('.risk[data-kpi="ASMT-45WD"]')
        assert risk.locator('[data-field="now"]').inner_text() == "66.7% (2 of 3)"
        assert risk.locator('[data-field="if_met"]').inner_text() == "80.0% (4 of 5)"
        assert risk.locator('[data-field="if_missed"]').inner_text() == "40.0% (2 of 5)"
        assert "1 already overdue" in risk.inner_text()

        # drill-down: the figure links to its own rows
        page.get_by_role("link", name="ASMT-45WD", exact=True).first.click()
        page.wait_for_load_state()
        assert {r["kpi"] for r in rows(page, "clocks")} == {"ASMT-45WD"}
        assert page.locator("table#breaches").count() == 1
        assert "A3" in page.locator("table#breaches").inner_text()

        page.goto(url)
        assert serious_violations(page) == []
        shot = keep_screenshot(page, f"team-page-{system.mode}.png")
        page.set_viewport_size({"width": 390, "height": 844})  # a phone
        assert serious_violations(page) == []
        keep_screenshot(page, f"team-page-phone-{system.mode}.png")
        page.set_viewport_size({"width": 1280, "height": 900})
        print(f"\n[team page] screenshots kept: {shot}")

        # keyboard: the first Tab reaches the skip link, which leads to the content
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to the content"

        # a board token: the figures, and no child-level row
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_load_state()
        sign_in(page, url, system.credentials.board)
        assert rows(page, "figures")
        assert page.locator("table#clocks").count() == 0
        assert re.search(r"figures only", page.content())
        assert "C1" not in page.content()
