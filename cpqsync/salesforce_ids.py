"""Salesforce record ids: the 15-character case-sensitive form and the 18-character case-safe form.

The 18-character suffix encodes, for each 5-character chunk of the 15-character id, which
characters are upper case; Salesforce tools compare ids case-insensitively only because of it.
Ordering is another matter: ids order by their case-sensitive body (``ORDER BY Id`` and
``Id > '…'`` paging rely on it), so comparisons must never fold case on ids.

Pure, beneath the settings, the SOQL evaluator and the Salesforce clients that all use it.
"""

from __future__ import annotations

import re

_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID15 = re.compile(r"[a-zA-Z0-9]{15}")
_ID18 = re.compile(r"[a-zA-Z0-9]{18}")


def case_safe_suffix(id15: str) -> str:
    """The three characters that turn a 15-character id into its 18-character form."""
    out = []
    for chunk_start in range(0, 15, 5):
        bits = 0
        for i, ch in enumerate(id15[chunk_start : chunk_start + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        out.append(_SUFFIX_ALPHABET[bits])
    return "".join(out)


def to_18(id15: str) -> str:
    return id15 + case_safe_suffix(id15)


def normalize_id(value: str) -> str | None:
    """The canonical 18-character id for a 15- or 18-character input, or None if malformed.

    An 18-character id's suffix restores the case of its first 15 characters, so a lower-cased
    18-character id (as some tools produce) still names the same record.
    """
    if _ID15.fullmatch(value):
        return to_18(value)
    if not _ID18.fullmatch(value):
        return None
    body, suffix = value[:15], value[15:].upper()
    restored = []
    for chunk, code in enumerate(suffix):
        bits = _SUFFIX_ALPHABET.find(code)
        if bits < 0:
            return None
        for i, ch in enumerate(body[chunk * 5 : chunk * 5 + 5]):
            restored.append(ch.upper() if bits & (1 << i) else ch.lower())
    canonical = "".join(restored)
    if case_safe_suffix(canonical) != suffix:
        return None  # e.g. a digit where the suffix says an upper-case letter stands
    return canonical + suffix


def id_sort_key(value: str) -> str | None:
    """The case-sensitive body that orders ``value`` among ids, if it is an 18-character id.

    Only the 18-character form is recognised: its checksum makes a false match with
    ordinary text vanishingly rare, while any 15-letter word would pass as a 15-character id.
    """
    if len(value) != 18:
        return None
    canonical = normalize_id(value)
    return canonical[:15] if canonical else None
