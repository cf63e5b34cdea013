"""Dashboard pages in-process: sign-in, region chart, worklist decisions, patient, cohort."""

from __future__ import annotations

import re

from .conftest import sign_in


def test_pages_need_sign_in(web) -> None:
    resp = web.get("/web/worklist", follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"].startswith("/web/signin")


def test_bad_token_is_refused(web) -> None:
    resp = web.post("/web/signin", data={"token": "axh_wrong"}, follow_redirects=False)
    assert resp.status_code == 303 and "signin" in resp.headers["location"]
    assert "axhub_token" not in web.cookies


def test_region_page_draws_25_districts(web, demo) -> None:
    sign_in(web, demo.seed.tokens["analyst"])
    html = web.get("/web/region?indicator=diabetes").text
    chart = html.split('id="district-chart"')[1].split("</svg>")[0]
    assert chart.count("<text") >= 25 * 2
    assert "동(도시)" in html and "읍·면" in html
    assert not re.search(r">\s*[1-9]\s*/", html)  # no small count rendered as numerator


def test_worklist_approve_through_the_page(web, demo) -> None:
    sign_in(web, demo.seed.tokens["care-manager"])
    html = web.get("/web/worklist").text
    ids = re.findall(r'id="approval-(\d+)"', html)
    assert ids, "the seeded agent proposal is waiting"
    resp = web.post(f"/web/approvals/{ids[0]}", data={"decision": "approved", "reason": ""})
    assert resp.status_code == 200 and 'id="decided"' in resp.text
    assert f'id="approval-{ids[0]}"' not in resp.text


def test_patient_page_has_three_trend_charts(web, demo) -> None:
    sign_in(web, demo.seed.tokens["care-manager"])
    pid = demo.seed.enrolled["north-1"][0]
    html = web.get(f"/web/patients/{pid}").text
    trends = html.split('id="trends"')[1].split("</section>")[0]
    assert trends.count("<svg") == 6 and "<polyline" in trends
    assert trends.count('id="trend-') == 3
    assert 'id="medsafety"' in html and 'id="careplan"' in html


def test_researcher_never_reaches_a_patient_page(web, demo) -> None:
    sign_in(web, demo.seed.tokens["researcher"])
    pid = demo.seed.enrolled["north-1"][0]
    resp = web.get(f"/web/patients/{pid}")
    assert resp.status_code == 403 and pid not in resp.text.split('id="error"')[0][-200:]


def test_language_switch(web, demo) -> None:
    sign_in(web, demo.seed.tokens["researcher"])
    assert "코호트 구성" in web.get("/web/cohort").text
    web.get("/web/lang/en?next=/web/cohort")
    html = web.get("/web/cohort").text
    assert "Cohort builder" in html and "코호트 구성" not in html


def test_cohort_page_counts(web, demo) -> None:
    sign_in(web, demo.seed.tokens["researcher"])
    html = web.post("/web/cohort", data={"age_min": "50", "conditions": ["hypertension"]}).text
    total = re.search(r'id="cohort-total".*?</b>: ([^<]+)</p>', html, re.S)
    assert total and total.group(1).strip()


def test_worklist_alert_actions(web, demo) -> None:
    sign_in(web, demo.seed.tokens["care-manager"])
    rows = re.findall(r'action="/web/alerts/(\d+)"', web.get("/web/worklist").text)
    assert rows
    first = rows[-1]
    html = web.post(f"/web/alerts/{first}", data={"action": "acknowledge"}).text
    assert "확인됨" in html or "acknowledged" in html
    html = web.post(f"/web/alerts/{first}", data={"action": "resolve"}).text
    assert f'action="/web/alerts/{first}"' not in html
    sign_in(web, demo.seed.tokens["care-worker-south"])
    other = web.post(f"/web/alerts/{rows[0]}", data={"action": "resolve"})
    assert other.status_code == 404
