"""Browser sign-in (docs/auth.md): PKCE, a one-shot callback listener on 127.0.0.1:1455 (or
1457), and — when that port is busy or the browser runs on another machine — the redirect
address pasted on stdin. One thread: `select` watches the listener, its connections and
stdin together, so nothing spins and Ctrl-C lands at once.
"""

from __future__ import annotations

import html
import os
import select
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TextIO
from urllib.parse import parse_qsl, urlencode, urlsplit

from pixir.auth import oauth
from pixir.auth.pkce import Pkce, make_pkce, make_state
from pixir.errors import PixirError

LIMIT_S = 15 * 60
PORTS = (1455, 1457)  # both registered for the Codex client
CALLBACK_PATH = "/auth/callback"
MAX_CONNECTIONS = 16  # stray connections (preconnects, probes) beyond this are dropped
MAX_REQUEST_BYTES = 16 * 1024


@dataclass
class Answer:
    """An authorization code from the callback or a paste (`conn` = browser to answer)."""

    code: str = field(repr=False)
    conn: socket.socket | None = None


def login(
    issuer: str,
    out: TextIO | None = None,
    stdin_fd: int | None = 0,
    env: Mapping[str, str] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> dict:
    """Run the whole browser flow and return the token response."""
    out = out or sys.stderr
    env = os.environ if env is None else env
    pkce, state = make_pkce(), make_state()
    listener, port = bind_listener(env)
    redirect_uri = f"http://localhost:{port}{CALLBACK_PATH}"
    url = authorize_url(issuer, redirect_uri, pkce, state)
    try:
        remote = is_remote(env)
        show_instructions(out, url, port, listening=listener is not None, remote=remote)
        if listener is not None and not remote and can_open_browser(env):
            open_browser(url)
        deadline = clock() + LIMIT_S
        answer = wait_for_code(listener, stdin_fd, state, out, deadline, clock)
        try:
            tokens = oauth.exchange_code(issuer, answer.code, pkce.verifier, redirect_uri)
        except PixirError as err:
            _respond(answer.conn, 500, "Sign-in failed", err.message)
            raise
        _respond(
            answer.conn,
            200,
            "Signed in to pixir",
            "You can close this tab and go back to the terminal.",
        )
        return tokens
    finally:
        if listener is not None:
            listener.close()


def authorize_url(issuer: str, redirect_uri: str, pkce: Pkce, state: str) -> str:
    query = {
        "response_type": "code",
        "client_id": oauth.CLIENT_ID,
        "redirect_uri": redirect_uri,
        "scope": oauth.SCOPE,
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
        "id_token_add_organizations": "true",
        "codex_cli_simplified_flow": "true",
        "state": state,
        "originator": oauth.ORIGINATOR,
    }
    return f"{oauth.authorize_url(issuer)}?{urlencode(query)}"


def bind_listener(env: Mapping[str, str]) -> tuple[socket.socket | None, int]:
    """Listen on 127.0.0.1 before the URL is shown (so the redirect cannot beat us):
    1455, else 1457; PIXIR_LOGIN_PORT picks one port (tests). (None, port) = all busy."""
    override = env.get("PIXIR_LOGIN_PORT")
    if override:
        if not override.isdigit() or not 0 < int(override) < 65536:
            raise PixirError(
                "invalid_arguments", f"PIXIR_LOGIN_PORT={override!r} is not a port number"
            )
        ports: tuple[int, ...] = (int(override),)
    else:
        ports = PORTS
    for port in ports:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # survive TIME_WAIT only
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen(8)
        except OSError:
            sock.close()
            continue
        sock.setblocking(False)
        return sock, port
    return None, ports[0]


def is_remote(env: Mapping[str, str]) -> bool:
    """True over SSH: a browser here would be the wrong machine's browser."""
    return any(env.get(var) for var in ("SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY"))


def can_open_browser(env: Mapping[str, str], platform: str | None = None) -> bool:
    """A browser can exist: macOS or Windows, or a Linux/BSD session with a display."""
    platform = platform or sys.platform
    if is_remote(env):
        return False
    if platform == "darwin" or platform.startswith("win"):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def open_browser(url: str) -> bool:
    """Best effort, silent: the opener's chatter must not reach our stdout (--json)."""
    opener = "open" if sys.platform == "darwin" else "xdg-open"
    path = shutil.which(opener)
    try:
        if path:
            subprocess.Popen(
                [path, url],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            return True
        import webbrowser

        return webbrowser.open(url)
    except Exception:  # a failed opener only means the user clicks the link themselves
        return False


def show_instructions(out: TextIO, url: str, port: int, listening: bool, remote: bool) -> None:
    """The authorize URL alone on its line, and what to paste when the callback cannot
    arrive by itself."""
    out.write("\nTo sign in with ChatGPT, open this page in a browser:\n\n")
    out.write(f"{url}\n\n")
    if not listening:
        out.write(
            f"Port {port} on this machine is busy, so pixir cannot receive the browser's\n"
            "answer by itself. After you sign in, the browser will land on a page that does\n"
            f"not load (http://localhost:{port}/auth/callback?...): copy that page's whole\n"
            "address from the address bar, paste it here and press Enter.\n"
        )
    elif remote:
        out.write(
            "You are connected over SSH: if your browser runs on another machine, the page\n"
            f"it lands on after sign-in (http://localhost:{port}/auth/callback?...) will not\n"
            "load there. Copy that page's whole address from the address bar, paste it here\n"
            f"and press Enter (or forward the port: ssh -L {port}:localhost:{port} ...).\n"
        )
    else:
        out.write(
            "pixir finishes by itself when the browser comes back. If the browser runs on\n"
            "another machine, paste the address it lands on here and press Enter.\n"
        )
    out.write("Waiting for the sign-in… (Ctrl-C to cancel)\n")
    out.flush()


def wait_for_code(
    listener: socket.socket | None,
    stdin_fd: int | None,
    state: str,
    out: TextIO,
    deadline: float,
    clock: Callable[[], float] = time.monotonic,
) -> Answer:
    """Serve the callback and read pasted lines until a code with the right state (or no
    state, for a bare pasted code) arrives; 15-minute limit."""
    conns: dict[socket.socket, bytearray] = {}
    pasted = bytearray()
    stdin_open = stdin_fd is not None and _readable_fd(stdin_fd)
    last_problem = "no answer arrived"
    try:
        while True:
            if listener is None and not stdin_open:
                raise PixirError(
                    "login_failed",
                    f"the callback port is busy and stdin is closed: {last_problem}",
                    hint="free the port, or run `pixir login --browser` in a terminal and "
                    "paste the address the browser lands on (or use `pixir login`)",
                )
            left = deadline - clock()
            if left <= 0:
                raise PixirError(
                    "login_timeout",
                    "nobody finished signing in within 15 minutes",
                    hint="run `pixir login --browser` again",
                )
            watched: list = list(conns)
            if listener is not None:
                watched.append(listener)
            if stdin_open:
                watched.append(stdin_fd)
            ready, _, _ = select.select(watched, [], [], left)
            for item in ready:
                if item is listener:
                    _accept(listener, conns)
                elif isinstance(item, int):
                    chunk = os.read(stdin_fd, 4096)
                    if not chunk:
                        stdin_open = False
                        lines = [bytes(pasted)]
                        pasted.clear()
                    else:
                        pasted.extend(chunk)
                        *lines, rest = bytes(pasted).split(b"\n")
                        pasted[:] = rest
                    for line in lines:
                        text = line.decode("utf-8", "replace").strip()
                        if not text:
                            continue
                        code, problem = check_pasted(text, state)
                        if code:
                            return Answer(code)
                        last_problem = problem
                        out.write(f"pixir: {problem}; paste the address again.\n")
                        out.flush()
                else:
                    answer, problem = _serve(item, conns, state)
                    if answer is not None:
                        return answer
                    if problem:
                        last_problem = problem
                        out.write(f"pixir: {problem}\n")
                        out.flush()
    finally:
        for conn in conns:
            conn.close()


def check_pasted(text: str, state: str) -> tuple[str | None, str]:
    """(code, "") for an acceptable paste — a redirect URL, `code#state`, a query string or
    a bare code — else (None, why). The state is checked whenever the paste carries one."""
    params = parse_pasted(text)
    if params.get("error"):
        raise _denied(params)
    code = params.get("code")
    if not code:
        return None, "that does not look like the sign-in address (no code in it)"
    if "state" in params and params["state"] != state:
        return None, "that address belongs to another sign-in attempt (state mismatch)"
    return code, ""


def parse_pasted(text: str) -> dict[str, str]:
    """The parameters of a pasted answer, whichever of the accepted shapes it has."""
    text = text.strip()
    if "://" in text or text.startswith(("/", "?")) or "code=" in text or "error=" in text:
        parts = urlsplit(text)
        query = parts.query if ("://" in text or text.startswith("/")) else text.lstrip("?")
        return dict(parse_qsl(query, keep_blank_values=True))
    if "#" in text:
        code, _, pasted_state = text.partition("#")
        return {"code": code.strip(), "state": pasted_state.strip()}
    if any(c.isspace() for c in text):
        return {}
    return {"code": text}


def _readable_fd(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _accept(listener: socket.socket, conns: dict[socket.socket, bytearray]) -> None:
    try:
        conn, _ = listener.accept()
    except (BlockingIOError, InterruptedError):
        return
    conn.setblocking(False)
    if len(conns) >= MAX_CONNECTIONS:  # drop the oldest idle one
        oldest = next(iter(conns))
        oldest.close()
        del conns[oldest]
    conns[conn] = bytearray()


def _serve(
    conn: socket.socket, conns: dict[socket.socket, bytearray], state: str
) -> tuple[Answer | None, str]:
    """Read from one connection; once a request head is complete, answer it. Returns the
    Answer when it is the right callback (connection still open for the final page)."""
    try:
        chunk = conn.recv(4096)
    except (BlockingIOError, InterruptedError):
        return None, ""
    except OSError:
        chunk = b""
    buffer = conns[conn]
    buffer.extend(chunk)
    if chunk and b"\r\n\r\n" not in buffer and len(buffer) < MAX_REQUEST_BYTES:
        return None, ""
    del conns[conn]
    if not chunk and not buffer:
        conn.close()
        return None, ""
    line = bytes(buffer).split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ")
    target = parts[1] if len(parts) >= 3 else ""
    split = urlsplit(target)
    if parts[0] != "GET" or split.path != CALLBACK_PATH:
        _respond(conn, 404, "Not found", "This is pixir's sign-in callback.")
        return None, ""
    params = dict(parse_qsl(split.query, keep_blank_values=True))
    if params.get("error"):
        err = _denied(params)
        _respond(conn, 400, "Sign-in failed", err.message)
        raise err
    if params.get("state") != state:
        _respond(
            conn,
            400,
            "Sign-in refused",
            "This answer belongs to another sign-in attempt (state mismatch). "
            "Start again from the terminal.",
        )
        return None, "refused a browser callback for another sign-in attempt (state mismatch)"
    if not params.get("code"):
        _respond(conn, 400, "Sign-in failed", "The answer carries no authorization code.")
        return None, "the browser callback carried no authorization code"
    conn.setblocking(True)
    return Answer(params["code"], conn), ""


def _denied(params: Mapping[str, str]) -> PixirError:
    error = params.get("error", "")
    description = params.get("error_description") or ""
    text = f"{error}: {description}" if description else error
    return PixirError(
        "login_failed",
        f"the sign-in was not completed: {text[:300]}",
        {"error": error},
        hint="run `pixir login --browser` again (or `pixir login` for a device code)",
    )


def _respond(conn: socket.socket | None, status: int, title: str, text: str) -> None:
    """A small self-contained HTML page, then close the connection."""
    if conn is None:
        return
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 500: "Internal Server Error"}
    page = (
        "<!doctype html><html><head><meta charset=utf-8><title>pixir</title></head>"
        "<body style='font-family:sans-serif;max-width:36em;margin:4em auto'>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>"
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason.get(status, 'Error')}\r\n"
        "Content-Type: text/html; charset=utf-8\r\n"
        f"Content-Length: {len(page)}\r\n"
        "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
    ).encode()
    try:
        conn.setblocking(True)
        conn.settimeout(5)
        conn.sendall(head + page)
    except OSError:
        pass
    finally:
        conn.close()
