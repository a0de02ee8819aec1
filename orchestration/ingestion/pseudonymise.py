"""Keyed pseudonyms for case reference numbers (docs/contract.md, Personal data)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable


def person_id(crn: str, key: str) -> str:
    """HMAC-SHA256 of the upper-case CRN (UTF-8) under the key, as lower-case hex.

    The same key always gives the same id, so a person links across files and months, while
    nobody without the key can turn an id back into a CRN.
    """
    return hmac.new(key.encode("utf-8"), crn.upper().encode("utf-8"), hashlib.sha256).hexdigest()


def person_ids(crns: Iterable[str], key: str) -> dict[str, str]:
    """Pseudonyms for distinct CRNs: hash each once, not once per row."""
    key_bytes = key.encode("utf-8")
    out: dict[str, str] = {}
    for crn in crns:
        if crn not in out:
            out[crn] = hmac.new(
                key_bytes, crn.upper().encode("utf-8"), hashlib.sha256
            ).hexdigest()
    return out
