"""The ACP agent: what each method of the protocol does, over one `rpc.Connection`
(docs/acp.md). Quick methods are answered on the reader's thread; a prompt runs on a worker
thread of its own, so the reader stays free for `session/cancel` and for the client's
answers to pixir's permission requests.
"""

from __future__ import annotations

import functools
import sys
import threading
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING

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
from pixir.interrupt import Cancel
from pixir.present.human import hint_for

if TYPE_CHECKING:
    from pixir.acp.session import AcpSession

# The sessions' code (and the agent behind it) is imported when the first session opens,
# not before `initialize` is answered: an editor waits for that answer.

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
        self.sessions: dict[str, AcpSession] = {}
        self._sessions_lock = threading.Lock()
        # request id of a prompt being answered → (its session id, its stop request)
        self._prompts: dict[object, tuple[object, Cancel]] = {}
        self.methods: dict[str, Callable[[dict], dict]] = {
            "initialize": self.initialize,
            "authenticate": self.authenticate,
            "logout": self.logout,
            "session/new": self.session_new,
            "session/load": self.session_load,
            "session/resume": self.session_resume,
            "session/list": self.session_list,
            "session/close": self.session_close,
            "session/set_mode": self.set_mode,
            "session/set_config_option": self.set_config_option,
            "session/set_model": self.set_model,  # before config options; still sent
            "session/prompt": self.prompt,
            "_pixir/status": self.status,
        }
        # Methods that may run long: each call gets its own worker thread.
        self.threaded: set[str] = {"session/prompt"}
        self.notifications: dict[str, Callable[[dict], None]] = {
            "session/cancel": self.cancel,
            "$/cancel_request": self.cancel_request,
        }

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
        if incoming.method == "session/prompt":
            # The prompt's stop request exists from now on: a session/cancel that comes
            # before its Turn has started still stops it.
            stop = Cancel()
            self._prompts[incoming.id] = (incoming.params.get("sessionId"), stop)
            method = functools.partial(self.prompt, stop=stop)
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
        finally:
            if incoming.method == "session/prompt":
                self._prompts.pop(incoming.id, None)

    def _guarded(self, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception:
            traceback.print_exc(file=sys.stderr)

    def shutdown(self, wait_s: float = 10.0) -> None:
        """The input ended (or a signal came): stop every running prompt, let the Turns
        write their Logs to the end, release the sessions."""
        with self._sessions_lock:
            open_sessions = list(self.sessions.values())
        for session in open_sessions:
            session.cancel()
        for worker in list(self._workers):
            worker.join(wait_s)
        for session in open_sessions:
            session.runner.close()

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
            "loadSession": True,
            "promptCapabilities": {"image": True, "audio": False, "embeddedContext": True},
            "mcpCapabilities": {"http": False, "sse": False},
            "sessionCapabilities": {"list": {}, "resume": {}, "close": {}},
            "auth": {"logout": {}},
        }

    def meta(self) -> dict:
        """`_meta.pixir`: the model catalog (default flagged) and the sign-in state."""
        return {"models": self.catalog(), "auth": auth.state(self.settings, self.forced_auth)}

    def catalog(self) -> list[dict]:
        from pixir.provider.models import catalog

        return [
            {"id": m["id"], "name": m["name"], "default": m["default"]}
            for m in catalog(self.settings)
        ]

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

    # -- sessions ----------------------------------------------------------------------------

    def session_new(self, params: dict) -> dict:
        """A new pixir session in `cwd`; its id is the pixir session id."""
        from pixir.acp.session import check_workspace

        workspace = check_workspace(params.get("cwd"))
        self._note_mcp(params)
        runner = self._runner(workspace)
        runner.new()
        session = self._adopt(runner)
        return {"sessionId": session.id, **session.state()}

    def session_load(self, params: dict) -> dict:
        """Open a session and replay its conversation before answering."""
        return self._open(params, replay=True)

    def session_resume(self, params: dict) -> dict:
        """Open a session without replaying it."""
        return self._open(params, replay=False)

    def _open(self, params: dict, replay: bool) -> dict:
        from pixir import paths
        from pixir.acp.session import check_workspace
        from pixir.acp.updates import replay as replay_events
        from pixir.log import is_session_id, read_events

        workspace = check_workspace(params.get("cwd"))
        session_id = params.get("sessionId")
        self._note_mcp(params)
        path = paths.sessions_dir(paths.sessions_root(workspace)) / f"{session_id}.jsonl"
        if not isinstance(session_id, str) or not is_session_id(session_id) or not path.is_file():
            raise not_found(session_id, workspace)
        auth.require_credential(self.settings, self.forced_auth)
        with self._sessions_lock:
            session = self.sessions.get(session_id)
        if session is None:
            runner = self._runner(workspace)
            events = runner.resume(session_id)
            session = self._adopt(runner, titled=any(e["type"] == "user_message" for e in events))
        if replay:
            replay_events(read_events(path), session.workspace, session.send)
        return session.state()

    def session_list(self, params: dict) -> dict:
        """The sessions of `cwd`'s repository (or `cwd`), else those of the workspaces open
        here, most recent first."""
        from pixir.acp.session import check_workspace
        from pixir.acp.updates import title_of
        from pixir.paths import sessions_root
        from pixir.session import list_sessions

        cwd = params.get("cwd")
        if cwd is not None:
            workspaces = [check_workspace(cwd)]
        else:
            with self._sessions_lock:
                workspaces = list(dict.fromkeys(s.workspace for s in self.sessions.values()))
        listed = []
        for root in dict.fromkeys(sessions_root(w) for w in workspaces):
            for info in list_sessions(root):
                entry = {"sessionId": info.id, "cwd": info.workspace or str(root)}
                if info.first_prompt:
                    entry["title"] = title_of(info.first_prompt)
                if info.last_activity:
                    entry["updatedAt"] = info.last_activity
                listed.append(entry)
        return {"sessions": listed}

    def session_close(self, params: dict) -> dict:
        """Stop what runs, release the session (its lock: `pixir resume` may open it)."""
        session = self._session(params)
        session.cancel()
        session.wait_idle(30)
        with self._sessions_lock:
            self.sessions.pop(session.id, None)
        session.runner.close()
        return {}

    def set_mode(self, params: dict) -> dict:
        session = self._session(params)
        session.set_mode(params.get("modeId"))
        session.options_changed()
        return {}

    def set_config_option(self, params: dict) -> dict:
        session = self._session(params)
        before = session.mode
        session.set_option(params.get("configId"), params.get("value"))
        if session.mode != before:
            session.send({"sessionUpdate": "current_mode_update", "currentModeId": session.mode})
        return {"configOptions": session.config_options()}

    def set_model(self, params: dict) -> dict:
        session = self._session(params)
        session.set_model(params.get("modelId"))
        session.options_changed()
        return {}

    def prompt(self, params: dict, stop: Cancel | None = None) -> dict:
        """One Turn; its events stream as session/update, the answer is its stop reason."""
        session = self._session(params)
        overrides = self._overrides(params.get("_meta"))
        credential = auth.require_credential(self.settings, self.forced_auth)
        return session.prompt(params, overrides, credential, stop or Cancel())

    def cancel(self, params: dict) -> None:
        """session/cancel: stop the session's prompt — running, or received and starting."""
        session_id = params.get("sessionId")
        for owner, stop in list(self._prompts.values()):
            if owner == session_id:
                stop.set()
        with self._sessions_lock:
            session = self.sessions.get(session_id)  # type: ignore[arg-type]
        if session is not None:
            session.cancel()

    def cancel_request(self, params: dict) -> None:
        """`$/cancel_request` of a prompt = session/cancel of that prompt."""
        entry = self._prompts.get(params.get("requestId"))
        if entry is not None:
            entry[1].set()

    # -- helpers -----------------------------------------------------------------------------

    def _runner(self, workspace):
        from pixir.paths import sessions_root
        from pixir.provider.models import resolve_model
        from pixir.runner import Runner

        credential = auth.require_credential(self.settings, self.forced_auth)
        model = resolve_model(self.settings)
        # Sessions live at the repository's root, as on the command line (docs/log.md).
        store = sessions_root(workspace)
        return Runner(self.settings, credential, workspace, model, warn=_warn, store=store)

    def window(self, model: str) -> int:
        """A model's context window (the `size` of usage updates)."""
        from pixir.provider.models import context_window

        return context_window(model, self.settings)

    def _adopt(self, runner, titled: bool = False) -> AcpSession:
        from pixir.acp.session import AcpSession

        session = AcpSession(runner, self.conn, self.catalog, self.window, titled)
        runner.ask = session.ask
        with self._sessions_lock:
            self.sessions[session.id] = session
        return session

    def _session(self, params: dict) -> AcpSession:
        session_id = params.get("sessionId")
        with self._sessions_lock:
            session = self.sessions.get(session_id)  # type: ignore[arg-type]
        if session is None:
            raise RpcError(
                RESOURCE_NOT_FOUND, f"unknown session {session_id!r}", {"sessionId": session_id}
            )
        return session

    def _overrides(self, meta: object):
        """A prompt's `_meta`: `model` (in the catalog), `reasoning_effort`, `web_search` —
        checked before anything reaches the backend."""
        from pixir.acp.session import EFFORTS, unknown_model
        from pixir.runner import Overrides

        meta = meta if isinstance(meta, dict) else {}
        model = meta.get("model")
        known = [m["id"] for m in self.catalog()]
        if model is not None and model not in known:
            raise unknown_model(model, known)
        effort = meta.get("reasoning_effort")
        if effort is not None and effort not in EFFORTS:
            raise RpcError(
                INVALID_PARAMS,
                f"unknown reasoning_effort {effort!r}",
                {"reasoning_effort": effort, "known": list(EFFORTS)},
            )
        search = meta.get("web_search")
        if search is not None and not isinstance(search, bool):
            raise RpcError(
                INVALID_PARAMS, "_meta.web_search must be true or false", {"web_search": search}
            )
        return Overrides(model=model, reasoning_effort=effort, web_search=search)

    def _note_mcp(self, params: dict) -> None:
        servers = params.get("mcpServers")
        if isinstance(servers, list) and servers:
            _warn(f"pixir does not connect MCP servers yet; ignoring {len(servers)} (docs/acp.md)")


def _warn(line: str) -> None:
    print(f"pixir acp: {line}", file=sys.stderr, flush=True)


def not_found(session_id: object, workspace) -> RpcError:
    return RpcError(
        RESOURCE_NOT_FOUND,
        f"no session {session_id!r} in {workspace}",
        {"sessionId": session_id, "cwd": str(workspace)},
    )


def rpc_error(err: PixirError) -> RpcError:
    """A PixirError as the JSON-RPC error a client can act on."""
    code = _CODES.get(err.kind, INTERNAL_ERROR)
    data: dict = {"kind": err.kind, **{k: v for k, v in err.details.items() if k != "kind"}}
    hint = hint_for(err)
    if hint:
        data["hint"] = hint
    message = "Authentication required" if code == AUTH_REQUIRED else err.message
    return RpcError(code, message, data)
