"""PKCE S256 pairs and `state` values for the browser login (docs/auth.md, RFC 7636)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Pkce:
    verifier: str = field(repr=False)  # the secret half: sent only to the token endpoint
    challenge: str


def b64url(data: bytes) -> str:
    """base64url without padding, as PKCE and JWTs use it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def challenge_for(verifier: str) -> str:
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def make_pkce(nbytes: int = 64) -> Pkce:
    """A fresh verifier (base64url of 32–64 random bytes) and its S256 challenge."""
    if not 32 <= nbytes <= 64:
        raise ValueError("PKCE verifiers are made of 32 to 64 random bytes")
    verifier = b64url(secrets.token_bytes(nbytes))
    return Pkce(verifier, challenge_for(verifier))


def make_state() -> str:
    """An unguessable `state` that ties the callback to this login attempt."""
    return b64url(secrets.token_bytes(32))
