"""The session Log (docs/log.md): an append-only JSONL file, one Event per line, with one writer
per session held by an exclusive `flock` for the writer's lifetime.

Writes are one `os.write` of one whole line on an `O_APPEND` descriptor (nothing buffered in
the process, so every event is flushed as it is appended); `sync()` fsyncs and is called per
step and per Turn, not per event (an fsync costs ~170 µs). A process killed mid-write leaves a
torn last line: readers ignore it, and the next writer terminates it and appends a
`log_repaired` event naming that line, which readers then skip (see docs/log.md).
"""

from __future__ import annotations

import errno
import fcntl
import gc
import json
import os
import re
import time
from pathlib import Path

from pixir import sanitize
from pixir.errors import PixirError
from pixir.fsutil import fsync_dir

CANONICAL = frozenset(
    {
        "session_started",
        "user_message",
        "assistant_message",
        "reasoning",
        "tool_call",
        "tool_result",
        "provider_usage",
        "turn_failed",
        "turn_interrupted",
        "history_compaction",
        "permission_decision",
        "log_repaired",
        "settings_changed",
        "web_search_call",
    }
)
# Events a compaction never replaces: they are the session's state, not its conversation,
# so a resume that skips the compacted range still reads them.
KEPT_THROUGH_COMPACTION = (b"settings_changed",)
EPHEMERAL = frozenset({"text_delta", "reasoning_delta", "status", "retry", "compaction"})

SESSION_ID_LENGTH = len("20261121T143000-a1b2c3")
PARSE_CHUNK = 1 << 16

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def new_session_id(now: float | None = None) -> str:
    """`20261121T143000-a1b2c3`: UTC time, then 3 random bytes in hex (docs/log.md)."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(time.time() if now is None else now))
    return f"{stamp}-{os.urandom(3).hex()}"


def is_session_id(text: str) -> bool:
    """True for a well-formed session id (which also makes it a safe file name)."""
    return (
        len(text) == SESSION_ID_LENGTH
        and text[8] == "T"
        and text[15] == "-"
        and text[:8].isdigit()
        and text[9:15].isdigit()
        and all(c in "0123456789abcdef" for c in text[16:])
    )


def timestamp(now: float | None = None) -> str:
    """ISO-8601 UTC with microseconds: `2026-11-21T14:30:00.123456Z`."""
    now = time.time() if now is None else now
    seconds = int(now)
    micros = int((now - seconds) * 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micros:06d}Z"


def encode_line(event: dict) -> bytes:
    """One event as one `\\n`-terminated UTF-8 line. A lone surrogate that slipped into a
    string (every source is cleaned before it gets here) is written as U+FFFD rather than
    failing the append or making the Log hold text no request can carry."""
    try:
        return (_dumps(event) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (_dumps(sanitize.deep(event)) + "\n").encode("utf-8")


class Log:
    """The writer of one session's Log. Create with `Log.create` or `Log.open`; holds the
    session's lock until `close()` or process exit."""

    def __init__(self, path: Path, fd: int, session_id: str, next_seq: int) -> None:
        self.path = path
        self.session_id = session_id
        self.next_seq = next_seq
        self._fd = fd

    @classmethod
    def create(cls, path: Path, session_id: str) -> Log:
        """A new, empty, locked Log at `path` (which must not exist)."""
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        _lock(fd, path, session_id)
        fsync_dir(path.parent)
        return cls(path, fd, session_id, 0)

    @classmethod
    def create_with(cls, path: Path, session_id: str, type_: str, data: dict) -> tuple[Log, dict]:
        """A new locked Log at `path` (which must not exist) that holds its first event from
        the moment it has that name: the line is written, synced and locked under a hidden
        temporary name, which is then linked to `path`. A process killed at any point leaves
        no Log or a complete one — never an empty file that `resume --last` would pick and
        fail on. Returns the Log and the event written."""
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        try:
            tmp.unlink(missing_ok=True)  # a leftover of a killed process with our pid
            fd = os.open(tmp, flags, 0o600)
        except OSError:
            log = cls.create(path, session_id)  # no temporary file here: the plain way
            return log, log.append(type_, data)
        log = cls(path, fd, session_id, 0)
        try:
            _lock(fd, path, session_id)
            event = log.append(type_, data)
            log.sync()
            try:
                os.link(tmp, path)  # FileExistsError when the id is taken
            except FileExistsError:
                raise
            except OSError:  # a filesystem without hard links: rename (may replace, rarely)
                if path.exists():
                    raise FileExistsError(path) from None
                os.rename(tmp, path)
        except BaseException:
            log.close()
            tmp.unlink(missing_ok=True)
            raise
        tmp.unlink(missing_ok=True)
        fsync_dir(path.parent)
        return log, event

    @classmethod
    def open(
        cls,
        path: Path,
        session_id: str,
        skip: frozenset[str] = frozenset(),
        skip_compacted: bool = False,
    ) -> tuple[Log, list[dict]]:
        """Lock an existing Log for writing and return it with its events (except those of
        the types in `skip`, left unparsed, and with `skip_compacted` those inside the range
        of the last `history_compaction`, which the fold would replace anyway). A torn last
        line is terminated and recorded first, so what is returned is what every later
        reader sees."""
        fd = _open_log(path, os.O_RDWR | os.O_APPEND, session_id)
        try:
            _lock(fd, path, session_id)
            data = _read_all(fd)
            log = cls(path, fd, session_id, 0)
            torn_line = None
            if data and not data.endswith(b"\n"):
                torn = data[data.rfind(b"\n") + 1 :]
                if _whole_event(torn):
                    data += b"\n"  # only the newline was missing: a complete event now
                else:
                    torn_line = data.count(b"\n") + 1
                os.write(fd, b"\n")
            span = compacted_span(data) if skip_compacted else None
            if span is None:
                events = parse(data, path, skip)  # (a torn line, unterminated here, is ignored)
            else:
                events = _parse_around(data, span, path, skip)
            log.next_seq = _next_seq(data, events)
            if torn_line is not None:
                repaired = {"line": torn_line, "bytes": len(torn)}
                events.append(log.append("log_repaired", repaired))
                log.sync()
        except BaseException:
            os.close(fd)
            raise
        return log, events

    def append(self, type_: str, data: dict) -> dict:
        """Write one canonical event and return it (the full envelope)."""
        seq = self.next_seq
        event = {
            "id": os.urandom(8).hex(),
            "session_id": self.session_id,
            "seq": seq,
            "ts": timestamp(),
            "type": type_,
            "data": data,
        }
        line = encode_line(event)
        view = memoryview(line)
        try:
            while view:  # a regular file writes everything unless the disk is full
                written = os.write(self._fd, view)
                view = view[written:]
        except OSError as exc:
            self._undo(len(line) - len(view))
            raise self._failure(exc, "append to") from None
        self.next_seq = seq + 1
        return event

    def _undo(self, written: int) -> None:
        """Take back the part of a line a failed write left (a full disk writes what fits):
        the Log ends with its last whole event, readable as ever."""
        if not written:
            return
        try:
            os.ftruncate(self._fd, os.fstat(self._fd).st_size - written)
        except OSError:
            pass  # then it is a torn last line, which readers ignore and the next writer marks

    def _failure(self, exc: OSError, doing: str) -> PixirError:
        reason = exc.strerror or str(exc)
        return PixirError(
            "io_error",
            f"cannot {doing} the session Log {self.path}: {reason}",
            {"path": str(self.path), "errno": exc.errno},
            hint="free some space on that disk (or fix what stops the write), then continue "
            f"with `pixir resume {self.session_id}`: the Log keeps every event before this one",
        )

    def sync(self) -> None:
        """Make everything appended so far durable (per step and per Turn)."""
        try:
            os.fsync(self._fd)
        except OSError as exc:
            raise self._failure(exc, "save") from None

    def close(self) -> None:
        """Release the lock. Idempotent."""
        if self._fd >= 0:
            try:
                os.close(self._fd)
            finally:
                self._fd = -1


def not_found(session_id: str) -> PixirError:
    return PixirError(
        "not_found",
        f"no session {session_id!r} in this workspace",
        {"session_id": session_id},
        hint="`pixir sessions` lists this workspace's sessions",
    )


def _open_log(path: Path, flags: int, session_id: str) -> int:
    """An existing Log, never through a symbolic link (a Log shipped as one would be read,
    and appended to, outside the workspace)."""
    try:
        return os.open(path, flags | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise not_found(session_id) from None
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        raise PixirError(
            "unsafe_path",
            f"{path} is a symbolic link; pixir does not follow links out of the workspace",
            {"path": str(path)},
            hint=f"remove the link (rm {path})",
        ) from None


def _lock(fd: int, path: Path, session_id: str) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            err = PixirError(
                "session_busy",
                f"session {session_id} is in use by another pixir process",
                {"session_id": session_id, "path": str(path)},
                hint="wait for it to finish, or start a new session",
            )
            explain_busy(err)
            raise err from None
        raise


def explain_busy(err: PixirError) -> None:
    """Name the process that holds a busy session's lock, when the system tells (Linux)."""
    path = err.details.get("path")
    pid = lock_holder(path) if path else None
    if pid is None:
        return
    err.details["pid"] = pid
    command = _command_line(pid)
    who = f"pid {pid}" + (f" ({command})" if command else "")
    err.hint = f"{who} is running it; wait for it to finish, or start a new session"


def lock_holder(path: str) -> int | None:
    """The pid holding a `flock` on `path`, from /proc/locks (None elsewhere or unknown)."""
    try:
        inode = os.stat(path).st_ino
        with open("/proc/locks", encoding="ascii", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 4242 08:01:1234567 0 EOF"; waiters have "->" first.
        if len(fields) < 6 or fields[1] != "FLOCK":
            continue
        try:
            if int(fields[5].rsplit(":", 1)[1]) == inode:
                return int(fields[4])
        except (IndexError, ValueError):
            continue
    return None


def _command_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            words = fh.read().split(b"\0")
    except OSError:
        return ""
    text = " ".join(w.decode("utf-8", "replace") for w in words if w)
    return text if len(text) <= 80 else text[:79] + "…"


def _read_all(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    chunks = []
    offset = 0
    while True:
        chunk = os.pread(fd, max(size - offset, 1 << 16), offset)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        offset += len(chunk)


def _next_seq(data: bytes, events: list[dict]) -> int:
    """One past the seq of the last complete line (which `skip` may have left unparsed)."""
    end = data.rfind(b"\n")
    last = _event_or_none(data[data.rfind(b"\n", 0, end) + 1 : end]) if end > 0 else None
    if last is None and events:
        last = events[-1]
    if last is None:
        return 0
    seq = last.get("seq")
    return seq + 1 if isinstance(seq, int) else len(events)


def _whole_event(raw: bytes) -> bool:
    try:
        value = json.loads(raw)
    except ValueError:
        return False
    return isinstance(value, dict) and "type" in value and "data" in value


# -- reading --------------------------------------------------------------------------------


def read_events(path: Path) -> list[dict]:
    """Every complete event of a Log, without taking the lock (for `log`, `sessions`)."""
    fd = _open_log(path, os.O_RDONLY, path.stem)
    try:
        data = _read_all(fd)
    finally:
        os.close(fd)
    return parse(data, path)


def parse(
    data: bytes, path: Path | str = "<log>", skip: frozenset[str] = frozenset()
) -> list[dict]:
    """Events of a Log's bytes: a final line without `\\n` is ignored (torn), a line named by
    the `log_repaired` event right after it is skipped, any other bad line is an error that
    names the file and line. Lines whose envelope names a type in `skip` are not decoded
    (resume has no use for `provider_usage`, the heaviest events to decode). Strings come
    back valid: a Log written before every source was cleaned may hold escaped lone
    surrogates, which would make every later request of the session fail to encode."""
    events = _parse(data, path, skip)
    if sanitize.needs_deep(data):
        events = [sanitize.deep(event) for event in events]
    return events


def _parse(data: bytes, path: Path | str, skip: frozenset[str]) -> list[dict]:
    end = data.rfind(b"\n")
    if end < 0:
        return []
    skipped = _lines_of_types(data, end, skip) if skip else []
    events: list[dict] = []
    extend, loads = events.extend, json.loads
    # Fast path: JSONL lines joined by commas are a JSON array, so one json.loads per ~64 KiB
    # of lines (cache-sized pieces beat one huge call by a third). The cyclic GC is paused:
    # the events are acyclic, and its passes over a growing heap cost another third.
    # Per-line parsing only when a piece fails, to name the culprit.
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = 0
        at = 0  # the next line of `skipped`
        while start < end:
            stop = (
                end if end - start <= PARSE_CHUNK else data.rfind(b"\n", start, start + PARSE_CHUNK)
            )
            if stop <= start:  # one line longer than a piece
                stop = data.find(b"\n", start + PARSE_CHUNK)
            if at < len(skipped) and skipped[at][0] < stop:
                parts, position = [], start
                while at < len(skipped) and skipped[at][0] < stop:
                    parts.append(data[position : skipped[at][0]])
                    position = skipped[at][1]
                    at += 1
                parts.append(data[position:stop])
                piece = b"".join(parts).strip(b"\n")
            else:
                piece = data[start:stop]
            if piece:
                try:
                    extend(loads(b"[" + piece.replace(b"\n", b",") + b"]"))
                except ValueError:
                    return _parse_lines(data[:end].split(b"\n"), path)
            start = stop + 1
    finally:
        if enabled:
            gc.enable()
    for event in events:
        if type(event) is not dict or "type" not in event or type(event.get("data")) is not dict:
            return _parse_lines(data[:end].split(b"\n"), path)
    return events


def _lines_of_types(data: bytes, end: int, types: frozenset[str]) -> list[tuple[int, int]]:
    """(start, one past the newline) of every line before `end` whose envelope names one of
    `types`, in order. `bytes.find` (memchr speed) finds candidates and the envelope pattern,
    anchored at the line's start, confirms each (a data object may hold a "type" key of its
    own): only those lines cost Python work, where testing every line cost more."""
    marker = _type_marker(types)
    spans = []
    for name in types:
        needle = b'"type":"' + name.encode() + b'"'
        at = data.find(needle, 0, end)
        while at >= 0:
            start = data.rfind(b"\n", 0, at) + 1
            stop = data.find(b"\n", at, end + 1) + 1
            if marker.match(data, start):
                spans.append((start, stop))
            at = data.find(needle, stop, end)
    spans.sort()
    return spans


# The envelope pixir writes, up to the start of `data` (keys always in this order).
_ENVELOPE = re.compile(
    rb'\{"id":"[0-9a-f]{16}","session_id":"[^"\\]*","seq":(\d+),"ts":"[^"\\]*","type":"(\w+)",'
    rb'"data":'
)
_COMPACTION_AT = b'"type":"history_compaction","data":'


def compacted_span(data: bytes) -> tuple[int, int] | None:
    """Byte offsets `[start, stop)` of the lines of seqs `from_seq..to_seq` of the Log's last
    `history_compaction`, found without decoding them; None when there is none or anything
    looks unusual. Raw newlines and unescaped quotes cannot occur inside a JSON string, so
    a match at a line start is an envelope, never text inside an event."""
    at = data.rfind(_COMPACTION_AT)
    while at >= 0:
        line = data.rfind(b"\n", 0, at) + 1
        match = _ENVELOPE.match(data, line)
        if (
            match
            and match.group(2) == b"history_compaction"
            and match.end() == at + len(_COMPACTION_AT)
        ):
            break
        at = data.rfind(_COMPACTION_AT, 0, at)
    else:
        return None
    end = data.find(b"\n", line)
    event = _event_or_none(data[line:end] if end >= 0 else b"")
    covered = (event or {}).get("data", {}).get("range") or {}
    low, high = covered.get("from_seq"), covered.get("to_seq")
    own = int(match.group(1))
    if not (type(low) is int and type(high) is int and 0 < low <= high < own):
        return None
    start = _line_of_seq(data, low, 0, line, forward=True)
    stop = _line_of_seq(data, high + 1, start or 0, end, forward=False)
    if start is None or stop is None or stop <= start:
        return None
    return start, stop


def _kept_in(data: bytes, span: tuple[int, int], path) -> list[dict]:
    """The events of KEPT_THROUGH_COMPACTION inside `span`, found without decoding the rest:
    a line whose envelope names one of those types."""
    kept = []
    for kind in KEPT_THROUGH_COMPACTION:
        needle = b'"type":"' + kind + b'","data":'
        at = data.find(needle, span[0], span[1])
        while at >= 0:
            line = data.rfind(b"\n", 0, at) + 1
            end = data.find(b"\n", at)
            match = _ENVELOPE.match(data, line)
            if match and match.group(2) == kind and match.end() == at + len(needle):
                kept += parse(data[line : end + 1], path, frozenset())
            at = data.find(needle, end, span[1]) if end >= 0 else -1
    kept.sort(key=lambda event: event["seq"])
    return kept


def _line_of_seq(data: bytes, seq: int, lo: int, hi: int, forward: bool) -> int | None:
    """Offset of the line whose envelope has `seq`, searched within `[lo, hi)`."""
    needle = b',"seq":%d,"ts":"' % seq  # the digits start len(',"seq":') == 7 bytes in
    find = data.find if forward else data.rfind
    at = find(needle, lo, hi)
    while at >= 0:
        line = data.rfind(b"\n", 0, at) + 1
        match = _ENVELOPE.match(data, line)
        if match and int(match.group(1)) == seq and match.start(1) == at + 7:
            return line
        at = find(needle, at + 1, hi) if forward else find(needle, lo, at)
    return None


def _parse_around(data: bytes, span: tuple[int, int], path, skip) -> list[dict]:
    """Events outside `span`, and those inside it that a compaction keeps (the session's
    settings). The general parse of the whole Log decides whenever the two
    parts do not parse on their own (a repaired torn line next to the span, whose marker
    names line numbers of the whole file)."""
    try:
        kept = _kept_in(data, span, path)
        return parse(data[: span[0]], path, skip) + kept + parse(data[span[1] :], path, skip)
    except PixirError:
        return parse(data, path, skip)


def _type_marker(skip: frozenset[str]):
    """A regex matching the start of a line pixir wrote for an event of a type in `skip`
    (None when nothing is skipped): the envelope keys come in a fixed order, so the type is
    recognised before any data, which could contain the same text."""
    if not skip:
        return None
    names = b"|".join(re.escape(name.encode()) for name in sorted(skip))
    return re.compile(
        rb'\{"id":"[0-9a-f]{16}","session_id":"[^"]*","seq":\d+,"ts":"[^"]*","type":"(?:'
        + names
        + rb')"'
    )


def _parse_lines(lines: list[bytes], path: Path | str) -> list[dict]:
    events: list[dict] = []
    skip: int | None = None
    for number, raw in enumerate(lines, 1):
        if number == skip or not raw.strip():
            continue
        event = _event_or_none(raw)
        if event is None:
            following = _event_or_none(lines[number]) if number < len(lines) else None
            if (
                following is not None
                and following.get("type") == "log_repaired"
                and following.get("data", {}).get("line") == number
            ):
                continue
            raise PixirError(
                "corrupt_log",
                f"{path}: line {number} is not a valid Log event",
                {"path": str(path), "line": number},
                hint="the Log was changed by something other than pixir; move the file away "
                "or fix that line",
            )
        events.append(event)
    return events


def _event_or_none(raw: bytes) -> dict | None:
    try:
        value = json.loads(raw)
    except UnicodeDecodeError:  # bytes that are not UTF-8: a readable line all the same
        try:
            value = json.loads(raw.decode("utf-8", "replace"))
        except ValueError:
            return None
    except ValueError:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        return None
    if not isinstance(value.get("data"), dict):
        return None
    return value
