"""One editor session: a pixir session opened by a Runner, its modes and config options, and
its prompts — each a Turn on a worker thread, stopped by `session/cancel` (docs/acp.md,
"Sessions" and "Prompt").
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from pixir.acp import content
from pixir.acp.rpc import INVALID_PARAMS, Closed, Connection, RpcError
from pixir.acp.updates import ASKED, Updates, tool_call
from pixir.choices import CHOICES
from pixir.interrupt import Cancel, Cancelled
from pixir.present.human import hint_for
from pixir.tools.permissions import ALWAYS, REFUSE

MODES = (
    ("auto", "Agent", "Reads, edits and runs commands without asking"),
    ("ask", "Ask first", "Asks before each edit, write and command"),
    ("read_only", "Read only", "Reads and runs read-only commands; never changes a file"),
)
MODE_IDS = CHOICES["permission_default"]
EFFORTS = CHOICES["reasoning_effort"]
DEFAULT = "default"  # the reasoning_effort value that omits the field (the server decides)

ALLOW_ONCE, ALLOW_ALWAYS, REJECT_ONCE = "allow_once", "allow_always", "reject_once"
PERMISSION_OPTIONS = (
    {"optionId": ALLOW_ONCE, "name": "Allow once", "kind": "allow_once"},
    {"optionId": ALLOW_ALWAYS, "name": "Allow for this session", "kind": "allow_always"},
    {"optionId": REJECT_ONCE, "name": "Reject", "kind": "reject_once"},
)


class AcpSession:
    """A pixir session as an editor sees it. One prompt at a time; `cancel` from any
    thread."""

    def __init__(
        self,
        runner,
        conn: Connection,
        catalog: Callable[[], list[dict]],
        window: Callable[[str], int],
        titled: bool = False,
    ) -> None:
        self.runner = runner
        self.conn = conn
        self.catalog = catalog  # the model catalog, [{id, name, default}]
        self.window = window  # context window of a model
        self.id: str = runner.session_id
        self.workspace: Path = runner.session.workspace
        self.titled = titled  # named by its first prompt already (a loaded session is)
        self._lock = threading.Lock()
        self._cancel: Cancel | None = None  # the running prompt's stop request
        self._abandon = threading.Event()  # set with it: a permission question waits no more
        self._updates: Updates | None = None
        self.closed = False

    # -- state the editor shows --------------------------------------------------------------

    @property
    def mode(self) -> str:
        return self.runner.session.permission_mode

    def modes(self) -> dict:
        return {
            "currentModeId": self.mode,
            "availableModes": [
                {"id": mode, "name": name, "description": about} for mode, name, about in MODES
            ],
        }

    def config_options(self) -> list[dict]:
        models = self.catalog()
        model = self.runner.model
        choices = [{"value": m["id"], "name": m["name"]} for m in models]
        if model not in {m["id"] for m in models}:  # a model outside the catalog (config)
            choices.insert(0, {"value": model, "name": model})
        effort = self.runner.reasoning_effort or DEFAULT
        return [
            {
                "id": "mode",
                "name": "Mode",
                "category": "mode",
                "type": "select",
                "currentValue": self.mode,
                "options": [
                    {"value": mode, "name": name, "description": about}
                    for mode, name, about in MODES
                ],
            },
            {
                "id": "model",
                "name": "Model",
                "category": "model",
                "type": "select",
                "currentValue": model,
                "options": choices,
            },
            {
                "id": "reasoning_effort",
                "name": "Reasoning effort",
                "category": "thought_level",
                "type": "select",
                "currentValue": effort,
                "options": [
                    {"value": DEFAULT, "name": "Default", "description": "The model's own default"}
                ]
                + [{"value": e, "name": e.capitalize()} for e in EFFORTS],
            },
        ]

    def legacy_models(self) -> dict:
        """The `models` state of clients written before config options (session/set_model)."""
        return {
            "currentModelId": self.runner.model,
            "availableModels": [{"modelId": m["id"], "name": m["name"]} for m in self.catalog()],
        }

    def state(self) -> dict:
        """What session/new, load and resume answer besides the id."""
        return {
            "modes": self.modes(),
            "configOptions": self.config_options(),
            "models": self.legacy_models(),
        }

    # -- choices (written to the Log, so that a resume keeps them) ----------------------------

    def set_mode(self, mode: object) -> None:
        if mode not in MODE_IDS:
            raise RpcError(
                INVALID_PARAMS, f"unknown mode {mode!r}", {"modeId": mode, "known": list(MODE_IDS)}
            )
        self.runner.choose(permission_mode=mode)

    def set_model(self, model: object) -> None:
        known = [m["id"] for m in self.catalog()]
        if model not in known:
            raise unknown_model(model, known)
        self.runner.choose(model=model)

    def set_reasoning_effort(self, effort: object) -> None:
        if effort != DEFAULT and effort not in EFFORTS:
            raise RpcError(
                INVALID_PARAMS,
                f"unknown reasoning effort {effort!r}",
                {"value": effort, "known": [DEFAULT, *EFFORTS]},
            )
        self.runner.choose(reasoning_effort=None if effort == DEFAULT else effort)

    def set_option(self, config_id: object, value: object) -> None:
        setters = {
            "mode": self.set_mode,
            "model": self.set_model,
            "reasoning_effort": self.set_reasoning_effort,
        }
        setter = setters.get(config_id)  # type: ignore[arg-type]
        if setter is None:
            raise RpcError(
                INVALID_PARAMS,
                f"unknown config option {config_id!r}",
                {"configId": config_id, "known": list(setters)},
            )
        setter(value)

    def options_changed(self) -> None:
        """Tell the editor the options after a choice it made another way (set_mode,
        set_model), so its option menus stay in step."""
        self.send({"sessionUpdate": "config_option_update", "configOptions": self.config_options()})

    def send(self, update: dict) -> None:
        self.conn.notify("session/update", {"sessionId": self.id, "update": update})

    # -- prompts -----------------------------------------------------------------------------

    def prompt(self, params: dict, overrides, credential, stop: Cancel) -> dict:
        """Run one Turn for a session/prompt (with the credential signed in now; `stop` its
        stop request) and answer its stop reason."""
        prompt = content.from_blocks(params.get("prompt"), self.workspace)
        if not self._lock.acquire(blocking=False):
            raise RpcError(
                INVALID_PARAMS,
                "a prompt is already running in this session",
                {"sessionId": self.id},
            )
        try:
            self.runner.use_credential(credential)
            self._abandon = threading.Event()
            stop.on_set(self._abandon.set)
            self._cancel = stop
            updates = Updates(
                self.workspace,
                self.send,
                model_window=self.window,
                pending_approval=self._will_ask,
                titled=self.titled,
            )
            self._updates = updates
            outcome = self.runner.turn(
                prompt.text, updates, overrides=overrides, cancel=stop, images=prompt.images
            )
            return self._answer(outcome, stop.is_set(), overrides.model or self.runner.model)
        finally:
            self.titled = self.titled or (self._updates is not None and self._updates.titled)
            self._cancel = None
            self._updates = None
            self._lock.release()

    def cancel(self) -> None:
        """session/cancel: stop the running prompt (no-op when none runs)."""
        stop = self._cancel
        if stop is not None:
            stop.set()

    def wait_idle(self, timeout: float) -> bool:
        if self._lock.acquire(timeout=timeout):
            self._lock.release()
            return True
        return False

    def _answer(self, outcome, cancelled: bool, model: str) -> dict:
        meta: dict = {"usage": outcome.usage, "model": model}
        if cancelled or outcome.status == "interrupted":
            reason = "cancelled"
        elif outcome.status == "completed":
            reason = "end_turn"
        elif outcome.error is not None and outcome.error.kind == "max_steps":
            reason = "max_turn_requests"
        elif outcome.error is not None and outcome.error.kind == "incomplete":
            why = outcome.error.details.get("incomplete_reason")
            reason = "refusal" if why == "content_filter" else "max_tokens"
        else:  # a failed Turn: told as text, never as a JSON-RPC error
            err = outcome.error
            reason = "end_turn"
            if err is not None:
                meta["error"] = {"kind": err.kind, "message": err.message}
                text = f"\n\nerror: {err.kind}: {err.message}"
                hint = hint_for(err)  # a usage limit's reset as a time, as on a terminal
                if hint:
                    text += f"\nhint: {hint}"
                self.send(
                    {
                        "sessionUpdate": "agent_message_chunk",
                        "content": {"type": "text", "text": text},
                    }
                )
        return {"stopReason": reason, "_meta": {"pixir": meta}}

    # -- permissions (ask mode) --------------------------------------------------------------

    def _will_ask(self, name: str, args: dict) -> bool:
        return self.mode == "ask" and name in ASKED and not self.runner.approvals.covers(name, args)

    def ask(self, question):
        """The Runner's Asker: session/request_permission for the call just announced (an
        earlier "allow always" that covers it never reaches here: the Runner's Approvals
        answer first)."""
        updates, stop = self._updates, self._cancel
        call = updates.current_call() if updates is not None else None
        if call is None or stop is None:
            return None
        call_id, name, args = call
        announced = tool_call(call_id, name, args, self.workspace, "pending")
        del announced["sessionUpdate"]  # a ToolCallUpdate, not a session update
        request = {"sessionId": self.id, "toolCall": announced, "options": list(PERMISSION_OPTIONS)}
        try:
            answer = self.conn.request("session/request_permission", request, abandon=self._abandon)
        except (Closed, RpcError):
            answer = None
        if stop.is_set():
            raise Cancelled
        outcome = (answer or {}).get("outcome")
        outcome = outcome if isinstance(outcome, dict) else {}
        chosen = outcome.get("optionId") if outcome.get("outcome") == "selected" else None
        if chosen in (ALLOW_ONCE, ALLOW_ALWAYS):
            self.send(
                {
                    "sessionUpdate": "tool_call_update",
                    "toolCallId": call_id,
                    "status": "in_progress",
                }
            )
            return ALWAYS if chosen == ALLOW_ALWAYS else True
        return REFUSE  # rejected, or the question was dismissed: the model is told


def unknown_model(model: object, known: list[str]) -> RpcError:
    return RpcError(INVALID_PARAMS, f"unknown model {model!r}", {"model": model, "known": known})


def check_workspace(cwd: object) -> Path:
    """A session's `cwd`: an absolute path to a directory."""
    if not isinstance(cwd, str) or not cwd:
        raise RpcError(INVALID_PARAMS, "cwd must be an absolute path", {"cwd": cwd})
    path = Path(cwd)
    if not path.is_absolute():
        raise RpcError(INVALID_PARAMS, f"cwd must be an absolute path, not {cwd!r}", {"cwd": cwd})
    if not path.is_dir():
        raise RpcError(INVALID_PARAMS, f"cwd {cwd!r} is not a directory", {"cwd": cwd})
    return path.resolve()
