"""The ``changedFields``/``nulledFields``/``diffFields`` bitmap strings of a change event header.

Salesforce's rules: element 0 is ``0x`` followed by a big-endian hex integer whose bit *i*
(least significant = 0) marks top-level schema field *i* (field 0 is the header), and it covers
non-compound fields only; every further element ``N-0xHH`` marks the sub-fields of the compound
field at top-level index N (bit *j* = field *j* of its record). Hex digits are upper-case and of
even length. An empty set of fields is an empty list.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def _hex(bits: Iterable[int]) -> str:
    value = 0
    for bit in bits:
        if bit < 0:
            raise ValueError(f"bit index must not be negative, got {bit}")
        value |= 1 << bit
    digits = f"{value:X}"
    if len(digits) % 2:
        digits = "0" + digits
    return "0x" + digits


def encode_bitmap(top_level: Iterable[int], nested: Mapping[int, Iterable[int]]) -> list[str]:
    """Encode top-level field indexes and ``{compound index: sub-field indexes}``."""
    top = set(top_level)
    parts = {index: set(subs) for index, subs in nested.items() if subs}
    if not top and not parts:
        return []
    out = [_hex(top)]
    out.extend(f"{index}-{_hex(parts[index])}" for index in sorted(parts))
    return out
