"""Cold-start recovery, cited controls and precision, as reported by the bench."""

from __future__ import annotations

from axhub.medsafety.evaluation import evaluate
from axhub.medsafety.knowledge import Knowledge


def test_cold_start_recovers_most_major_interactions(kb: Knowledge) -> None:
    report = evaluate(kb).as_dict()
    major = report["recall_major_or_contraindicated"]
    assert major["of"] >= 100
    assert major["rate"] >= 0.8, report["missed_major"]


def test_controls_never_alert_and_precision_is_reported(kb: Knowledge) -> None:
    report = evaluate(kb).as_dict()
    assert report["controls"]["n"] >= 8 and report["controls"]["alerts"] == 0
    prec = report["precision_by_predicted_severity"]
    assert set(prec) == {"minor", "moderate", "major"}
    assert all(v["alerts_on_labelled"] >= v["true"] for v in prec.values())
