"""PKCE verifier and challenge, and the state parameter."""

import base64
import hashlib
import re

import pytest

from pixir.auth import pkce


def test_pkce_verifier_and_s256_challenge():
    pair = pkce.make_pkce()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43,128}", pair.verifier)
    assert "=" not in pair.verifier + pair.challenge
    digest = hashlib.sha256(pair.verifier.encode()).digest()
    assert pair.challenge == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert pair.verifier not in repr(pair)
    assert pkce.make_pkce().verifier != pair.verifier


@pytest.mark.parametrize("nbytes", [32, 48, 64])
def test_pkce_verifier_is_base64url_of_32_to_64_bytes(nbytes):
    verifier = pkce.make_pkce(nbytes).verifier
    assert len(base64.urlsafe_b64decode(verifier + "=" * (-len(verifier) % 4))) == nbytes


@pytest.mark.parametrize("nbytes", [31, 65])
def test_pkce_refuses_other_sizes(nbytes):
    with pytest.raises(ValueError):
        pkce.make_pkce(nbytes)


def test_state_is_random_and_url_safe():
    states = {pkce.make_state() for _ in range(20)}
    assert len(states) == 20
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{40,}", s) for s in states)
