"""The ACP agent: what each method of the protocol does, over one `rpc.Connection`
(docs/acp.md). Quick methods are answered on the reader's thread; a prompt runs on a worker
thread of its own, so the reader stays free for `session/cancel` and for the client's
answers to pixir's permission requests.
"""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Callable

from pixir import __version__
from pixir.acp import auth
from pixir.acp.rpc import (
    AUTH_REQUIRED,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    RESOURCE_NOT_FOUND,
    Connection,
    Incoming,
    RpcError,
)
from pixir.config import Settings
from pixir.errors import PixirError

PROTOCOL_VERSION = 1

# PixirError kinds and the JSON-RPC code a client should see for them.
_CODES = {
    "not_authenticated": AUTH_REQUIRED,
    "corrupt_auth": AUTH_REQUIRED,
    "not_found": RESOURCE_NOT_FOUND,
    "invalid_arguments": INVALID_PARAMS,
    "unknown_model": INVALID_PARAMS,
    "config_invalid": INVALID_PARAMS,
}


class Server:
    """One client's view of pixir: its capabilities, its sign-in choice, its sessions."""

    def __init__(self, conn: Connection, settings: Settings) -> None:
        self.conn = conn
        self.settings = settings
        self.forced_auth: str | None = None  # "api_key" after authenticate(openai-api-key)
        self.terminal_auth = False
        self._workers: list[threading.Thread] = []
        self.methods: dict[str, Callable[[dict], dict]] = {
            "initialize": self.initialize,
            "authenticate": self.authenticate,
            "logout": self.logout,
            "_pixir/status": self.status,
        }
        # Methods that may run long: each call gets its own worker thread.
        self.threaded: set[str] = set()
        self.notifications: dict[str, Callable[[dict], None]] = {}

    # -- dispatch ----------------------------------------------------------------------------

    def handle(self, incoming: Incoming) -> None:
        """Called by the reader for every request and notification."""
        if not incoming.is_request:
            handler = self.notifications.get(incoming.method or "")
            if handler is not None:  # an unknown notification is ignored, as JSON-RPC says
                self._guarded(lambda: handler(incoming.params))
            return
        method = self.methods.get(incoming.method or "")
        if method is None:
            self.conn.fail(
                incoming.id,
                RpcError(
                    METHOD_NOT_FOUND,
                    f"Method not found: {incoming.method}",
                    {"method": incoming.method},
                ),
            )
            return
        if incoming.method in self.threaded:
            worker = threading.Thread(
                target=self._answer,
                args=(incoming, method),
                name=f"acp-{incoming.method}",
                daemon=True,
            )
            self._workers = [w for w in self._workers if w.is_alive()]
            self._workers.append(worker)
            worker.start()
        else:
            self._answer(incoming, method)

    def _answer(self, incoming: Incoming, method: Callable[[dict], dict]) -> None:
        try:
            result = method(incoming.params)
        except RpcError as err:
            self.conn.fail(incoming.id, err)
        except PixirError as err:
            self.conn.fail(incoming.id, rpc_error(err))
        except Exception as exc:  # a bug: answer it, keep serving, say it on stderr
            traceback.print_exc(file=sys.stderr)
            self.conn.fail(
                incoming.id,
                RpcError(
                    INTERNAL_ERROR,
                    f"Internal error: {type(exc).__name__}",
                    {"method": incoming.method},
                ),
            )
        else:
            self.conn.respond(incoming.id, result)

    def _guarded(self, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception:
            traceback.print_exc(file=sys.stderr)

    def shutdown(self, wait_s: float = 10.0) -> None:
        """The input ended: let the workers finish (they were told to stop)."""
        for worker in list(self._workers):
            worker.join(wait_s)

    # -- methods -----------------------------------------------------------------------------

    def initialize(self, params: dict) -> dict:
        """Version 1 whatever was asked; what pixir can do; the catalog and sign-in state."""
        self.terminal_auth = auth.terminal_declared(params)
        return {
            "protocolVersion": PROTOCOL_VERSION,
            "agentInfo": {"name": "pixir", "title": "pixir", "version": __version__},
            "agentCapabilities": self.capabilities(),
            "authMethods": auth.methods(self.terminal_auth),
            "_meta": {"pixir": self.meta()},
        }

    def capabilities(self) -> dict:
        return {
            "loadSession": False,
            "promptCapabilities": {"image": False, "audio": False, "embeddedContext": False},
            "mcpCapabilities": {"http": False, "sse": False},
            "sessionCapabilities": {},
            "auth": {"logout": {}},
        }

    def meta(self) -> dict:
        """`_meta.pixir`: the model catalog (default flagged) and the sign-in state."""
        from pixir.provider.models import catalog

        models = [
            {"id": m["id"], "name": m["name"], "default": m["default"]}
            for m in catalog(self.settings)
        ]
        return {"models": models, "auth": auth.state(self.settings, self.forced_auth)}

    def authenticate(self, params: dict) -> dict:
        self.forced_auth = auth.authenticate(params.get("methodId"), self.settings)
        return {}

    def logout(self, params: dict) -> dict:
        auth.logout()
        self.forced_auth = None
        return {}

    def status(self, params: dict) -> dict:
        """`_pixir/status`: what `initialize` says in `_meta.pixir`, asked again later (after
        a sign-in in the editor's terminal, for instance)."""
        return {"version": __version__, **self.meta()}


def rpc_error(err: PixirError) -> RpcError:
    """A PixirError as the JSON-RPC error a client can act on."""
    code = _CODES.get(err.kind, INTERNAL_ERROR)
    data: dict = {"kind": err.kind, **{k: v for k, v in err.details.items() if k != "kind"}}
    if err.hint:
        data["hint"] = err.hint
    message = "Authentication required" if code == AUTH_REQUIRED else err.message
    return RpcError(code, message, data)
