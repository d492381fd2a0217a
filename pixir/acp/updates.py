"""A session's Events as ACP `session/update`s (docs/acp.md, "Mapping"): live, as the
Turn emits them (`Updates`), and replayed from the Log for `session/load` (`replay`).

An Updates object is the Turn's `emit`, like a terminal presenter: it never calls the
Provider or the Log. It reads the workspace only to show an edit as a diff of the whole
file (its text before the tool ran, and after).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from pixir.tools.result import ToolFailure
from pixir.tools.workspace import resolve_for_write

Send = Callable[[dict], None]  # one update (the `update` object of a session/update)

KINDS = {
    "read": "read",
    "write": "edit",
    "edit": "edit",
    "bash": "execute",
    "update_plan": "think",
    "web_search": "search",
}
ASKED = ("write", "edit", "bash")  # the tools ask mode asks about
MAX_DIFF_BYTES = 1024 * 1024  # larger files are shown as text, not as a diff
TITLE_CHARS = 80


class Updates:
    """Call with each Event of a Turn; sends the updates an editor shows."""

    def __init__(
        self,
        workspace: Path,
        send: Send,
        *,
        model_window: Callable[[str], int],
        pending_approval: Callable[[str, dict], bool] = lambda name, args: False,
        titled: bool = False,
    ) -> None:
        self.workspace = workspace
        self.send = send
        self.model_window = model_window
        # True when the call will wait for the user's approval (status `pending`).
        self.pending_approval = pending_approval
        self.message_id: str | None = None
        self.streamed: list[str] = []  # text of the current message sent as chunks
        self.before: dict[str, str | None] = {}  # call id → file text before write/edit
        self.calls: dict[str, dict] = {}  # call id → its tool_call data
        self.titled = titled  # the session has its title (its first prompt)
        self.last_call: tuple[str, str, dict] | None = None  # (id, name, args) announced last
        self.handlers = {
            "text_delta": self.on_text_delta,
            "reasoning_delta": self.on_reasoning_delta,
            "retry": self.on_retry,
            "status": self.on_status,
            "user_message": self.on_user_message,
            "assistant_message": self.on_assistant_message,
            "tool_call": self.on_tool_call,
            "tool_result": self.on_tool_result,
            "provider_usage": self.on_provider_usage,
            "web_search": self.on_web_search,
        }
        self.searches: set[str] = set()  # hosted web searches announced as tool calls

    def __call__(self, event: dict) -> None:
        handler = self.handlers.get(event.get("type"))
        if handler is not None:
            handler(event.get("data") or {})

    # -- text --------------------------------------------------------------------------------

    def on_text_delta(self, data: dict) -> None:
        chunk = data.get("chunk") or ""
        if not chunk:
            return
        if self.message_id is None:
            self.message_id = new_message_id()
        self.streamed.append(chunk)
        self.send(message_chunk("agent_message_chunk", chunk, self.message_id))

    def on_reasoning_delta(self, data: dict) -> None:
        chunk = data.get("chunk") or ""
        if chunk:
            self.send(message_chunk("agent_thought_chunk", chunk))

    def on_retry(self, data: dict) -> None:
        # The text of the failed attempt is forgotten; the next one is a new message.
        self.end_message()
        reason = data.get("error_kind") or "error"
        self.send(message_chunk("agent_thought_chunk", f"\n[retrying after {reason}]\n"))

    def on_status(self, data: dict) -> None:
        if data.get("status") == "requesting":  # a new model call: a new message
            self.end_message()

    def on_assistant_message(self, data: dict) -> None:
        """A message whose text did not stream (some backends send it whole at the end)."""
        text = data.get("text") or ""
        shown = "".join(self.streamed)
        if text and not data.get("partial") and text != shown:
            rest = text[len(shown) :] if text.startswith(shown) else text
            if rest:
                if self.message_id is None or not text.startswith(shown):
                    self.message_id = new_message_id()
                self.send(message_chunk("agent_message_chunk", rest, self.message_id))
        self.end_message()

    def end_message(self) -> None:
        self.message_id = None
        self.streamed = []

    def on_user_message(self, data: dict) -> None:
        if not self.titled:
            self.titled = True
            title = title_of(data.get("text") or "")
            if title:
                self.send({"sessionUpdate": "session_info_update", "title": title})

    # -- tools -------------------------------------------------------------------------------

    def on_tool_call(self, data: dict) -> None:
        call_id, name = str(data.get("call_id")), str(data.get("name") or "")
        args = data.get("args") if isinstance(data.get("args"), dict) else {}
        self.calls[call_id] = {"name": name, "args": args}
        self.last_call = (call_id, name, args)
        if name in ("write", "edit"):
            self.before[call_id] = self.file_text(args.get("path"))
        status = "pending" if self.pending_approval(name, args) else "in_progress"
        self.send(tool_call(call_id, name, args, self.workspace, status))
        if name == "update_plan":
            entries = plan_entries(args)
            if entries is not None:
                self.send({"sessionUpdate": "plan", "entries": entries})

    def current_call(self) -> tuple[str, str, dict] | None:
        """The call announced last: the one a permission question is about (the Turn asks
        right after announcing it)."""
        return self.last_call

    def on_tool_result(self, data: dict) -> None:
        call_id = str(data.get("call_id"))
        call = self.calls.pop(call_id, {"name": "", "args": {}})
        before = self.before.pop(call_id, None)
        diff = None
        if data.get("ok") and call["name"] in ("write", "edit"):
            after = self.file_text(call["args"].get("path"))
            if after is not None:
                diff = self.diff(call["args"].get("path"), before, after)
        self.send(tool_result(call_id, call["name"], call["args"], data, diff))

    def diff(self, path: object, before: str | None, after: str) -> dict | None:
        absolute = absolute_path(self.workspace, path)
        if absolute is None:
            return None
        return {"type": "diff", "path": absolute, "oldText": before, "newText": after}

    def file_text(self, path: object) -> str | None:
        """The text of a file a write/edit is about to change, or just changed; None when
        there is none, or it is not text, or it is too large to show whole."""
        try:
            target = resolve_for_write(self.workspace, path)  # type: ignore[arg-type]
        except ToolFailure:
            return None
        try:
            fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return None
        try:
            info = os.fstat(fd)
            if not _is_regular(info.st_mode) or info.st_size > MAX_DIFF_BYTES:
                return None
            data = os.read(fd, MAX_DIFF_BYTES + 1)
        except OSError:
            return None
        finally:
            os.close(fd)
        if len(data) > MAX_DIFF_BYTES or b"\0" in data:
            return None
        return data.decode("utf-8", "replace")

    def on_web_search(self, data: dict) -> None:
        """A hosted web search (no tool of pixir's runs it): a `search` tool call, announced
        when it starts and updated as the server says what it looks for and finds."""
        search_id = data.get("id")
        if not isinstance(search_id, str) or not search_id:
            return
        update = search_update(data)
        if search_id not in self.searches:
            self.searches.add(search_id)
            update.update(sessionUpdate="tool_call", kind="search")
            update.setdefault("title", "Search the web")
        self.send(update)

    # -- usage -------------------------------------------------------------------------------

    def on_provider_usage(self, data: dict) -> None:
        summary = data.get("usage_summary") or {}
        used = _int(summary.get("input_tokens")) + _int(summary.get("output_tokens"))
        model = str(data.get("model") or "")
        if used:
            self.send(
                {"sessionUpdate": "usage_update", "used": used, "size": self.model_window(model)}
            )


# -- the shapes ---------------------------------------------------------------------------------


def new_message_id() -> str:
    return "msg_" + os.urandom(8).hex()


def message_chunk(kind: str, text: str, message_id: str | None = None) -> dict:
    update: dict = {"sessionUpdate": kind, "content": {"type": "text", "text": text}}
    if message_id is not None:
        update["messageId"] = message_id
    return update


def title_of(text: str) -> str:
    """A session's title: its first prompt, on one line, short — the user's words, not the
    files embedded after them (acp/content.py), or `@path` when there are no words."""
    head, embedded, rest = text.partition('<file path="')
    if embedded and (not head or head.endswith("\n\n")):
        text = head if head.strip() else "@" + rest.split('"', 1)[0]
    line = " ".join(text.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1] + "…"


def tool_call(call_id: str, name: str, args: dict, workspace: Path, status: str) -> dict:
    update = {
        "sessionUpdate": "tool_call",
        "toolCallId": call_id,
        "title": tool_title(name, args),
        "kind": KINDS.get(name, "other"),
        "status": status,
        "rawInput": args,
    }
    locations = tool_locations(name, args, workspace)
    if locations:
        update["locations"] = locations
    return update


def tool_title(name: str, args: dict) -> str:
    path = args.get("path")
    if name == "bash":
        command = " ".join(str(args.get("command") or "").split())
        if len(command) > TITLE_CHARS:
            command = command[: TITLE_CHARS - 1] + "…"
        return f"Run `{command}`"
    if name == "update_plan":
        return "Update the plan"
    if isinstance(path, str) and name in ("read", "write", "edit"):
        return f"{name.capitalize()} {path}"
    return name or "tool"


def tool_locations(name: str, args: dict, workspace: Path) -> list[dict]:
    if name not in ("read", "write", "edit"):
        return []
    absolute = absolute_path(workspace, args.get("path"))
    if absolute is None:
        return []
    location: dict = {"path": absolute}
    offset = args.get("offset")
    if name == "read" and isinstance(offset, int) and not isinstance(offset, bool) and offset > 0:
        location["line"] = offset
    return [location]


def absolute_path(workspace: Path, path: object) -> str | None:
    if not isinstance(path, str) or not path or "\0" in path:
        return None
    return os.path.normpath(os.path.join(workspace, os.path.expanduser(path)))


def plan_entries(args: dict) -> list[dict] | None:
    steps = args.get("steps")
    if not isinstance(steps, list):
        return None
    entries = []
    for step in steps:
        if not isinstance(step, dict) or step.get("status") not in (
            "pending",
            "in_progress",
            "completed",
        ):
            return None
        entries.append(
            {"content": str(step.get("step") or ""), "priority": "medium", "status": step["status"]}
        )
    return entries


def search_update(search: dict) -> dict:
    """A web search's tool_call_update: its status, title once known, sources once found."""
    status = search.get("status")
    update: dict = {
        "sessionUpdate": "tool_call_update",
        "toolCallId": search["id"],
        "status": status if status in ("completed", "failed") else "in_progress",
    }
    if search.get("query"):
        update["title"] = f'Search the web: "{search["query"]}"'
    elif search.get("pattern") and search.get("url"):
        update["title"] = f'Find "{search["pattern"]}" in {search["url"]}'
    elif search.get("url"):
        update["title"] = f"Open {search['url']}"
    raw = {k: search[k] for k in ("action", "query", "url", "pattern") if search.get(k)}
    if raw:
        update["rawInput"] = raw
    sources = [s for s in search.get("sources") or () if isinstance(s, dict) and s.get("url")]
    if sources:
        lines = [f"- {s.get('title') or s['url']}: {s['url']}" for s in sources]
        update["content"] = [text_content("\n".join(lines))]
    return update


def tool_result(call_id: str, name: str, args: dict, data: dict, diff: dict | None) -> dict:
    """The tool_call_update that closes a call: its status and what it produced."""
    ok = bool(data.get("ok"))
    exit_code = data.get("exit_code")
    failed = not ok or (name == "bash" and isinstance(exit_code, int) and exit_code != 0)
    update: dict = {
        "sessionUpdate": "tool_call_update",
        "toolCallId": call_id,
        "status": "failed" if failed else "completed",
    }
    content = result_content(name, data, diff)
    if content:
        update["content"] = content
    raw = {"ok": ok}
    if exit_code is not None:
        raw["exit_code"] = exit_code
    if data.get("error"):
        raw["error"] = data["error"]
    if data.get("summary"):
        raw["summary"] = data["summary"]
    update["rawOutput"] = raw
    return update


def result_content(name: str, data: dict, diff: dict | None) -> list[dict]:
    if not data.get("ok"):
        error = data.get("error") or {}
        message = error.get("message") if isinstance(error, dict) else None
        text = str(message or data.get("summary") or "failed")
        if name == "bash":  # what it printed before a timeout or a cancel
            text = _failed_bash_output(data) or text
        return [text_content(text)]
    if diff is not None:
        return [diff]
    if name == "bash":
        return [text_content(str(data.get("output") or ""))]
    if name == "read":
        return [text_content(str(data.get("summary") or "read"))]
    if name == "update_plan":
        return []
    return [text_content(str(data.get("output") or data.get("summary") or ""))]


def _failed_bash_output(data: dict) -> str | None:
    try:
        body = json.loads(str(data.get("output") or ""))
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    printed = body.get("output")
    message = str(error.get("message") or "")
    return f"{message}\n{printed}" if isinstance(printed, str) and printed else message or None


def text_content(text: str) -> dict:
    return {"type": "content", "content": {"type": "text", "text": text}}


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _is_regular(mode: int) -> bool:
    import stat

    return stat.S_ISREG(mode)


# -- replay -------------------------------------------------------------------------------------


def replay(events: Iterable[dict], workspace: Path, send: Send) -> None:
    """The conversation of a Log as updates (for `session/load`): user text → user chunks,
    answers → agent chunks, tool calls with their results, plans. Not replayed: reasoning,
    and Turns that failed (their error is not part of the conversation)."""
    for turn in _turns(events):
        if any(e.get("type") == "turn_failed" for e in turn):
            continue
        calls: dict[str, dict] = {}
        for event in turn:
            kind, data = event.get("type"), event.get("data") or {}
            if kind == "user_message":
                text = data.get("text") or ""
                if text:
                    send(message_chunk("user_message_chunk", text, new_message_id()))
                for url in data.get("images") or ():
                    send(_image_chunk(url))
            elif kind == "assistant_message":
                text = data.get("text") or ""
                if text:
                    send(message_chunk("agent_message_chunk", text, new_message_id()))
            elif kind == "tool_call":
                call_id, name = str(data.get("call_id")), str(data.get("name") or "")
                args = data.get("args") if isinstance(data.get("args"), dict) else {}
                calls[call_id] = {"name": name, "args": args}
                send(tool_call(call_id, name, args, workspace, "in_progress"))
                if name == "update_plan" and (entries := plan_entries(args)) is not None:
                    send({"sessionUpdate": "plan", "entries": entries})
            elif kind == "web_search_call" and isinstance(data.get("item"), dict):
                from pixir.provider.websearch import summary

                search = summary(data["item"])
                if search.get("id"):
                    announced = {**search_update(search), "sessionUpdate": "tool_call"}
                    announced.setdefault("title", "Search the web")
                    send({**announced, "kind": "search"})
            elif kind == "tool_result":
                call_id = str(data.get("call_id"))
                call = calls.pop(call_id, None)
                if call is None:
                    continue
                diff = _replayed_diff(call["name"], call["args"], data, workspace)
                send(tool_result(call_id, call["name"], call["args"], data, diff))


def _turns(events: Iterable[dict]) -> Iterable[list[dict]]:
    turn: list[dict] = []
    for event in events:
        if event.get("type") == "user_message" and turn:
            yield turn
            turn = []
        turn.append(event)
    if turn:
        yield turn


def _replayed_diff(name: str, args: dict, data: dict, workspace: Path) -> dict | None:
    """What the Log can still show of a change: an edit's replaced and new text; a new
    file's content. (The whole file before the change is not in the Log.)"""
    if not data.get("ok"):
        return None
    absolute = absolute_path(workspace, args.get("path"))
    if absolute is None:
        return None
    if name == "edit" and isinstance(args.get("new_string"), str):
        old = args.get("old_string") if isinstance(args.get("old_string"), str) else None
        return {"type": "diff", "path": absolute, "oldText": old, "newText": args["new_string"]}
    new_file = "(new file)" in str(data.get("output") or "")
    if name == "write" and isinstance(args.get("content"), str) and new_file:
        return {"type": "diff", "path": absolute, "oldText": None, "newText": args["content"]}
    return None


def _image_chunk(url: object) -> dict:
    text = str(url)
    head, _, payload = text.partition(",")
    mime = head[5:].split(";")[0] if head.startswith("data:") else "image/png"
    return {
        "sessionUpdate": "user_message_chunk",
        "content": {"type": "image", "mimeType": mime, "data": payload},
    }
