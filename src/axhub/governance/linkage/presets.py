"""Agreed encoding parameters (public: every site and the linkage unit may read them).

Weights (k per field) and blocking keys were chosen on FEBRL4 and on the synthetic region;
the measured quality of each preset is in docs/linkage.md. In the region, names come from
small vocabularies and are shared by many people, so birth date, phone and district carry
more weight than the name. The region preset is salted with the birth year instead of
balanced: on a 20,000-person region balancing cost F1 (0.966 vs 0.984, decision 0062), while
salting both hardens and separates namesakes born in different years.
"""

from __future__ import annotations

from axhub.governance.linkage.bloom import EncodingConfig, FieldSpec
from axhub.governance.linkage.matching import LinkConfig

REGION_ENCODING = EncodingConfig(
    fields=(
        FieldSpec("name", 8),
        FieldSpec("given", 1),
        FieldSpec("birth_date", 12, "positional"),
        FieldSpec("sex", 4, "whole"),
        FieldSpec("phone", 6, "positional"),
        FieldSpec("district", 12, "whole"),
    ),
    length=1024,
    hardening=(),
    salt_column="birth_year",
    blocking=(
        ("birth_date",),
        ("name", "birth_year"),
        ("name", "district"),
        ("phone",),
        ("given", "birth_date:6"),
        ("family", "birth_date:6", "district"),
    ),
)
REGION_LINK = LinkConfig(threshold=0.76)

FEBRL_ENCODING = EncodingConfig(
    fields=(
        FieldSpec("given_name", 8),
        FieldSpec("surname", 8),
        FieldSpec("street_number", 3, "positional"),
        FieldSpec("address_1", 5),
        FieldSpec("address_2", 4),
        FieldSpec("suburb", 5),
        FieldSpec("postcode", 3, "positional"),
        FieldSpec("state", 2, "whole"),
        FieldSpec("date_of_birth", 5, "positional"),
    ),
    length=1024,
    hardening=("balance",),
    blocking=(
        ("date_of_birth",),
        ("given_name", "surname"),
        ("surname", "date_of_birth:4"),
        ("given_name", "date_of_birth:4"),
        ("postcode", "street_number"),
        ("surname", "postcode"),
        ("given_name", "postcode"),
        ("address_1", "postcode"),
        ("given_name:3", "surname:3"),
        ("surname", "suburb"),
        ("date_of_birth:6", "postcode"),
        ("given_name", "address_1"),
    ),
)
FEBRL_LINK = LinkConfig(threshold=0.70)
