"""Who writes patient messages and summaries: the templates, optionally a language model.

The default writer renders the Korean/English templates.  With an :class:`LLMConfig` (any
OpenAI-compatible ``/chat/completions`` endpoint: vLLM, Ollama, llama.cpp ``llama-server``),
the model may rephrase templates marked ``llm_ok`` and write the nurse's daily summary; its
output goes through :func:`axhub.agents.guard.check` and the template is used whenever the
model is down, slow, or writes something that fails the check.  The model never decides an
action: the planner is deterministic (decision record 0112).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from axhub.agents import guard
from axhub.agents.templates import template
from axhub.config import Settings

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You rewrite short messages for people monitored at home by a community care team. "
    "Keep the meaning of the approved text exactly. Never give medicine doses or tell the "
    "person to change a medicine. Never name a diagnosis. Answer with the message only, in "
    "{language_name}, at most three sentences."
)
LANGUAGE_NAMES = {"ko": "Korean", "en": "English"}


@dataclass(frozen=True)
class LLMConfig:
    """An OpenAI-compatible endpoint; from the ``llm_*`` settings (``AXHUB_LLM_*``)."""

    base_url: str
    model: str
    api_key: str = ""
    timeout_s: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> LLMConfig | None:
        """The configured endpoint, or None when ``llm_base_url`` is empty (templates only)."""
        url = settings.llm_base_url.strip()
        if not url:
            return None
        return cls(
            base_url=url,
            model=settings.llm_model,
            api_key=settings.llm_api_key.get_secret_value(),
            timeout_s=settings.llm_timeout,
        )


@dataclass(frozen=True)
class Written:
    body: str
    language: str
    source: str  # template | llm
    template_id: str
    rejected: tuple[str, ...] = ()


@dataclass
class MessageWriter:
    """Renders templates; with ``llm`` set, lets the model rephrase and checks its output."""

    llm: LLMConfig | None = None
    stats: dict[str, int] = field(default_factory=lambda: {"llm": 0, "fallback": 0})

    def write(
        self, template_id: str, language: str, params: Mapping[str, object] | None = None
    ) -> Written:
        tpl = template(template_id)
        text = tpl.render(language, dict(params or {}))
        if self.llm is None or not tpl.llm_ok:
            return Written(text, language, "template", template_id)
        return self._via_llm(text, language, template_id)

    def summary(self, facts: str, fallback: str, language: str) -> Written:
        """A nurse-facing summary of ``facts``; ``fallback`` when the model fails."""
        if self.llm is None:
            return Written(fallback, language, "template", "summary")
        return self._via_llm(fallback, language, "summary", facts=facts)

    def _via_llm(self, approved: str, language: str, tid: str, facts: str = "") -> Written:
        assert self.llm is not None
        user = f"Approved text:\n{approved}"
        if facts:
            user += f"\n\nFacts (pseudonymous, no names):\n{facts}"
        try:
            out = complete(
                self.llm, SYSTEM_PROMPT.format(language_name=LANGUAGE_NAMES[language]), user
            )
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            log.warning("language model unavailable (%s): template used", type(exc).__name__)
            self.stats["fallback"] += 1
            return Written(approved, language, "template", tid, ("model unavailable",))
        verdict = guard.check(out, language)
        if not verdict.ok:
            log.warning(
                "language model output rejected (%s): template used", ", ".join(verdict.reasons)
            )
            self.stats["fallback"] += 1
            return Written(approved, language, "template", tid, verdict.reasons)
        self.stats["llm"] += 1
        return Written(out.strip(), language, "llm", tid)


def complete(cfg: LLMConfig, system: str, user: str) -> str:
    """One chat completion from an OpenAI-compatible endpoint (temperature 0)."""
    headers = {"Authorization": f"Bearer {cfg.api_key}"} if cfg.api_key else {}
    resp = httpx.post(
        cfg.base_url.rstrip("/") + "/chat/completions",
        json={
            "model": cfg.model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ],
        },
        headers=headers,
        timeout=cfg.timeout_s,
    )
    resp.raise_for_status()
    content = resp.json()["choices"][0]["message"]["content"]
    if not isinstance(content, str):
        raise ValueError("completion content is not text")
    return content
