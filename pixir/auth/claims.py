"""What the ChatGPT tokens say about the account: id, plan, email, expiry (docs/auth.md).

The payloads are read, not verified: they are our own tokens, fresh from the issuer over
TLS, and the signing keys are the issuer's business. pyjwt does the base64url decoding
(with the padding the JWT form strips) and is imported only when a token is read.
"""

from __future__ import annotations

from dataclasses import dataclass

AUTH_CLAIM = "https://api.openai.com/auth"
PROFILE_CLAIM = "https://api.openai.com/profile"


@dataclass(frozen=True)
class Account:
    """The non-secret facts pixir shows and sends: any of them may be unknown (None)."""

    account_id: str | None = None
    plan: str | None = None
    email: str | None = None
    expires: float | None = None  # the access token's `exp` (epoch seconds)


def payload(token: str | None) -> dict:
    """The claims of a JWT, or {} when it is not one. Signature and times not checked."""
    if not token or not isinstance(token, str):
        return {}
    import jwt

    try:
        claims = jwt.decode(
            token,
            options={
                "verify_signature": False,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,
                "verify_iss": False,
            },
        )
    except (jwt.PyJWTError, ValueError, TypeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def account(access_token: str | None, id_token: str | None = None) -> Account:
    """Account facts from the access token, falling back to the id_token field by field."""
    access, ident = payload(access_token), payload(id_token)
    exp = access.get("exp")
    return Account(
        account_id=_auth_field(access, "chatgpt_account_id")
        or _auth_field(ident, "chatgpt_account_id"),
        plan=_auth_field(access, "chatgpt_plan_type") or _auth_field(ident, "chatgpt_plan_type"),
        email=_email(access) or _email(ident),
        expires=float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None,
    )


def _auth_field(claims: dict, name: str) -> str | None:
    section = claims.get(AUTH_CLAIM)
    value = section.get(name) if isinstance(section, dict) else None
    return value if isinstance(value, str) and value else None


def _email(claims: dict) -> str | None:
    value = claims.get("email")
    if isinstance(value, str) and value:
        return value
    profile = claims.get(PROFILE_CLAIM)
    value = profile.get("email") if isinstance(profile, dict) else None
    return value if isinstance(value, str) and value else None
