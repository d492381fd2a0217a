"""Account, plan and email from the tokens' claims."""

import pytest

from pixir.auth import claims
from tests.unit.helpers.tokens import AUTH_CLAIM, PROFILE_CLAIM, access_token, b64, make_jwt


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
