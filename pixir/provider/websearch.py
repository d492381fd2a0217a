"""The hosted web search tool (docs/provider.md "Web search"): the tool object each backend
accepts, and what a `web_search_call` item and a `url_citation` annotation say. (What may be
sent back with `store: false` is the History's rule: pixir/history.py.)"""

from __future__ import annotations

import re

from pixir.config import WebSearch

INCLUDE_SOURCES = "web_search_call.action.sources"
_LINK_RE = re.compile(r"\[([^\]\n]{1,300})\]\((https?://[^\s)]{1,2000})\)")


def tool(config: WebSearch, credential_kind: str) -> dict:
    """The `{"type": "web_search", ...}` tool object. With an API key: the public fields
    (context size defaults to low). On the ChatGPT backend: what Codex sends —
    `external_web_access`, and the filters, location and context size only when chosen."""
    spec: dict = {"type": "web_search"}
    if credential_kind == "api_key":
        if not config.live:
            spec["external_web_access"] = False
        spec["search_context_size"] = config.context_size or "low"
    else:
        spec["external_web_access"] = config.live
        if config.context_size:
            spec["search_context_size"] = config.context_size
    if config.allowed_domains:
        spec["filters"] = {"allowed_domains": list(config.allowed_domains)}
    if config.location:
        spec["user_location"] = {"type": "approximate", **config.location}
    return spec


def summary(item: dict) -> dict:
    """What a `web_search_call` item did: `{id, status, action, query | url [, pattern],
    sources: [{url[, title]}]}` (only strings are taken from the item)."""
    action = item.get("action") if isinstance(item.get("action"), dict) else {}
    kind = _str(action.get("type"))
    out: dict = {"id": _str(item.get("id")), "status": _str(item.get("status")), "action": kind}
    if kind == "search" or "query" in action or "queries" in action:
        queries = action.get("queries")
        first = queries[0] if isinstance(queries, list) and queries else None
        out["query"] = _str(action.get("query")) or _str(first)
    if "url" in action:
        out["url"] = _str(action.get("url"))
    if "pattern" in action:
        out["pattern"] = _str(action.get("pattern"))
    sources = []
    for source in action.get("sources") or ():
        if isinstance(source, dict) and _str(source.get("url")):
            entry = {"url": source["url"]}
            if _str(source.get("title")):
                entry["title"] = source["title"]
            sources.append(entry)
    out["sources"] = sources
    return out


def citation(annotation: object) -> dict | None:
    """`{url, title}` of a `url_citation` annotation, or None for any other annotation."""
    if not isinstance(annotation, dict) or annotation.get("type") != "url_citation":
        return None
    url = _str(annotation.get("url"))
    if not url:
        return None
    return {"url": url, "title": _str(annotation.get("title"))}


def markdown_links(text: str) -> list[dict]:
    """`[title](https://url)` links in an answer, `{url, title}` in order, each url once:
    the sources of a backend that cites only in the text."""
    found: dict[str, dict] = {}
    for title, url in _LINK_RE.findall(text or ""):
        found.setdefault(url, {"url": url, "title": title.strip()})
    return list(found.values())


def add_citations(into: list[dict], new: list[dict]) -> None:
    """Append citations whose url is not there yet (the first title wins)."""
    seen = {c["url"] for c in into}
    for entry in new:
        if entry["url"] not in seen:
            seen.add(entry["url"])
            into.append(entry)


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""
