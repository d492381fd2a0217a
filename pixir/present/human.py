"""The terminal presenter (docs/terminal.md): the answer on stdout, and everything else on
stderr — reasoning summaries (dimmed), tool activity with a failed command's last lines and
the diff of a write or edit, plan updates, permission refusals, retries, a spinner while
waiting (stderr on a terminal only), errors with their hint, a closing line with the model,
tokens and time, and the session id with the command that continues it.

stdout on a terminal streams the answer (as light Markdown when colour is on); any other
stdout receives the final answer once, when the Turn ends — never the partial attempt of a
retried stream, nor a note written before tool calls — so `pixir "…" > file` holds exactly
the answer, its bytes as they are. Text from the model, tools or the server reaches a
terminal through `sanitize.terminal` (control characters made visible).

A small Event consumer: one `on_<type>` method per Event type it shows (looked up once, so
a text delta costs one dict lookup and one write), and `finish(outcome, ...)` at the end.
"""

from __future__ import annotations

import os
import sys
import time

from pixir.errors import WAIT_FOR_RESET
from pixir.interrupt import OutputClosed
from pixir.present import results
from pixir.sanitize import is_terminal, terminal

PLAN_MARKS = {"completed": "[x]", "in_progress": "[>]", "pending": "[ ]"}
MAX_ARG_CHARS = 120
MAX_SOURCES = 10  # sources listed after an answer; the rest are counted

# SGR codes; used only when colour is on (a terminal, no NO_COLOR, not TERM=dumb).
DIM, BOLD, RED, GREEN, YELLOW, CYAN = "2", "1", "31", "32", "33", "36"
MAX_LINE_CHARS = 240  # of a command's output line or a diff line shown on stderr


def color_wanted(stream) -> bool:
    """Colour only on a terminal, without NO_COLOR (any value, https://no-color.org), and
    not on a dumb terminal."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("TERM") == "dumb":
        return False
    return is_terminal(stream)


def _one_line(text: str, limit: int = MAX_ARG_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _inert(text: object, limit: int = MAX_ARG_CHARS) -> str:
    """A server's words (a query, a title, a url) on one line, no control byte live."""
    return _one_line(terminal(str(text)), limit)


def search_line(search: dict) -> str | None:
    """`› web search "query"` (or the page opened, the text looked for), None while the
    search does not say yet what it does."""
    if search.get("query"):
        return f'› web search "{_inert(search["query"])}"'
    if search.get("pattern") and search.get("url"):
        return f'› find "{_inert(search["pattern"], 60)}" in {_inert(search["url"])}'
    if search.get("url"):
        return f"› open {_inert(search['url'])}"
    return None


def source_lines(outcome) -> list[str]:
    """The sources of an answer, numbered: its citations, else what its searches found."""
    sources = list(getattr(outcome, "citations", None) or ())
    if not sources:
        for search in getattr(outcome, "web_searches", None) or ():
            for found in search.get("sources") or ():
                if found["url"] not in {s["url"] for s in sources}:
                    sources.append(found)
    if not sources:
        return []
    lines = ["Sources:"]
    for n, source in enumerate(sources[:MAX_SOURCES], 1):
        title = _inert(source.get("title") or "", 80)
        url = _inert(source["url"], 200)
        lines.append(f"  {n}. {title} — {url}" if title else f"  {n}. {url}")
    if len(sources) > MAX_SOURCES:
        lines.append(f"  … and {len(sources) - MAX_SOURCES} more (--json lists them all)")
    return lines


def report(err, stream=None, *, color: bool | None = None) -> bool:
    """Print an error the one way people see errors (the command line's failures, a
    Turn's, the REPL's): `error_lines` on `stream` (stderr), coloured on a terminal. False
    when the stream is gone (a terminal that hung up, a closed pipe): that is no error of
    its own — the exit code and the Log still say what happened."""
    stream = stream or sys.stderr
    if color is None:
        color = color_wanted(stream)
    try:
        stream.write("".join(line + "\n" for line in error_lines(err, color=color)))
        stream.flush()
    except OSError:
        return False
    return True


def _clip(line: str, limit: int = MAX_LINE_CHARS) -> str:
    line = line.rstrip()
    return line if len(line) <= limit else line[: limit - 1] + "…"


def tokens(count: int) -> str:
    """`987`, `12.3k`, `1.2M`."""
    if count < 1000:
        return str(count)
    if count < 1_000_000:
        return f"{count / 1000:.1f}k".replace(".0k", "k")
    return f"{count / 1_000_000:.1f}M".replace(".0M", "M")


def usage_line(model: str, usage: dict, seconds: float) -> str:
    """The Turn's closing line: `gpt-5.5 · 12.3k in (9.8k cached) / 456 out · 4.2 s`."""
    inputs, cached = usage.get("input_tokens") or 0, usage.get("cached_tokens") or 0
    out = usage.get("output_tokens") or 0
    spent = f"{tokens(inputs)} in ({tokens(cached)} cached) / {tokens(out)} out"
    return f"{model} · {spent} · {seconds:.1f} s"


def diff_lines(diff: str, limit: int = results.DIFF_LINES) -> list[tuple[str, str]]:
    """A unified diff as (line, SGR code) pairs for stderr: additions green, removals red,
    hunk heads cyan, context dim; capped at `limit` lines, then a count of the rest."""
    body, extra = results.diff_body(diff)
    shown, hidden = results.cap(body, limit)
    out = []
    for line in shown:
        if line.startswith("+"):
            code = GREEN
        elif line.startswith("-"):
            code = RED
        elif line.startswith("@@"):
            code = CYAN
        else:
            code = DIM
        out.append((f"    {_clip(line)}", code))
    if hidden + extra:
        out.append((f"    … {results.count_note(hidden + extra, 'more line')}", DIM))
    return out


def display_width(text: str) -> int:
    """Terminal columns `text` takes (East Asian wide characters count two)."""
    if text.isascii():
        return len(text)
    from unicodedata import east_asian_width

    return sum(2 if east_asian_width(char) in "WF" else 1 for char in text)


def error_lines(err, *, color: bool = False) -> list[str]:
    """`error: <kind>: <message>`, and `hint: <next step>` when there is one."""
    said = terminal(f"{err.kind}: {err.message}")  # messages quote servers and files
    head = f"error: {said}"
    if color:
        head = f"\x1b[{BOLD};{RED}merror:\x1b[0m {said}"
    lines = [head]
    hint = hint_for(err)
    if hint:
        lines.append(f"hint: {terminal(hint)}")
    return lines


def hint_for(err) -> str | None:
    """The error's next step, made concrete where the details allow: "wait for the reset"
    of a usage limit becomes when, in local time (the rest of the hint is kept: what else
    to do depends on the credential)."""
    hint = getattr(err, "hint", None)
    details = getattr(err, "details", None) or {}
    resets = details.get("resets_at")
    if hint and hint.startswith(WAIT_FOR_RESET) and isinstance(resets, (int, float)):
        at = time.localtime(resets)
        day = "" if at.tm_yday == time.localtime().tm_yday else time.strftime(" on %a %d %b", at)
        when = f"try again after {time.strftime('%H:%M', at)}{day} (local time)"
        return when + hint[len(WAIT_FOR_RESET) :]
    return hint


class HumanPresenter:
    """Call with each Event; `finish` prints the closing lines (`end_turn` without the
    session footer, for the REPL)."""

    def __init__(
        self,
        out=None,
        err=None,
        *,
        quiet: bool = False,
        color: bool | None = None,
        spinner: bool | None = None,
        markdown: bool | None = None,
    ):
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.quiet = quiet
        self.color = color_wanted(self.err) if color is None else color
        if spinner is None:
            spinner = not quiet and is_terminal(self.err) and os.environ.get("TERM") != "dumb"
        self.spinner = None
        if spinner:
            from pixir.present.spinner import Spinner

            self.spinner = Spinner(self.err, dim=self.color)
        self._out_tty = is_terminal(self.out)
        self._stream = self._out_tty  # stream the answer; else write it once at the end
        if markdown is None:
            markdown = self._stream and color_wanted(self.out)
        self._markdown = markdown
        self._md = None  # the current message's MarkdownStream
        self.closed = False  # stdout's reader went away
        self._err_gone = False  # stderr cannot be written any more
        self._streamed = False  # text of the current message already shown
        self._out_open_line = False  # stdout does not end with a newline
        self._column = 0  # of the answer's cursor on a shared terminal (for the spinner)
        self._err_open_line = False  # a reasoning line on stderr is still open
        self._denied: set[str] = set()  # calls whose refusal was already shown
        self._plans: set[str] = set()  # update_plan calls (their ✓ line says nothing new)
        self._searches: set[str] = set()  # web searches already shown
        self._names: dict[str, str] = {}  # call_id → tool name, until its result
        self._previewed: set[str] = set()  # calls whose change --ask showed before a yes
        self.transport: str | None = None  # the last call's wire transport (for /status)
        self._model: str | None = None  # of the last model call (for the closing line)
        self._began: float | None = None  # when the Turn's user message was written
        self._handlers = {
            name[3:]: getattr(self, name) for name in dir(type(self)) if name.startswith("on_")
        }

    def __call__(self, event: dict) -> None:
        handler = self._handlers.get(event["type"])
        if handler is not None:
            handler(event["data"])

    # -- writing -----------------------------------------------------------------------------

    def paint(self, text: str, *codes: str) -> str:
        return f"\x1b[{';'.join(codes)}m{text}\x1b[0m" if self.color and codes else text

    def write_out(self, text: str) -> None:
        """Write to stdout: made inert on a terminal, as it is elsewhere."""
        if self._out_tty:
            text = terminal(text)
        self._emit_out(text)

    def _emit_out(self, text: str) -> None:
        if self.closed or not text:
            return
        if self.spinner is not None and self.spinner.active:
            self.spinner.hide()
        # Set first: a Ctrl-C landing inside the write must still leave a closing newline.
        self._out_open_line = not text.endswith("\n")
        try:
            self.out.write(text)
            self.out.flush()
        except BrokenPipeError:
            self.closed = True
            raise OutputClosed from None
        except OSError:  # EIO: the terminal hung up (SIGHUP follows and stops the Turn)
            self.closed = True

    def _err(self, text: str) -> None:
        """Write to stderr; a terminal that hung up (EIO) or a closed pipe is not an error
        of the Turn: what matters is in the Log."""
        if self._err_gone:
            return
        try:
            self.err.write(text)
            self.err.flush()
        except OSError:
            self._err_gone = True

    def end_out_line(self) -> None:
        self._end_markdown()
        if self._out_open_line:
            self._emit_out("\n")
        self._column = 0

    def _end_markdown(self) -> None:
        md, self._md = self._md, None
        if md is not None:
            self._emit_out(md.flush())

    def note(self, text: str, *codes: str, always: bool = False) -> None:
        """One line of activity on stderr (suppressed with --quiet unless `always`)."""
        if self.quiet and not always:
            return
        self._quiet_terminal()
        self._end_err_line()
        self._err(self.paint(terminal(text), *codes) + "\n")

    def _quiet_terminal(self) -> None:
        """Before anything goes to stderr: no spinner, and the answer's line ended when it
        shares the terminal."""
        if self.spinner is not None and self.spinner.active:
            self.spinner.hide()
        if self._out_open_line and self._out_tty:
            try:
                self.end_out_line()
            except OutputClosed:
                pass

    def _end_err_line(self) -> None:
        if self._err_open_line:
            self._err("\n")
            self._err_open_line = False

    def _spin(self, label: str) -> None:
        """Show the spinner, unless a line is open where it would be drawn."""
        if self.spinner is None or self._err_open_line:
            return
        if self._out_open_line and self._out_tty:
            return
        self.spinner.show(_one_line(terminal(label), 40))

    def _answer(self, chunk: str) -> None:
        """Show a piece of the answer on a terminal stdout, then watch for a stall: the
        spinner comes back after the text when nothing arrives for a while."""
        chunk = terminal(chunk)
        if self._markdown:
            if self._md is None:
                from pixir.present.markdown import MarkdownStream

                self._md = MarkdownStream()
            self._emit_out(self._md.feed(chunk))
        else:
            self._emit_out(chunk)
        line = chunk.rpartition("\n")
        self._column = display_width(line[2]) + (0 if line[1] else self._column)
        if self.spinner is not None and not self._err_open_line:
            from pixir.present.spinner import STALL_S

            column = self._column if self._out_open_line else None
            self.spinner.show("waiting", grace=STALL_S, column=column)

    # -- Events ------------------------------------------------------------------------------

    def on_user_message(self, data: dict) -> None:
        self._began = time.monotonic()

    def on_text_delta(self, data: dict) -> None:
        if not self._stream:  # the answer is written once, when the Turn ends
            if not self._streamed:
                self._streamed = True
                self._spin("writing")
            return
        if self._err_open_line:
            self._end_err_line()
        self._streamed = True
        self._answer(data["chunk"])

    def on_reasoning_delta(self, data: dict) -> None:
        if self.quiet:
            return
        self._quiet_terminal()
        self._err(self.paint(terminal(data["chunk"]), DIM))
        self._err_open_line = True

    def on_status(self, data: dict) -> None:
        status = data.get("status")
        if status == "requesting":
            self._spin("thinking")
        elif status == "running_tool":
            self._spin(str(data.get("tool") or "tool"))
        elif status == "compacting":
            self._spin("compacting")

    def on_notice(self, data: dict) -> None:
        self.note(f"warning: {data.get('text')}", YELLOW)

    def on_retry(self, data: dict) -> None:
        if self._streamed and self._stream:  # the restart resends the answer: end what
            self.end_out_line()  # was shown of it
        self._streamed = False
        kind = data.get("error_kind") or "error"
        delay = data.get("delay_s")
        when = [f"retry {data['attempt']}"] if data.get("attempt") else []
        if isinstance(delay, (int, float)):
            when.append(f"in {delay:.1f} s")
        self.note(f"[retrying: {kind}" + (f" ({', '.join(when)})]" if when else "]"), YELLOW)
        self._spin("retrying")

    def on_assistant_message(self, data: dict) -> None:
        streamed, self._streamed = self._streamed, False
        if not self._stream:
            return
        if data.get("finish_reason") == "max_steps":  # said by the error line at the end
            self.end_out_line()
            return
        if not streamed and not data.get("partial"):  # no deltas came (a whole message)
            self._answer(data.get("text") or "")
        self.end_out_line()

    def on_tool_call(self, data: dict) -> None:
        if self._stream:
            self.end_out_line()
        self._streamed = False
        name, args = data.get("name", "?"), data.get("args")
        args = args if isinstance(args, dict) else {}
        call_id = data.get("call_id")
        if isinstance(call_id, str):
            self._names[call_id] = str(name)
        if name == "bash":
            self.note(f"› bash {_one_line(args.get('command', ''))}", BOLD)
        elif name == "update_plan":
            self._plans.add(call_id)
            self.note("› plan", BOLD)
            for step in args.get("steps") or ():
                if isinstance(step, dict):
                    mark = PLAN_MARKS.get(step.get("status"), "[?]")
                    self.note(f"  {mark} {_one_line(step.get('step', ''))}")
        elif "path" in args:
            self.note(f"› {name} {_one_line(args['path'])}", BOLD)
        else:
            self.note(f"› {name}", BOLD)

    def on_web_search(self, data: dict) -> None:
        """A hosted search: one line when it says what it looks for, and one if it fails."""
        search_id = data.get("id") or ""
        line = search_line(data)
        if line is not None and search_id not in self._searches:
            self._searches.add(search_id)
            self.end_out_line()
            self._streamed = False
            self.note(line, BOLD)
        if data.get("status") == "failed":
            self.note("  ✗ web search failed", RED)
        elif data.get("status") in ("in_progress", "searching"):
            self._spin("searching the web")

    def on_permission_decision(self, data: dict) -> None:
        if data.get("decision") == "approved":
            if data.get("asked"):  # its diff was on the screen a moment ago
                self._previewed.add(data.get("call_id"))
            return
        self._denied.add(data.get("call_id"))
        reason = _one_line(data.get("reason") or "refused")
        self.note(f"  ✗ refused ({data.get('mode')}): {reason}", RED, always=True)

    def on_tool_result(self, data: dict) -> None:
        call_id = data.get("call_id")
        name = self._names.pop(call_id, None) if isinstance(call_id, str) else None
        if call_id in self._denied:
            self._denied.discard(call_id)
            return
        if call_id in self._plans and data.get("ok"):
            self._plans.discard(call_id)
            return
        if name == "bash" or "exit_code" in data:
            self._command_result(data)
        elif data.get("ok"):
            self.note(f"  ✓ {data.get('summary') or 'done'}", GREEN)
            if name in ("write", "edit") and not self._was_previewed(call_id):
                for line, code in diff_lines(results.diff_of(data)):
                    self.note(line, code)
        else:
            self._failure_line(data)

    def _was_previewed(self, call_id) -> bool:
        if call_id in self._previewed:
            self._previewed.discard(call_id)
            return True
        return False

    def _failure_line(self, data: dict) -> None:
        error = data.get("error") or {}
        kind = error.get("kind", "failed")
        self.note(f"  ✗ {kind}: {_one_line(error.get('message', ''))}", RED)

    def _command_result(self, data: dict) -> None:
        """`✓ exit 0 · 0.4 s · 12 lines`; a command that failed: its last lines, dimmed."""
        lines = results.output_lines(results.command_output(data))
        total = max(results.line_count(data), len(lines))
        if not results.failed(data):
            count = results.count_note(total) if total else "no output"
            self.note(f"  ✓ {data.get('summary') or 'done'} · {count}", GREEN)
            return
        if data.get("ok"):
            self.note(f"  ✗ {data.get('summary') or 'failed'}", RED)
        else:
            self._failure_line(data)
        # the last lines that say something: a blank line is not worth one of the six
        said = [at for at, line in enumerate(lines) if line.strip()][-results.TAIL_LINES :]
        before = (said[0] if said else len(lines)) + total - len(lines)
        if before:
            self.note(f"    … {results.count_note(before)} before", DIM)
        for at in said:
            self.note(f"    {_clip(lines[at])}", DIM)

    def on_provider_usage(self, data: dict) -> None:
        transport = data.get("active_transport") or data.get("transport")
        if isinstance(transport, str):
            self.transport = transport
        if isinstance(data.get("model"), str):
            self._model = data["model"]

    def on_compaction(self, data: dict) -> None:
        if self._stream:
            self.end_out_line()
        self._streamed = False
        freed = data.get("tokens_freed") or 0
        shown = f"{round(freed / 1000)}k" if freed >= 1000 else str(freed)
        line = f"[compacted: {data.get('events')} events → summary, ~{shown} tokens freed"
        if data.get("strategy") == "deterministic":
            kind = (data.get("fallback") or {}).get("kind", "error")
            line += f"; summary written without the model ({kind})"
        if data.get("trigger") == "overflow":
            line += "; retrying"
        self.note(line + "]")
        self._spin("thinking")  # the step's own call follows

    def on_turn_interrupted(self, data: dict) -> None:
        if self._stream:
            self.end_out_line()
        if data.get("reason") == "sigint":
            self.note("interrupted", YELLOW, always=True)

    # -- the end -----------------------------------------------------------------------------

    def end_turn(self, outcome) -> None:
        """Close the answer's line (or, off a terminal, write the final answer), stop the
        spinner, report the error if any, and give the Turn's closing line."""
        if self.spinner is not None:
            self.spinner.hide()
        try:
            self.end_out_line()
            if not self._stream and outcome.output is not None:
                answer = outcome.output
                self.write_out(answer if answer.endswith("\n") or not answer else answer + "\n")
        except OutputClosed:
            pass
        self._end_err_line()
        sources = source_lines(outcome)
        if sources and not self.quiet:
            self.note(sources[0], DIM)
            for line in sources[1:]:
                self.note(line)
        err = outcome.error
        if err is not None and err.kind != "interrupted" and not self._err_gone:
            self._err_gone = not report(err, self.err, color=self.color)
        if self._model is not None and self._began is not None:
            seconds = time.monotonic() - self._began
            self.note(usage_line(self._model, outcome.usage or {}, seconds), DIM)

    def finish(
        self,
        outcome,
        *,
        session_id: str,
        model: str,
        resume_command: str,
        continuable: bool = True,
    ) -> None:
        """The closing lines on stderr: the error if any, the model, tokens and time, where
        the session is and how to continue it (with --quiet only the error, and the session
        when the Turn did not complete). `continuable` False: the session holds nothing to
        continue (its only Turn failed before any answer)."""
        self.end_turn(outcome)
        self.close()
        if self.quiet and outcome.status == "completed":
            return
        if not continuable:
            nothing = f"session {session_id} · no answer, nothing to continue"
            self._err(self.paint(nothing, DIM) + "\n")
        else:
            self._err(
                self.paint(f"session {session_id} · continue with: ", DIM)
                + terminal(resume_command)
                + "\n"
            )

    def close(self) -> None:
        if self.spinner is not None:
            self.spinner.close()
