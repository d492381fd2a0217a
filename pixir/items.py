"""The shapes of Responses API items, in one place for everything that builds or reads them:
the fold (history.py), the request (the prompt, the developer context), the assembler and
the WebSocket continuation (provider/), the Turn and compaction. docs/log.md lists which
Log event becomes which item."""

from __future__ import annotations


def user_message(text: str, images: list | tuple = ()) -> dict:
    """A user's message as an input item: its text, then its images (`data:` URLs, as
    `pixir -i FILE` and an editor's image blocks give them; anything else an edited Log
    holds is left out)."""
    content: list[dict] = [{"type": "input_text", "text": text}]
    content += [
        {"type": "input_image", "image_url": url}
        for url in images
        if isinstance(url, str) and url.startswith("data:image/")
    ]
    return {"role": "user", "content": content}


def developer_message(text: str) -> dict:
    """A developer message as an input item (the developer context)."""
    return {"role": "developer", "content": [{"type": "input_text", "text": text}]}


def assistant_message(text: str) -> dict:
    """An answer of the model, replayed as an input item."""
    return {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text}],
    }


def function_call(call_id: str, name: str, arguments: str) -> dict:
    """A tool call, replayed as an input item; `arguments` is the JSON text."""
    return {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments}


def function_call_output(call_id: str, output: str) -> dict:
    """A tool call's result as an input item."""
    return {"type": "function_call_output", "call_id": call_id, "output": output}


def message_text(item: dict) -> str:
    """The text of a message item, input or output: its text parts (`input_text`,
    `output_text`) and the `refusal` of its refusal parts, in order. Anything else in the
    content (images, a value that is not a string) adds nothing."""
    parts = item.get("content")
    if isinstance(parts, str):
        return parts
    out = []
    for part in parts if isinstance(parts, list) else ():
        if isinstance(part, dict):
            value = part.get("refusal") if part.get("type") == "refusal" else part.get("text")
            if isinstance(value, str):
                out.append(value)
    return "".join(out)


def reasoning_summary(item: dict) -> list[str]:
    """The readable summary texts of a reasoning item, in order (empty ones left out)."""
    parts = item.get("summary")
    if not isinstance(parts, list):
        return []
    return [
        part["text"]
        for part in parts
        if isinstance(part, dict) and isinstance(part.get("text"), str) and part["text"]
    ]
