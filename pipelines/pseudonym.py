"""Keyed pseudonyms of the young person's i-milo id (warehouse.md, *Personal data*).

HMAC-SHA256(key, structure + ':' + id), hex. The key comes from $WAREHOUSE_PSEUDONYM_KEY,
never from the repository; without it a development key is used and the run says so.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os

import pandas as pd

KEY_VARIABLE = "WAREHOUSE_PSEUDONYM_KEY"
DEVELOPMENT_KEY = "observatoire-development-key-not-for-real-data"

log = logging.getLogger(__name__)


def pseudonym_key() -> tuple[bytes, bool]:
    """The key, and whether it is the development key."""
    key = os.environ.get(KEY_VARIABLE)
    if key:
        return key.encode("utf-8"), False
    return DEVELOPMENT_KEY.encode("utf-8"), True


def pseudonymise(structure: str, ids: pd.Series, key: bytes | None = None,
                 known: dict[object, str] | None = None) -> pd.Series:
    """Pseudonyms of a column of normalised ids (None stays None), once per distinct id.

    `known` (id -> pseudonym, same structure and key) is filled and reused across calls: a
    partition's six exports name the same young people.
    """
    if key is None:
        key, _ = pseudonym_key()
    known = {} if known is None else known
    keyed = hmac.new(key, digestmod=hashlib.sha256)  # the key's pads once; a copy per id
    for i in dict.fromkeys(ids.dropna().tolist()):  # not unique(): it stops at a NUL
        if i not in known:
            h = keyed.copy()
            h.update(f"{structure}:{i}".encode())
            known[i] = h.hexdigest()
    return ids.map(known).astype(object).where(ids.notna(), None)
