"""Device-code sign-in (docs/auth.md): the default, because it needs no browser on this
machine and no callback port — the user opens a page on any device and types a code.

The clock and sleep are parameters so tests can run the 15-minute logic in milliseconds.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from pixir import debug
from pixir.auth import oauth
from pixir.errors import PixirError

LIMIT_S = 15 * 60
DEFAULT_INTERVAL_S = 5.0
SLOW_DOWN_STEP_S = 5.0
PENDING_STATUSES = (403, 404)
PENDING_CODES = frozenset({"deviceauth_authorization_pending", "authorization_pending"})


@dataclass
class DeviceCode:
    """What the user-code endpoint handed out."""

    device_auth_id: str = field(repr=False)
    user_code: str = field(repr=False)  # shown to the user once, on stderr, and no more
    interval: float


@dataclass
class Grant:
    """The server-made authorization code and PKCE verifier (quirk 2 in docs/provider.md)."""

    code: str = field(repr=False)
    verifier: str = field(repr=False)


def login(
    issuer: str,
    out: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict:
    """Run the whole device flow and return the token response."""
    import requests

    out = out or sys.stderr
    with requests.Session() as session:
        device = request_code(issuer, session)
        show_instructions(issuer, device, out)
        grant = poll(issuer, device, session, sleep=sleep, clock=clock)
        out.write("Code accepted; finishing sign-in…\n")
        out.flush()
        return oauth.exchange_code(
            issuer, grant.code, grant.verifier, oauth.device_redirect_uri(issuer), session
        )


def request_code(issuer: str, session: Any = None) -> DeviceCode:
    """Step 1: ask for a user code. 404 means device-code sign-in is switched off."""
    reply = oauth.post(
        oauth.usercode_url(issuer), json_body={"client_id": oauth.CLIENT_ID}, session=session
    )
    if reply.status == 404:
        raise PixirError(
            "device_code_unsupported",
            "device-code sign-in is not enabled for this account: turn on "
            '"device code authorization" in ChatGPT settings → Security (for a workspace '
            "account, your workspace admin enables it)",
            {"status": 404},
            hint="or sign in with a browser instead: `pixir login --browser`",
        )
    body = reply.body if isinstance(reply.body, dict) else {}
    if reply.status != 200:
        raise PixirError(
            "login_failed",
            f"the sign-in service did not start a device-code sign-in: {reply.error_message}",
            {"status": reply.status, "code": reply.error_code},
            hint="try again, or `pixir login --browser`",
        )
    device_auth_id = body.get("device_auth_id")
    user_code = body.get("user_code") or body.get("usercode")  # older servers: usercode
    if not isinstance(device_auth_id, str) or not isinstance(user_code, str):
        raise PixirError(
            "invalid_response",
            "the sign-in service's device-code answer lacks device_auth_id or user_code",
        )
    return DeviceCode(device_auth_id, user_code, parse_interval(body.get("interval")))


def parse_interval(value: object) -> float:
    """Seconds between polls: a string in the real service, an int elsewhere; default 5."""
    if isinstance(value, bool):
        return DEFAULT_INTERVAL_S
    try:
        seconds = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        return DEFAULT_INTERVAL_S
    # Reject 0, negatives, NaN and absurd values rather than hammer the server or stall.
    return seconds if 0 < seconds <= LIMIT_S else DEFAULT_INTERVAL_S


def show_instructions(issuer: str, device: DeviceCode, out: TextIO) -> None:
    """Step 2, on stderr: the page and the code each alone on a line, flush left, no colour,
    so they copy cleanly from a terminal on the far side of an SSH connection."""
    out.write(
        "\nTo sign in with ChatGPT, open this page in a browser on any device:\n\n"
        f"{oauth.device_page_url(issuer)}\n\n"
        "and enter this one-time code (it expires in 15 minutes):\n\n"
        f"{device.user_code}\n\n"
        "Never share this code. Anyone who asks you for it is trying to take over your\n"
        "account (a common phishing trick); pixir will never ask you to send it to anyone.\n\n"
        "Waiting for the sign-in to finish… (Ctrl-C to cancel)\n"
    )
    out.flush()


def poll(
    issuer: str,
    device: DeviceCode,
    session: Any = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Grant:
    """Step 3: poll until the user approves, `interval` apart, for at most 15 minutes."""
    deadline = clock() + LIMIT_S
    interval = device.interval
    url = oauth.device_poll_url(issuer)
    payload = {"device_auth_id": device.device_auth_id, "user_code": device.user_code}
    while True:
        left = deadline - clock()
        if left <= 0:
            raise _timeout()
        sleep(min(interval, left))
        try:
            reply = oauth.post(url, json_body=payload, session=session)
        except PixirError as err:
            if err.kind != "network":
                raise
            continue  # a network blip must not end a sign-in the user is busy finishing
        code = reply.error_code
        if reply.status == 200:
            return _grant(reply)
        if code == "slow_down":
            interval += SLOW_DOWN_STEP_S
        elif reply.status in PENDING_STATUSES or code in PENDING_CODES:
            pass
        elif code and "expired" in code:
            raise _timeout()
        elif reply.status >= 500 or reply.status == 429:
            debug.log(f"device poll: HTTP {reply.status}, polling on")
        else:
            raise PixirError(
                "login_failed",
                f"the device-code sign-in failed: {reply.error_message}",
                {"status": reply.status, "code": code},
                hint="run `pixir login` again",
            )


def _grant(reply: oauth.Reply) -> Grant:
    body = reply.body if isinstance(reply.body, dict) else {}
    code, verifier = body.get("authorization_code"), body.get("code_verifier")
    if not isinstance(code, str) or not code or not isinstance(verifier, str) or not verifier:
        raise PixirError(
            "invalid_response",
            "the sign-in service approved the device but sent no authorization_code "
            "or code_verifier",
        )
    return Grant(code, verifier)


def _timeout() -> PixirError:
    return PixirError(
        "login_timeout",
        "the device code expired: nobody finished signing in within 15 minutes",
        hint="run `pixir login` again",
    )
