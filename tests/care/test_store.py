"""The operational store on SQLite and PostgreSQL: migrations, enrolments, persistence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from axhub.care.models import AgentRun, Alert, Approval, Reading
from axhub.care.store import HEAD_REVISION, CareStore, database_url
from axhub.config import Settings
from axhub.errors import ConfigError, InputError, NotFoundError


def test_open_runs_migrations_to_head(store: CareStore) -> None:
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == (
            HEAD_REVISION
        )


def test_reopen_is_idempotent_and_keeps_data(store: CareStore) -> None:
    store.enrol("p-1", care_team="team-a", conditions=["hf"])
    again = CareStore.from_url(store.engine.url.render_as_string(hide_password=False))
    try:
        assert again.enrolment("p-1").conditions == ("hf",)
    finally:
        again.close()


def test_enrol_merges_personal_thresholds_over_cited_defaults(store: CareStore) -> None:
    view = store.enrol("p-1", care_team="team-a", thresholds_={"bp_home_sys": 140})
    assert view.thresholds["bp_home_sys"] == 140
    assert view.thresholds["bp_home_dia"] == 85  # KSH default
    assert view.personal == {"bp_home_sys": 140}
    assert [e.person_id for e in store.enrolments("team-a")] == ["p-1"]
    assert store.enrolments("team-b") == []


def test_threshold_changes_keep_provenance(store: CareStore) -> None:
    store.enrol("p-1", care_team="team-a", by="nurse-kim")
    store.set_thresholds("p-1", {"glucose_low": 80}, by="nurse-lee", reason="elderly, lives alone")
    store.set_thresholds("p-1", {"glucose_low": None}, by="dr-park")
    hist = [(c.key, c.old_value, c.new_value, c.changed_by) for c in store.threshold_history("p-1")]
    assert hist == [
        ("glucose_low", None, 80.0, "nurse-lee"),
        ("glucose_low", 80.0, None, "dr-park"),
    ]


def test_unknown_person_is_not_found(store: CareStore) -> None:
    with pytest.raises(NotFoundError):
        store.set_thresholds("nobody", {"glucose_low": 75}, by="x")


def test_times_round_trip_as_utc(store: CareStore) -> None:
    kst = datetime(2026, 11, 25, 21, 30, tzinfo=UTC) + timedelta(hours=9)
    with store.session() as s:
        s.add(
            Reading(reading_id="x", person_id="p", kind="weight", value=1, unit="kg",
                    norm_value=1, norm_unit="kg", effective_at=kst,
                    effective_s=int(kst.timestamp()), received_at=kst, source="test",
                    content_hash="h")
        )  # fmt: skip
    with store.session() as s:
        row = s.scalars(select(Reading)).one()
        assert row.effective_at == kst and row.effective_at.tzinfo is not None


def test_one_open_alert_per_dedup_key(store: CareStore) -> None:
    def alert(status: str) -> Alert:
        return Alert(person_id="p", care_team="t", rule_id="spo2.low", severity="warning",
                     status=status, dedup_key="p|spo2.low")  # fmt: skip

    with store.session() as s:
        s.add(alert("resolved"))
        s.add(alert("open"))
    with pytest.raises(IntegrityError), store.session() as s:
        s.add(alert("acknowledged"))


def test_pending_approvals_survive_a_restart(store: CareStore) -> None:
    with store.session() as s:
        run = AgentRun(agent="home-care", person_id="p-1", trigger="reading r-1")
        s.add(run)
        s.flush()
        action = {"type": "medication_change"}
        s.add(Approval(agent_run_id=run.id, person_id="p-1", action_class="clinical",
                       action=action, rationale="BP above target"))  # fmt: skip
    store.close()
    again = CareStore.from_url(store.engine.url.render_as_string(hide_password=False))
    with again.session() as s:
        pending = s.scalars(select(Approval).where(Approval.status == "pending")).all()
        assert [p.action["type"] for p in pending] == ["medication_change"]
    again.close()


def test_bad_enrolment_input_names_the_field(store: CareStore) -> None:
    with pytest.raises(InputError) as e:
        store.enrol("p-1", care_team="t", conditions=["copdd"])
    assert e.value.field == "conditions" and "copd" in str(e.value)
    with pytest.raises(InputError) as e:
        store.enrol("p-1", care_team="t", schedule={"bp": 0})
    assert e.value.field == "schedule.bp"
    with pytest.raises(InputError) as e:
        store.enrol("p-1", care_team="t", timezone="Mars/Olympus")
    assert e.value.field == "timezone"


def test_default_url_is_sqlite_in_data_dir(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = database_url(Settings(data_dir=tmp_path))
    assert url == f"sqlite:///{(tmp_path / 'care.sqlite').resolve()}"
    assert database_url(Settings(data_dir=tmp_path, care_db_url="postgresql+pg8000://h/db")) == (
        "postgresql+pg8000://h/db"
    )


def test_unsupported_backend_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        CareStore.from_url("mysql://localhost/x")
    with pytest.raises(ConfigError):
        CareStore.from_url("not a url")
