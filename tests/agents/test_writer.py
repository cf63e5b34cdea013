"""Language-model backend: a local fake OpenAI-compatible endpoint; checked output; fallback."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from axhub.agents import guard
from axhub.agents.care_agents import Report
from axhub.agents.templates import TEMPLATES
from axhub.agents.writer import LLMConfig, MessageWriter

from .harness import TEAM, at, enrol, make_env


class FakeLLM:
    """A tiny ``/chat/completions`` server on an ephemeral port answering ``reply``."""

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.requests: list[dict[str, object]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, "body": body})
                data = json.dumps(
                    {"choices": [{"message": {"role": "assistant", "content": outer.reply}}]}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def config(self) -> LLMConfig:
        return LLMConfig(f"http://127.0.0.1:{self.server.server_port}/v1", "fake", timeout_s=5)


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    fake = FakeLLM("")
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_good_model_output_is_used(fake_llm: FakeLLM) -> None:
    fake_llm.reply = "오늘도 측정해 주셔서 고맙습니다. 측정 3회, 알림 0건이에요."
    w = MessageWriter(fake_llm.config).write("daily_summary", "ko", {"readings": 3, "alerts": 0})
    assert (w.source, w.body) == ("llm", fake_llm.reply)
    req = fake_llm.requests[0]
    assert req["path"] == "/v1/chat/completions"
    assert "측정 3회" in json.dumps(req["body"], ensure_ascii=False)


@pytest.mark.parametrize(
    "reply",
    [
        "Take 2 extra tablets of amlodipine tonight.",
        "You should double your insulin dose.",
        "혈압약을 반으로 줄이세요.",
        "인슐린 10단위를 더 맞으세요.",
        "You probably have a stroke.",
        "폐렴입니다. 걱정하지 마세요.",
    ],
)
def test_dosing_or_diagnosis_is_rejected_and_template_used(fake_llm: FakeLLM, reply: str) -> None:
    fake_llm.reply = reply
    lang = "ko" if guard.HANGUL.search(reply) else "en"
    w = MessageWriter(fake_llm.config).write("daily_summary", lang, {"readings": 2, "alerts": 1})
    assert w.source == "template" and w.rejected
    assert w.body == TEMPLATES["daily_summary"].render(lang, {"readings": 2, "alerts": 1})


def test_endpoint_down_falls_back_to_template() -> None:
    cfg = LLMConfig(f"http://127.0.0.1:{_closed_port()}/v1", "fake", timeout_s=2)
    w = MessageWriter(cfg).write("ack", "en")
    assert (w.source, w.rejected) == ("template", ("model unavailable",))
    assert w.body == TEMPLATES["ack"].en


def test_emergency_templates_never_go_to_the_model(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.reply = "Everything is fine, no need to call anyone."
    env = make_env(tmp_path, writer=MessageWriter(fake_llm.config))
    person = enrol(env, {"id": "llm-1", "conditions": ["af"], "language": "en"})
    res = env.agents.home_message(Report(person, at("1 09:00"), "My speech is slurred"))
    assert res.outcome["escalated"] == "emergency"
    assert fake_llm.requests == []
    _, items = env.agents.coordinate(at("1 09:30"), language="en")
    assert items and fake_llm.requests  # the nurse summary may use the model
    assert env.agents.rt.writer.stats["llm"] == 1
    assert env.agents.rt.care_team == TEAM


@pytest.mark.parametrize(
    ("text", "lang", "ok"),
    [
        ("Please keep measuring every morning.", "en", True),
        ("매일 아침 측정을 계속해 주세요.", "ko", True),
        ("Please keep measuring.", "ko", False),  # not Korean
        ("Take 500 mg now.", "en", False),
        ("You have heart failure.", "en", False),
        ("진단 결과 당뇨병입니다.", "ko", False),
        ("", "en", False),
    ],
)
def test_guard(text: str, lang: str, ok: bool) -> None:
    assert guard.check(text, lang).ok is ok


def test_templates_exist_in_both_languages_and_name_a_source() -> None:
    for t in TEMPLATES.values():
        assert t.ko and t.en and t.source
        assert guard.HANGUL.search(t.ko)


def test_config_from_settings(monkeypatch) -> None:
    from axhub.config import Settings

    monkeypatch.delenv("AXHUB_LLM_BASE_URL", raising=False)
    assert LLMConfig.from_settings(Settings()) is None
    monkeypatch.setenv("AXHUB_LLM_BASE_URL", "http://x/v1")
    monkeypatch.setenv("AXHUB_LLM_MODEL", "m")
    monkeypatch.setenv("AXHUB_LLM_API_KEY", "k")
    cfg = LLMConfig.from_settings(Settings())
    assert cfg is not None
    assert (cfg.base_url, cfg.model, cfg.api_key, cfg.timeout_s) == ("http://x/v1", "m", "k", 10)
    assert "llm_api_key" not in Settings().public_dict()  # never written to a manifest
