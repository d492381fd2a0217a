"""PKCE pairs and reading the account out of ChatGPT's JWTs (SPEC §3.2, §3.4)."""

import base64
import hashlib
import re

import pytest

from pixir.auth import claims, pkce
from tests.unit.auth.tokens import AUTH_CLAIM, PROFILE_CLAIM, access_token, b64, make_jwt


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


def test_account_from_the_access_token():
    facts = claims.account(access_token("acct-9", "pro", "me@example.com", exp=1234))
    assert facts == claims.Account("acct-9", "pro", "me@example.com", 1234.0)


def test_account_id_and_plan_fall_back_to_the_id_token():
    access = make_jwt({"exp": 5})
    ident = make_jwt({AUTH_CLAIM: {"chatgpt_account_id": "from-id", "chatgpt_plan_type": "team"}})
    facts = claims.account(access, ident)
    assert (facts.account_id, facts.plan, facts.expires) == ("from-id", "team", 5.0)


def test_email_top_level_or_profile_claim():
    assert claims.account(make_jwt({"email": "top@x"})).email == "top@x"
    assert claims.account(make_jwt({PROFILE_CLAIM: {"email": "p@x"}})).email == "p@x"


BODY = '{{"email":"{email}","{claim}":{{"chatgpt_account_id":"a"}}}}'


@pytest.mark.parametrize("extra", range(6))
def test_payloads_whose_base64_needs_padding_decode(extra):
    # JWT segments drop base64 padding; a decoder that does not re-add it fails on two
    # lengths out of three. Cover every remainder.
    body = BODY.format(email="x" * extra, claim=AUTH_CLAIM)
    segment = b64(body.encode())
    token = f"{b64(b'{}')}.{segment}.sig"
    assert claims.payload(token)["email"] == "x" * extra
    assert claims.account(token).account_id == "a"


def test_the_padding_cases_above_cover_every_remainder():
    lengths = {len(BODY.format(email="x" * n, claim=AUTH_CLAIM)) % 3 for n in range(6)}
    assert lengths == {0, 1, 2}


@pytest.mark.parametrize(
    "token", [None, "", "garbage", "a.b.c", "x.eyJub3QganNvbg.y", f"h.{b64(b'[1,2]')}.s"]
)
def test_anything_that_is_not_a_jwt_gives_no_claims(token):
    assert claims.payload(token) == {}
    assert claims.account(token) == claims.Account()
