"""Privacy-preserving record linkage across sites (hardened Bloom-filter CLKs).

Site side: ``normalise`` FHIR Patients, then ``encode(table, secret, config)``.
Linkage unit: ``link(encodings_by_site, config) -> (site, record_id, person_id)``.
Quality: ``evaluate(links, truth) -> LinkageQuality``. See docs/linkage.md.
"""

from axhub.governance.linkage.bloom import EncodingConfig, FieldSpec, encode, key_id
from axhub.governance.linkage.evaluation import LinkageQuality, evaluate
from axhub.governance.linkage.identifiers import (
    normalise,
    patients_from_ndjson,
    patients_from_raw_zone,
)
from axhub.governance.linkage.matching import LinkConfig, link, match
from axhub.governance.linkage.presets import (
    FEBRL_ENCODING,
    FEBRL_LINK,
    REGION_ENCODING,
    REGION_LINK,
)

__all__ = [
    "FEBRL_ENCODING",
    "FEBRL_LINK",
    "REGION_ENCODING",
    "REGION_LINK",
    "EncodingConfig",
    "FieldSpec",
    "LinkConfig",
    "LinkageQuality",
    "encode",
    "evaluate",
    "key_id",
    "link",
    "match",
    "normalise",
    "patients_from_ndjson",
    "patients_from_raw_zone",
]
