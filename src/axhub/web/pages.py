"""Dashboard pages under ``/web/``: sign-in, region, worklist, patient, cohort builder.

Pages call the same hub services as the API (``axhub.api.hub``, ``person``, ``care_ops``)
with the caller taken from the sign-in cookie, so every page read is decided and audited at
the governance boundary exactly like an API call. Charts are server-side SVG.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from axhub.api import care_ops, person
from axhub.api.auth import Caller, describe, resolve_caller
from axhub.api.hub import Hub, indicators, kcd_groups
from axhub.errors import AxhubError
from axhub.governance.purposes import Purpose
from axhub.web import charts
from axhub.web.i18n import DEFAULT_LANGUAGE, LANGUAGES, t

HERE = Path(__file__).resolve().parent
COOKIE_TOKEN, COOKIE_PURPOSE, COOKIE_LANG = "axhub_token", "axhub_purpose", "axhub_lang"
templates = Jinja2Templates(directory=str(HERE / "templates"))


def lang_of(request: Request) -> str:
    lang = request.cookies.get(COOKIE_LANG, DEFAULT_LANGUAGE)
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def _hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def _caller(request: Request) -> Caller:
    return resolve_caller(
        _hub(request).tokens,
        request.cookies.get(COOKIE_TOKEN),
        request.cookies.get(COOKIE_PURPOSE) or None,
    )


def page(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    lang = lang_of(request)
    me = None
    try:
        me = describe(_caller(request))
    except AxhubError:
        me = None
    return templates.TemplateResponse(
        request,
        name,
        {"lang": lang, "t": lambda key: t(key, lang), "me": me, "path": request.url.path, **ctx},
        status_code=status,
    )


def render_error(request: Request, status: int, kind: str, message: str) -> Response:
    if status == 401:
        return RedirectResponse(f"/web/signin?next={quote(request.url.path)}", status_code=303)
    return page(request, "error.html", status=status, status_code=status, kind=kind,
                message=message)  # fmt: skip


def _series(rows: list[dict[str, Any]], key: str, value: str = "value") -> list[charts.Point]:
    return charts.points([(str(r["at"]), r.get(value)) for r in rows if r.get("kind") == key])


def router() -> APIRouter:
    r = APIRouter(prefix="/web", include_in_schema=False)

    @r.get("/", response_class=HTMLResponse)
    def home(request: Request) -> Response:
        caller = _caller(request)
        role = caller.principal.role.value
        target = {
            "care_manager": "/web/worklist", "care_worker": "/web/worklist",
            "agent": "/web/worklist", "researcher": "/web/cohort",
        }.get(role, "/web/region")  # fmt: skip
        return RedirectResponse(target, status_code=303)

    @r.get("/signin", response_class=HTMLResponse)
    def signin_form(request: Request, next: str = "/web/") -> Response:
        return page(request, "signin.html", next=next, purposes=[p.value for p in Purpose])

    @r.post("/signin")
    def signin(
        request: Request,
        token: Annotated[str, Form(max_length=200)],
        purpose: Annotated[str, Form(max_length=40)] = "",
        next: Annotated[str, Form(max_length=200)] = "/web/",
    ) -> Response:
        resolve_caller(_hub(request).tokens, token.strip(), purpose or None)
        target = next if next.startswith("/web/") else "/web/"
        resp = RedirectResponse(target, status_code=303)
        opts: dict[str, Any] = {"httponly": True, "samesite": "strict", "path": "/"}
        resp.set_cookie(COOKIE_TOKEN, token.strip(), **opts)
        if purpose:
            resp.set_cookie(COOKIE_PURPOSE, purpose, **opts)
        else:
            resp.delete_cookie(COOKIE_PURPOSE, path="/")
        return resp

    @r.post("/signout")
    def signout() -> Response:
        resp = RedirectResponse("/web/signin", status_code=303)
        resp.delete_cookie(COOKIE_TOKEN, path="/")
        resp.delete_cookie(COOKIE_PURPOSE, path="/")
        return resp

    @r.get("/lang/{lang}")
    def language(lang: str, next: str = "/web/") -> Response:
        target = next if next.startswith("/web/") else "/web/"
        resp = RedirectResponse(target, status_code=303)
        if lang in LANGUAGES:
            resp.set_cookie(COOKIE_LANG, lang, samesite="lax", path="/")
        return resp

    @r.get("/region", response_class=HTMLResponse)
    def region(request: Request, indicator: str = "hypertension") -> Response:
        caller = _caller(request)
        lang = lang_of(request)
        data = _hub(request).district_indicator(caller, indicator)
        name = "district" if lang == "ko" else "district_en"
        bars = [
            charts.Bar(
                d[name],
                d["rate"],
                t("region.suppressed", lang) if d["rate"] is None
                else f"{d['rate']:.1%} ({d['numerator']:,}/{d['denominator']:,})",
                d["kind"] if d["kind"] == "dong" else "eup_myeon",
            )
            for d in data["districts"]
        ]  # fmt: skip
        areas = [
            charts.Bar(
                t(f"region.{a}", lang), v["rate"],
                t("region.suppressed", lang) if v["rate"] is None else f"{v['rate']:.1%}", a,
            )
            for a, v in data["areas"].items()
        ]  # fmt: skip
        return page(
            request, "region.html", data=data, indicators=list(indicators().values()),
            chart=charts.bar_chart(bars, title=data["label"][lang]),
            area_chart=charts.bar_chart(areas, title=t("region.area_compare", lang)),
        )  # fmt: skip

    @r.get("/worklist", response_class=HTMLResponse)
    def worklist(request: Request, decided: int | None = None) -> Response:
        data = care_ops.worklist(_hub(request), _caller(request))
        return page(request, "worklist.html", data=data, decided=decided)

    @r.post("/approvals/{approval_id}")
    def decide(
        request: Request,
        approval_id: int,
        decision: Annotated[str, Form(max_length=20)],
        reason: Annotated[str, Form(max_length=1000)] = "",
    ) -> Response:
        care_ops.decide_approval(_hub(request), _caller(request), approval_id, decision, reason)
        return RedirectResponse(f"/web/worklist?decided={approval_id}", status_code=303)

    @r.post("/alerts/{alert_id}")
    def alert(
        request: Request,
        alert_id: int,
        action: Annotated[str, Form(max_length=20)],
        reason: Annotated[str, Form(max_length=500)] = "",
    ) -> Response:
        minutes = 60.0 if action == "snooze" else 0.0
        why = reason or "from the worklist page"
        care_ops.alert_action(
            _hub(request), _caller(request), alert_id, action, minutes=minutes, reason=why
        )
        return RedirectResponse("/web/worklist", status_code=303)

    @r.get("/patients/{person_id}", response_class=HTMLResponse)
    def patient(request: Request, person_id: str) -> Response:
        hub, caller, lang = _hub(request), _caller(request), lang_of(request)
        chart = person.summary(hub, caller, person_id)
        scores = person.scores(hub, caller, person_id)
        safety = person.medsafety(hub, caller, person_id)
        home, clinic = chart["readings"], chart["clinic_trends"]
        hl, cl = t("patient.home", lang), t("patient.clinic", lang)

        def clinic_points(series: str) -> list[charts.Point]:
            return charts.points([(str(c["at"]), c["value"]) for c in clinic
                                  if c["series"] == series])  # fmt: skip

        trends = {
            "bp": (
                charts.line_chart({"SBP": _series(home, "bp"),
                                   "DBP": _series(home, "bp", "value2")},
                                  title=f"{t('patient.bp', lang)} · {hl}"),
                charts.line_chart({"SBP": clinic_points("sbp"), "DBP": clinic_points("dbp")},
                                  title=f"{t('patient.bp', lang)} · {cl}"),
            ),
            "glucose": (
                charts.line_chart({hl: _series(home, "glucose")},
                                  title=f"{t('patient.glucose', lang)} · {hl}"),
                charts.line_chart({cl: clinic_points("glucose")},
                                  title=f"{t('patient.glucose', lang)} · {cl}"),
            ),
            "weight": (
                charts.line_chart({hl: _series(home, "weight")},
                                  title=f"{t('patient.weight', lang)} · {hl}"),
                charts.line_chart({cl: clinic_points("weight")},
                                  title=f"{t('patient.weight', lang)} · {cl}"),
            ),
        }  # fmt: skip
        return page(request, "patient.html", chart=chart, scores=scores, safety=safety,
                    trends=trends)  # fmt: skip

    @r.get("/cohort", response_class=HTMLResponse)
    def cohort_form(request: Request) -> Response:
        _caller(request)
        return page(request, "cohort.html", groups=kcd_groups(), result=None, form={})

    @r.post("/cohort", response_class=HTMLResponse)
    def cohort(
        request: Request,
        age_min: Annotated[str, Form()] = "",
        age_max: Annotated[str, Form()] = "",
        sex: Annotated[str, Form()] = "",
        area: Annotated[str, Form()] = "",
        conditions: Annotated[list[str] | None, Form()] = None,
    ) -> Response:
        from axhub.api.app import CohortCriteria

        criteria = CohortCriteria.model_validate({
            "age_min": age_min or None, "age_max": age_max or None, "sex": sex or None,
            "area": area or None, "conditions": conditions or [],
        })  # fmt: skip
        result = _hub(request).cohort_counts(_caller(request), criteria.model_dump())
        lang = lang_of(request)
        name = "district" if lang == "ko" else "district_en"
        bars = [
            charts.Bar(d[name], d["count"], t("region.suppressed", lang) if d["count"] is None
                       else f"{d['count']:,}", d["kind"] if d["kind"] == "dong" else "eup_myeon")
            for d in sorted(result["districts"], key=lambda d: -(d["count"] or 0))
        ]  # fmt: skip
        return page(request, "cohort.html", groups=kcd_groups(), result=result,
                    form=criteria.model_dump(), chart=charts.bar_chart(bars))  # fmt: skip

    return r


def mount(app: FastAPI) -> None:
    """Add the dashboard pages, its static files and its error pages to ``app``."""
    app.mount("/web/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(router())
    app.state.render_error = render_error

    @app.get("/", include_in_schema=False)
    def root() -> Response:
        return RedirectResponse("/web/", status_code=303)
