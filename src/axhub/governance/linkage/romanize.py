"""Revised Romanization of Korean (RR, 2000) for personal names and place names, vectorised.

Source: Ministry of Culture and Tourism notice 2000-8, "Romanization of Korean" (National
Institute of Korean Language). The tables below are the RR letter tables (Chapter 2,
Articles 1-2). Names are transcribed syllable by syllable: RR Chapter 3, Article 4 says the
sound changes between syllables of a given name are not transcribed, so no assimilation rules
are applied. A final consonant takes its RR final value (Chapter 2, Article 2, note 2:
ㄱ ㄲ ㅋ → k, ㄷ ㅅ ㅆ ㅈ ㅊ ㅌ ㅎ → t, ㅂ ㅍ → p); a double final takes the value of the
consonant that is pronounced in isolation.

The site-side encoder romanises every name and district with one SQL statement over an Arrow
column (a join against the 11,172-row syllable table), never a Python loop per person.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

# Hangul Syllables block layout (Unicode 15, ch. 3.12): 19 initials x 21 medials x 28 finals.
SYLLABLE_FIRST = 0xAC00
SYLLABLE_COUNT = 11172
_MEDIALS_X_FINALS = 21 * 28

INITIALS = (
    "g", "kk", "n", "d", "tt", "r", "m", "b", "pp", "s", "ss", "", "j", "jj", "ch", "k", "t",
    "p", "h",
)  # fmt: skip
MEDIALS = (
    "a", "ae", "ya", "yae", "eo", "e", "yeo", "ye", "o", "wa", "wae", "oe", "yo", "u", "wo",
    "we", "wi", "yu", "eu", "ui", "i",
)  # fmt: skip
# Finals in Unicode order: none, ㄱ ㄲ ㄳ ㄴ ㄵ ㄶ ㄷ ㄹ ㄺ ㄻ ㄼ ㄽ ㄾ ㄿ
# ㅀ ㅁ ㅂ ㅄ ㅅ ㅆ ㅇ ㅈ ㅊ ㅋ ㅌ ㅍ ㅎ
FINALS = (
    "", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "l", "l", "l", "p", "l", "m", "p",
    "p", "t", "t", "ng", "t", "t", "k", "t", "p", "t",
)  # fmt: skip


def romanize_syllable(ch: str) -> str:
    """RR transcription of one precomposed Hangul syllable; other characters are returned as is."""
    code = ord(ch) - SYLLABLE_FIRST
    if not 0 <= code < SYLLABLE_COUNT:
        return ch
    initial, rest = divmod(code, _MEDIALS_X_FINALS)
    medial, final = divmod(rest, 28)
    return INITIALS[initial] + MEDIALS[medial] + FINALS[final]


def syllable_table() -> pa.Table:
    """The 11,172 Hangul syllables and their RR transcription (built from the letter tables)."""
    chars = [chr(SYLLABLE_FIRST + i) for i in range(SYLLABLE_COUNT)]
    return pa.table({"ch": chars, "roman": [romanize_syllable(c) for c in chars]})


def romanize_text(text: str) -> str:
    """RR transcription of a string (reference implementation, one value)."""
    return "".join(romanize_syllable(c) for c in text)


def romanize(values: pa.Array | pa.ChunkedArray, con: duckdb.DuckDBPyConnection) -> pa.Array:
    """RR transcription of a whole string column in one SQL statement.

    Text is NFC-normalised first (so decomposed jamo sequences become syllables); characters
    that are not Hangul syllables pass through unchanged. Nulls stay null.
    """
    col = pa.table({"rn": pa.array(range(len(values)), pa.int64()), "v": values})
    con.register("_rr_input", col)
    con.register("_rr_syllables", syllable_table())
    try:
        out = con.sql(
            """
            WITH src AS (
                SELECT rn, nfc_normalize(v) AS v FROM _rr_input
            ),
            chars AS (
                SELECT rn, i, substr(v, i, 1) AS ch
                FROM src, range(1, length(v) + 1) AS t(i)
                WHERE v IS NOT NULL
            ),
            joined AS (
                SELECT rn, string_agg(coalesce(s.roman, c.ch), '' ORDER BY i) AS roman
                FROM chars c LEFT JOIN _rr_syllables s USING (ch)
                GROUP BY rn
            )
            SELECT CASE WHEN src.v IS NULL THEN NULL ELSE coalesce(joined.roman, '') END AS r
            FROM src LEFT JOIN joined USING (rn)
            ORDER BY src.rn
            """
        ).to_arrow_table()
    finally:
        con.unregister("_rr_input")
        con.unregister("_rr_syllables")
    return out.column("r").combine_chunks()
