"""Sessions (docs/log.md): create, find, resume and list the Logs of a workspace. An open
Session owns its Log's lock and a History kept in step with every append."""

from __future__ import annotations

import gc
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from pixir import __version__, paths
from pixir.errors import PixirError
from pixir.history import History
from pixir.interrupt import shielded
from pixir.log import CANONICAL, Log, is_session_id, new_session_id, not_found, read_events
from pixir.tools.permissions import narrowest

# What a `settings_changed` event may record (docs/log.md).
SETTINGS = ("model", "permission_mode", "reasoning_effort")
# Events a resume need not decode: the fold ignores them, and usage records are the
# heaviest lines to parse (a fifth of the events of a tool loop).
NOT_FOLDED = frozenset({"provider_usage"})


@dataclass
class Session:
    """One session open for writing: its Log (locked), its History, and what it runs with."""

    id: str
    workspace: Path
    log: Log
    history: History
    model: str
    permission_mode: str
    started: dict  # the session_started data
    # Appends from two threads (an editor's mode change while a Turn runs) take turns.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def append(self, type_: str, data: dict) -> dict:
        """Append a canonical event and fold it into the History, as one step that a first
        Ctrl-C cannot split (and another thread cannot interleave with). A type outside
        log.CANONICAL is a bug: ValueError, and nothing is written (docs/log.md lists the
        types; a new one is added there and to CANONICAL)."""
        if type_ not in CANONICAL:
            raise ValueError(f"{type_!r} is not a Log event type (log.CANONICAL)")
        with self._lock, shielded:
            event = self.log.append(type_, data)
            self.history.add(event)
        return event

    def sync(self) -> None:
        self.log.sync()

    def refold(self, model: str) -> None:
        """Run with `model` from now on: the History is folded again from the Log (encrypted
        reasoning is bound to its model), without letting go of the lock."""
        with self._lock, shielded:
            self.history = History.fold(read_events(self.path), model)
            self.model = model

    def close(self) -> None:
        self.log.close()

    @property
    def path(self) -> Path:
        return self.log.path


def create(
    workspace: Path,
    *,
    model: str,
    transport: str,
    permission_mode: str,
    store: Path | None = None,
) -> Session:
    """A new session with its `session_started` event written and synced, kept under
    `store` (the directory whose `.pixir/sessions` holds it; default: the workspace)."""
    folder = paths.ensure_sessions_dir(store or workspace)
    started = {
        "workspace": str(workspace),
        "model": model,
        "transport": transport,
        "permission_mode": permission_mode,
        "pixir_version": __version__,
    }
    for _ in range(5):  # 3 random bytes per second: a collision is rare, retrying is cheap
        session_id = new_session_id()
        try:
            # The Log appears with its session_started line already in it (a crash can leave
            # no session, never an empty one).
            with shielded:
                log, event = Log.create_with(
                    folder / f"{session_id}.jsonl", session_id, "session_started", started
                )
            break
        except FileExistsError:
            continue
    else:
        raise PixirError("internal", "could not allocate a new session id")
    session = Session(session_id, workspace, log, History(model), model, permission_mode, started)
    session.history.add(event)
    return session


def resume(
    store: Path, ref: str | None, *, model: str | None, permission_mode: str
) -> tuple[Session, list[dict]]:
    """Open an existing session of `store` for writing (`ref` None: the most recent one),
    in the workspace it recorded (`workspace_of`). `model` None keeps the recorded model;
    the permission mode is never wider than the recorded
    one. Returns the session and the events read: not `provider_usage`, nor those a
    compaction replaced (the fold would drop them; skipping them keeps a long session's
    resume fast)."""
    session_id = find(store, ref)
    path = paths.sessions_dir(store) / f"{session_id}.jsonl"
    log, events = Log.open(path, session_id, skip=NOT_FOLDED, skip_compacted=True)
    try:
        started = next((e["data"] for e in events if e["type"] == "session_started"), {})
        chosen = choices(events)
        active_model = model or chosen.get("model")
        if not active_model:
            raise PixirError("corrupt_log", f"{path}: no session_started event with a model")
        mode = narrowest(chosen.get("permission_mode"), permission_mode)
        workspace = workspace_of(started, store)
        history = History.fold(events, active_model)
        # What was just loaded lives as long as the process: keep the cyclic GC from walking
        # it again on every later collection.
        gc.freeze()
    except BaseException:
        log.close()
        raise
    return Session(session_id, workspace, log, history, active_model, mode, started), events


def choices(events: list[dict]) -> dict:
    """The session's settings as last chosen: `model` and `permission_mode` from
    `session_started`, then every `settings_changed` on top (whose `reasoning_effort` may
    be None: the default, chosen again)."""
    out: dict = {}
    for event in events:
        kind, data = event.get("type"), event.get("data") or {}
        if kind == "session_started":
            out.update({key: data[key] for key in ("model", "permission_mode") if data.get(key)})
        elif kind == "settings_changed":
            out.update({key: data[key] for key in SETTINGS if key in data})
    return out


@dataclass
class Peek:
    """A session as the next Turn would see it, read without its lock."""

    id: str
    model: str
    permission_mode: str
    history: History
    workspace: Path


def peek(
    store: Path, ref: str | None, *, model: str | None = None, permission_mode: str = "auto"
) -> Peek:
    """A session read without taking its lock and without writing anything (for `pixir
    preview --session`), with the model, permission mode and workspace a resume would use.
    Calls left open are closed in the History exactly as the next Turn will close them."""
    session_id, events = events_of(store, ref)
    started = next((e["data"] for e in events if e["type"] == "session_started"), {})
    chosen = choices(events)
    active = model or chosen.get("model")
    if not active:
        raise PixirError("corrupt_log", f"session {session_id} has no session_started model")
    mode = narrowest(chosen.get("permission_mode"), permission_mode)
    history = History.fold(events, active)
    return Peek(session_id, active, mode, history, workspace_of(started, store))


def workspace_of(started: dict, store: Path) -> Path:
    """The workspace a resumed session works in: the one it recorded, when that is `store`
    or inside it and still a directory; else `store` itself (a repository that moved or was
    copied: the recorded path would be another copy's)."""
    recorded = started.get("workspace")
    if isinstance(recorded, str) and recorded:
        path = Path(recorded)
        if (path == store or store in path.parents) and path.is_dir():
            return path
    return store


def find(store: Path, ref: str | None) -> str:
    """The session id `ref` names among `store`'s sessions: an exact id, a unique prefix,
    or None for the most recently active session."""
    folder = paths.sessions_dir(store)
    if ref is not None and is_session_id(ref):
        if not os.path.isfile(folder / f"{ref}.jsonl"):
            raise not_found(ref)
        return ref
    names = _session_files(folder)
    if ref is None:
        if not names:
            raise PixirError(
                "not_found",
                "no sessions in this workspace yet",
                {"workspace": str(store)},
                hint='start one with `pixir "your task"`',
            )
        return _latest(names).stem
    matches = [p.stem for p in names if p.stem.startswith(ref)] if ref else []
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise PixirError(
            "invalid_arguments",
            f"{ref!r} matches {len(matches)} sessions: {', '.join(sorted(matches)[:5])}",
            {"matches": sorted(matches)},
        )
    raise not_found(ref)


def _latest(names: list[Path]) -> Path:
    """The Log written last. Files written within one tick of the kernel's clock share an
    mtime (two quick runs, a resume and a new session), so ties go to the time of the last
    event, which has microseconds."""
    stamped = [(p.stat().st_mtime_ns, p) for p in names]
    newest = max(ns for ns, _ in stamped)
    tied = [p for ns, p in stamped if ns == newest]
    if len(tied) == 1:
        return tied[0]
    return max(tied, key=lambda p: (_last_ts(p), p.stem))


def _last_ts(path: Path) -> bytes:
    """The `ts` of the Log's last complete line (b"" when none is found in its tail)."""
    with open(path, "rb") as file:
        size = file.seek(0, os.SEEK_END)
        file.seek(max(0, size - 65536))
        tail = file.read()
    end = tail.rfind(b"\n")
    at = tail.rfind(b',"ts":"', 0, end)
    return tail[at + 7 : tail.find(b'"', at + 7)] if at >= 0 else b""


def _session_files(folder: Path) -> list[Path]:
    """The Logs in `folder`: regular files with a session id as their name (a link is not
    a session pixir wrote, and following it would read outside the workspace)."""
    try:
        with os.scandir(folder) as entries:
            return [
                Path(entry.path)
                for entry in entries
                if entry.name.endswith(".jsonl")
                and is_session_id(entry.name[: -len(".jsonl")])
                and entry.is_file(follow_symlinks=False)
            ]
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:  # another user's folder, say
        raise PixirError(
            "io_error",
            f"cannot read the session folder {folder}: {exc.strerror or exc}",
            {"path": str(folder)},
            hint="run pixir as the user who owns it, or fix its permissions",
        ) from None


# -- listing ---------------------------------------------------------------------------------

USER_MESSAGE = b'"type":"user_message"'
SETTINGS_CHANGED = b'"type":"settings_changed"'


@dataclass
class SessionInfo:
    id: str
    path: Path
    started: str | None
    last_activity: str | None
    turns: int
    first_prompt: str
    model: str | None
    workspace: str | None = None  # the one it recorded (session_started)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "started": self.started,
            "last_activity": self.last_activity,
            "turns": self.turns,
            "first_prompt": self.first_prompt,
            "model": self.model,
            "path": str(self.path),
        }


def list_sessions(store: Path) -> list[SessionInfo]:
    """The sessions kept under `store`, most recent activity first. Cheap per session: one
    read, a byte count of user messages, and three lines parsed."""
    infos = [_info(path) for path in _session_files(paths.sessions_dir(store))]
    readable = [info for info in infos if info is not None]
    return sorted(readable, key=lambda i: (i.last_activity or "", i.id), reverse=True)


def _info(path: Path) -> SessionInfo | None:
    """What the listing shows of one Log; None for one this user may not read."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    end = data.rfind(b"\n")
    first = _line_event(data, 0)
    last = _line_event(data, data.rfind(b"\n", 0, end) + 1) if end > 0 else None
    at = data.find(USER_MESSAGE)
    prompt_event = _line_event(data, data.rfind(b"\n", 0, at) + 1) if at >= 0 else None
    prompt = ""
    if prompt_event is not None:
        prompt = " ".join(str(prompt_event["data"].get("text", "")).split())
    started = first.get("data", {}) if first and first.get("type") == "session_started" else {}
    return SessionInfo(
        id=path.stem,
        path=path,
        started=first.get("ts") if first else None,
        last_activity=last.get("ts") if last else None,
        turns=data.count(USER_MESSAGE),
        first_prompt=prompt,
        model=_chosen_model(data, end) or started.get("model"),
        workspace=started.get("workspace") if isinstance(started.get("workspace"), str) else None,
    )


def _chosen_model(data: bytes, end: int) -> str | None:
    """The model of the last `settings_changed` that chose one (`/model`, ACP), if any."""
    at = data.rfind(SETTINGS_CHANGED, 0, end)
    while at >= 0:
        start = data.rfind(b"\n", 0, at) + 1
        event = _line_event(data, start)
        model = (event or {}).get("data", {}).get("model")
        if isinstance(model, str) and model:
            return model
        at = data.rfind(SETTINGS_CHANGED, 0, start)
    return None


def _line_event(data: bytes, start: int) -> dict | None:
    end = data.find(b"\n", start)
    if end < 0:
        return None
    try:
        value = json.loads(data[start:end])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


TOTAL_KEYS = ("input_tokens", "cached_tokens", "output_tokens", "reasoning_tokens")


def totals(path: Path | None) -> dict:
    """Turns (user messages) and tokens (every model call's `provider_usage`, compaction
    summaries included) of a whole session, read from its Log; zeros for `path` None."""
    counts = dict.fromkeys(("turns", *TOTAL_KEYS), 0)
    if path is None:
        return counts
    for event in read_events(path):
        kind = event["type"]
        if kind == "user_message":
            counts["turns"] += 1
        elif kind == "provider_usage":
            summary = event["data"].get("usage_summary") or {}
            for key in TOTAL_KEYS:
                value = summary.get(key) if isinstance(summary, dict) else None
                if type(value) is int:
                    counts[key] += value
    return counts


def events_of(store: Path, ref: str | None) -> tuple[str, list[dict]]:
    """(session id, events) of a session, read without the lock (for `pixir log`)."""
    session_id = find(store, ref)
    return session_id, read_events(paths.sessions_dir(store) / f"{session_id}.jsonl")
