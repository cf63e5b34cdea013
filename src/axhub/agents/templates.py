"""Korean and English message templates: what patients and care teams read.

Each template names the guidance it follows.  The emergency templates are never rewritten by
a language model (``llm_ok=False``); the others may be, and fall back to this text when the
model's output fails the checks in :mod:`axhub.agents.guard`.
"""

from __future__ import annotations

from dataclasses import dataclass

from axhub.errors import InputError, NotFoundError

LANGUAGES = ("ko", "en")


@dataclass(frozen=True)
class Template:
    id: str
    ko: str
    en: str
    source: str
    llm_ok: bool = True

    def render(self, language: str, params: dict[str, object] | None = None) -> str:
        if language not in LANGUAGES:
            raise InputError("unsupported message language", field="language", reason=language)
        text = self.ko if language == "ko" else self.en
        try:
            return text.format(**(params or {}))
        except KeyError as exc:
            raise InputError(
                f"template {self.id} needs parameter {exc.args[0]!r}", field="params"
            ) from None


_T = (
    Template(
        "call_119",
        "응급 진료가 필요할 수 있는 상태입니다. 지금 119에 전화하세요. 돌봄팀에도 알렸습니다.",
        "Your reading may need emergency care. Call 119 now. Your care team has been told.",
        "ACCAHA2025 hypertensive emergency; ADA6 level 3; NEWS2 Chart 4 (>= 7 emergency)",
        llm_ok=False,
    ),
    Template(
        "stroke_119",
        "뇌졸중 증상일 수 있습니다. 지금 바로 119에 전화하고, 증상이 시작된 시간(마지막으로 "
        "괜찮았던 시간)을 알려 주세요. 돌봄팀에도 알렸습니다.",
        "These may be signs of a stroke. Call 119 now and tell them when the symptoms started "
        "(the last time you were known to be well). Your care team has been told.",
        "BE-FAST (Aroor et al., Stroke 2017;48:479-481); last-known-well time for stroke care",
        llm_ok=False,
    ),
    Template(
        "urgent_contact",
        "최근 측정값 때문에 돌봄팀이 몇 시간 안에 연락드릴 예정입니다. 상태가 나빠지면 119에 "
        "전화하세요.",
        "Your care team will contact you within a few hours about your latest reading. If you "
        "feel worse, call 119.",
        "NEWS2 Chart 4 (urgent review); reference §3 (urgent = clinical contact within hours)",
        llm_ok=False,
    ),
    Template(
        "remeasure_bp",
        "혈압이 매우 높게 측정되었습니다. 5분 동안 편안히 앉아 쉬신 뒤 다시 측정해 주세요.",
        "Your blood pressure reading was very high. Sit quietly for 5 minutes and measure again.",
        "REF_3 (confirm a severe home reading by a repeat measurement); ACCAHA2025",
    ),
    Template(
        "hypo_check",
        "혈당이 낮습니다. 돌봄팀이 알려 드린 저혈당 대처 방법을 따르고 15분 뒤 다시 측정해 주세요.",
        "Your blood sugar is low. Follow the low-sugar plan your care team gave you and check "
        "again in 15 minutes.",
        "ADA6 (treat and re-check after 15 minutes)",
        llm_ok=False,
    ),
    Template(
        "same_day_review",
        "간호사가 오늘 중으로 측정값을 확인하겠습니다.",
        "A nurse will review your reading today.",
        "care.md alert severities (warning = same-day review)",
    ),
    Template(
        "info_trend",
        "이번 주 측정값이 목표보다 높습니다. 꾸준히 측정해 주시면 다음 방문 때 간호사가 함께 "
        "살펴보겠습니다.",
        "Your readings this week are above your target. Please keep measuring; your nurse will "
        "look at them with you at the next visit.",
        "KSH / ESH2023 home BP; care.md (info = next routine contact)",
    ),
    Template(
        "device_check",
        "기기에서 측정값이 들어오지 않고 있습니다. 기기가 켜져 있는지 확인하시고 가능할 때 "
        "측정해 주세요.",
        "We have not received readings from your device. Please check that it is switched on "
        "and measure when you can.",
        "REF_2_7 (missing-data alerts)",
    ),
    Template(
        "measure_reminder",
        "오늘 예정된 측정을 잊지 말아 주세요.",
        "Please remember today's scheduled measurement.",
        "REF_2_7 (§3.7 pattern: one miss -> reminder)",
    ),
    Template(
        "medication_reminder",
        "처방받은 약을 잊지 말고 드세요. 궁금한 점이 있으면 돌봄팀에 연락해 주세요.",
        "Please remember to take your medicines as prescribed. If you are unsure, contact your "
        "care team.",
        "reference §3.7 (one missed dose -> patient reminder)",
    ),
    Template(
        "dose_request",
        "말씀 감사합니다. 약에 대한 질문은 의료진이 검토할 예정입니다. 연락을 받기 전까지는 "
        "복용 방법을 바꾸지 마세요.",
        "Thank you. A clinician will review your question about your medicine. Please keep "
        "taking it as prescribed until they contact you.",
        "issue 7 §5 (clinical changes are never autonomous)",
        llm_ok=False,
    ),
    Template(
        "televisit",
        "돌봄팀이 {hours}시간 안에 화상 진료 일정을 잡아 연락드리겠습니다.",
        "Your care team will arrange a video visit with you within {hours} hours.",
        "issue 7 §5 (schedule: autonomous, care team notified)",
    ),
    Template(
        "daily_summary",
        "오늘 요약: 측정 {readings}회, 확인 중인 알림 {alerts}건. 측정해 주셔서 감사합니다.",
        "Today's summary: {readings} readings, {alerts} open alerts. Thank you for measuring.",
        "DESIGN (daily summary for the person)",
    ),
    Template(
        "ack",
        "메시지 감사합니다. 돌봄팀이 확인하겠습니다.",
        "Thank you for your message. Your care team will read it.",
        "DESIGN",
    ),
    Template(
        "escalation_kept",
        "괜찮으시다니 다행입니다. 다만 안전을 위해 돌봄팀 연락은 그대로 진행됩니다.",
        "We are glad you feel fine. For your safety, your care team will still contact you.",
        "reference §3 (symptoms escalate regardless); issue 7 §7",
        llm_ok=False,
    ),
)

TEMPLATES: dict[str, Template] = {t.id: t for t in _T}


def template(template_id: str) -> Template:
    try:
        return TEMPLATES[template_id]
    except KeyError:
        import difflib

        near = difflib.get_close_matches(template_id, list(TEMPLATES), n=3)
        raise NotFoundError(
            f"no message template {template_id!r}", suggestions=near, field="template"
        ) from None
