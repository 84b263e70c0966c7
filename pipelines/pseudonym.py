"""Keyed pseudonyms of the young person's i-milo id (warehouse.md, *Personal data*).

HMAC-SHA256(key, structure + ':' + id), hex. ids are 7-digit numbers: anyone who knows the
key reverses every pseudonym in seconds by hashing the ten million candidates. So the key is
never one that can be read in code: it comes from $WAREHOUSE_PSEUDONYM_KEY, or from a key
file made once by `observatoire key create` (owner-only, outside the warehouse and the drop
zone). With neither, a run on real exports refuses, saying how to create one. Only a
structure whose structure.yaml declares `synthetic: true` (the seeded demo) may use the fixed
demo key, and it uses it when no key is set.

Each partition records the key's fingerprint (a keyed hash of a fixed text, never the key):
a run with another key than the one a structure was loaded with is refused unless it reloads
every partition of the structure (docs/operations.md, *The pseudonymisation key*).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipelines.frames import none_where_not

KEY_VARIABLE = "WAREHOUSE_PSEUDONYM_KEY"
KEY_FILE_VARIABLE = "WAREHOUSE_PSEUDONYM_KEY_FILE"
# For the synthetic demo only: public, so it protects nothing.
DEMO_KEY = "observatoire-demo-key-synthetic-data-only"
# Keys published in this repository at some point: refused for real exports.
PUBLIC_KEYS = frozenset({DEMO_KEY, "observatoire-development-key-not-for-real-data"})
MIN_KEY_LENGTH = 16
_FINGERPRINT_TEXT = b"observatoire/key-fingerprint/v1"


def default_key_file() -> Path:
    """Outside the project (so outside the warehouse and the drop zone): the user's config."""
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "observatoire" / "pseudonym.key"


class PseudonymKeyError(Exception):
    """No usable key: the message says what to do (in French, for the operator)."""


@dataclass(frozen=True)
class PseudonymKey:
    secret: bytes
    source: str  # where it came from, for messages (never the key itself)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.secret)


def fingerprint(secret: bytes) -> str:
    """What the warehouse records of a key: 16 hex digits of HMAC(key, fixed text)."""
    return hmac.new(secret, _FINGERPRINT_TEXT, hashlib.sha256).hexdigest()[:16]


def _how_to_create() -> str:
    return (
        f"créez une clé une fois avec `observatoire key create` (écrite dans "
        f"{default_key_file()}, lisible par vous seul), ou exportez {KEY_VARIABLE} "
        f"(au moins {MIN_KEY_LENGTH} caractères aléatoires, jamais dans le dépôt git). "
        f"Gardez-en une copie en lieu sûr : une clé perdue change tous les pseudonymes"
    )


def _read_key_file(path: Path) -> bytes:
    try:
        info = path.stat()
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise PseudonymKeyError(
            f"clé de pseudonymisation illisible ({path} : {exc.strerror}) ; {_how_to_create()}"
        ) from exc
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise PseudonymKeyError(
            f"la clé de pseudonymisation {path} est lisible par d'autres "
            f"utilisateurs que son propriétaire : `chmod 600 {path}`, puis relancez"
        )
    return text.encode("utf-8")


def resolve_key(synthetic: bool = False) -> PseudonymKey:
    """The key for a structure's partition: $WAREHOUSE_PSEUDONYM_KEY, else the key file
    ($WAREHOUSE_PSEUDONYM_KEY_FILE, else `default_key_file()`), else the demo key for
    synthetic data. Raises PseudonymKeyError for real data without a usable key."""
    value = os.environ.get(KEY_VARIABLE, "").strip()
    if value:
        secret, source = value.encode("utf-8"), f"${KEY_VARIABLE}"
    else:
        named = os.environ.get(KEY_FILE_VARIABLE, "").strip()
        path = Path(named) if named else default_key_file()
        if named or path.exists():
            secret, source = _read_key_file(path), str(path)
        elif synthetic:
            return PseudonymKey(DEMO_KEY.encode("utf-8"), "clé de démonstration")
        else:
            raise PseudonymKeyError(
                "aucune clé de pseudonymisation n'est définie ; " + _how_to_create()
            )
    text = secret.decode("utf-8")
    if text in PUBLIC_KEYS and not synthetic:
        raise PseudonymKeyError(
            f"la clé de {source} est publique (écrite dans le code du "
            f"projet) et ne protège rien ; {_how_to_create()}"
        )
    if len(text) < MIN_KEY_LENGTH and not synthetic:
        raise PseudonymKeyError(
            f"la clé de {source} est trop courte ({len(text)} caractères ; "
            f"il en faut au moins {MIN_KEY_LENGTH}, aléatoires) ; " + _how_to_create()
        )
    return PseudonymKey(secret, source)


def create_key_file(path: Path | None = None) -> Path:
    """Write a new random key (256 bits, hex), readable by its owner only; never overwrite."""
    path = path or default_key_file()
    if path.exists():
        raise PseudonymKeyError(
            f"{path} existe déjà : une clé existante n'est jamais remplacée "
            f"(les pseudonymes changeraient) ; voir docs/operations.md pour "
            f"changer de clé"
        )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # O_EXCL: two operators creating a key at once do not overwrite each other's
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_hex(32) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return path


def pseudonymise(
    structure: str, ids: pd.Series, key: bytes, known: dict[object, str] | None = None
) -> pd.Series:
    """Pseudonyms of a column of normalised ids (None stays None), once per distinct id.

    `known` (id -> pseudonym, same structure and key) is filled and reused across calls: a
    partition's six exports name the same young people.
    """
    known = {} if known is None else known
    keyed = hmac.new(key, digestmod=hashlib.sha256)  # the key's pads once; a copy per id
    for i in dict.fromkeys(ids.dropna().tolist()):  # not unique(): it stops at a NUL
        if i not in known:
            h = keyed.copy()
            h.update(f"{structure}:{i}".encode())
            known[i] = h.hexdigest()
    return none_where_not(ids.map(known).astype(object), ids.notna())
