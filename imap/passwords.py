"""Password hashing with scrypt; only hashes are stored."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

_N, _R, _P = 2**14, 8, 1
_PREFIX = "scrypt"


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$hash`` with URL-safe base64 fields."""
    if not isinstance(password, str):
        raise TypeError("password must be a str")
    salt = os.urandom(16) if salt is None else salt
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P)
    return "$".join([_PREFIX, str(_N), str(_R), str(_P), _b64(salt), _b64(digest)])


def is_hashed(value: str) -> bool:
    return value.startswith(_PREFIX + "$") and value.count("$") == 5


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of ``password`` against a stored hash."""
    if not is_hashed(stored):
        return False
    _, n, r, p, salt, digest = stored.split("$")
    candidate = hashlib.scrypt(
        password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p)
    )
    return hmac.compare_digest(candidate, _unb64(digest))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
