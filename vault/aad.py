"""Associated data that binds a ciphertext to its place: site, record and field."""

from __future__ import annotations


def bind(*parts: str) -> bytes:
    """Length-prefix each part so ("ab", "c") and ("a", "bc") never bind the same."""
    out = bytearray()
    for part in parts:
        raw = part.encode()
        out += len(raw).to_bytes(4, "big") + raw
    return bytes(out)


def field_aad(kind: str, site_id: str, record_id: str, field: str) -> bytes:
    return bind(kind, site_id, record_id, field)
