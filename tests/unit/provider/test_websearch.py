"""The hosted web search tool: request shapes per credential, item summaries, citations and
the replay form of a search item."""

from __future__ import annotations

import pytest

from pixir.config import WebSearch
from pixir.provider import websearch


def test_api_key_tool_has_the_public_fields_and_low_context_by_default():
    assert websearch.tool(WebSearch(), "api_key") == {
        "type": "web_search",
        "search_context_size": "low",
    }


def test_api_key_tool_with_everything():
    config = WebSearch(
        live=False,
        context_size="high",
        allowed_domains=("docs.python.org", "peps.python.org"),
        location={"country": "DE", "city": "Berlin", "timezone": "Europe/Berlin"},
    )
    assert websearch.tool(config, "api_key") == {
        "type": "web_search",
        "external_web_access": False,
        "search_context_size": "high",
        "filters": {"allowed_domains": ["docs.python.org", "peps.python.org"]},
        "user_location": {
            "type": "approximate",
            "country": "DE",
            "city": "Berlin",
            "timezone": "Europe/Berlin",
        },
    }


@pytest.mark.parametrize("live", [True, False])
def test_chatgpt_backend_tool_is_what_codex_sends(live):
    # only external_web_access unless more was chosen: no invented context size
    assert websearch.tool(WebSearch(live=live), "subscription") == {
        "type": "web_search",
        "external_web_access": live,
    }
    chosen = WebSearch(context_size="medium", allowed_domains=("a.org",))
    assert websearch.tool(chosen, "subscription") == {
        "type": "web_search",
        "external_web_access": True,
        "search_context_size": "medium",
        "filters": {"allowed_domains": ["a.org"]},
    }


def test_summary_of_each_action():
    search = {
        "id": "ws_1",
        "type": "web_search_call",
        "status": "completed",
        "action": {
            "type": "search",
            "query": "python 3.13 release date",
            "sources": [
                {"type": "url", "url": "https://python.org/downloads"},
                {"type": "url", "url": 42},
                "junk",
            ],
        },
    }
    assert websearch.summary(search) == {
        "id": "ws_1",
        "status": "completed",
        "action": "search",
        "query": "python 3.13 release date",
        "sources": [{"url": "https://python.org/downloads"}],
    }
    page = {
        "id": "ws_2",
        "status": "completed",
        "action": {"type": "open_page", "url": "https://a"},
    }
    assert websearch.summary(page)["url"] == "https://a"
    find = {"action": {"type": "find_in_page", "url": "https://a", "pattern": "def main"}}
    assert websearch.summary(find) == {
        "id": "",
        "status": "",
        "action": "find_in_page",
        "url": "https://a",
        "pattern": "def main",
        "sources": [],
    }
    queries = {"action": {"type": "search", "queries": ["first", "second"]}}
    assert websearch.summary(queries)["query"] == "first"
    assert websearch.summary({"type": "web_search_call", "status": "in_progress"}) == {
        "id": "",
        "status": "in_progress",
        "action": "",
        "sources": [],
    }


def test_citations_and_markdown_links():
    annotation = {"type": "url_citation", "start_index": 0, "end_index": 5, "url": "https://x.org"}
    assert websearch.citation(annotation) == {"url": "https://x.org", "title": ""}
    assert websearch.citation({"type": "file_citation", "file_id": "f"}) is None
    text = (
        "See [Python docs](https://docs.python.org/3/) and [PEP 8](https://peps.python.org/pep-0008/)"
        ", again [docs](https://docs.python.org/3/); not [this](ftp://x) nor [that](javascript:x)."
    )
    assert websearch.markdown_links(text) == [
        {"url": "https://docs.python.org/3/", "title": "Python docs"},
        {"url": "https://peps.python.org/pep-0008/", "title": "PEP 8"},
    ]
    into = [{"url": "https://a", "title": "first"}]
    websearch.add_citations(
        into, [{"url": "https://a", "title": "second"}, {"url": "https://b", "title": ""}]
    )
    assert into == [{"url": "https://a", "title": "first"}, {"url": "https://b", "title": ""}]
