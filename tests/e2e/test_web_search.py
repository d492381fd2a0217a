"""Hosted web search through `dist/pixir` against the fake backend, on both transports: the
request shapes per credential, `web_search_call` items and citations in the Log, `--json`,
`--jsonl` and the human view, replay on resume (ids, unknown actions, reasoning),
`prompt_cache_retention`, and the config's validation."""

from __future__ import annotations

import json

import pytest

from tests.fake_backend import reasoning, step, text, tool_call, web_search

pytestmark = pytest.mark.e2e

TRANSPORTS = ["http_sse", "websocket"]
SOURCES = ["https://docs.python.org/3/whatsnew/3.13.html", "https://peps.python.org/pep-0719/"]
ANSWER = "Python 3.13 was released on 7 October 2024."


def cited_answer() -> dict:
    return text(
        ANSWER,
        citations=[
            {"url": SOURCES[0], "title": "What's New In Python 3.13"},
            {"url": SOURCES[1], "title": "PEP 719 – Python 3.13 Release Schedule"},
        ],
    )


def search_step() -> dict:
    return step(
        reasoning("I should look it up."),
        web_search("python 3.13 release", SOURCES),
        cited_answer(),
    )


def model_bodies(fake) -> list[dict]:
    return [r.json for r in fake.responses_requests()]


def events_of(pixir, kind: str, session_id: str | None = None) -> list[dict]:
    return [e["data"] for e in pixir.log_events(session_id) if e["type"] == kind]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_with_an_api_key(pixir, fake, transport):
    fake.script(search_step())
    pixir.login_api_key()
    result = pixir.run("--web-search", "--transport", transport, "--json", "when was 3.13 out?")
    assert result.code == 0, result
    body = pixir.json_out(result)
    assert body["output"] == ANSWER
    (search,) = body["web_searches"]
    assert search["query"] == "python 3.13 release" and search["status"] == "completed"
    assert search["id"].startswith("ws_")
    assert [s["url"] for s in search["sources"]] == SOURCES  # asked for with include
    assert body["citations"] == [
        {"url": SOURCES[0], "title": "What's New In Python 3.13"},
        {"url": SOURCES[1], "title": "PEP 719 – Python 3.13 Release Schedule"},
    ]
    (request,) = model_bodies(fake)
    assert request["tools"][-1] == {"type": "web_search", "search_context_size": "low"}
    assert request["include"] == ["reasoning.encrypted_content", "web_search_call.action.sources"]
    # the Log holds the item verbatim, in the order it came
    kinds = [e["type"] for e in pixir.log_events()]
    at = kinds.index("web_search_call")
    assert kinds[at - 1] == "reasoning" and kinds[at + 1] == "assistant_message"
    (logged,) = events_of(pixir, "web_search_call")
    assert logged["item"]["action"]["query"] == "python 3.13 release"
    assert len(logged["item"]["action"]["sources"]) == 2
    (usage,) = events_of(pixir, "provider_usage")
    assert usage["tool_usage"] == {"web_search": {"num_requests": 1}}
    transcript = pixir.run("log", body["session_id"])
    assert '› web search "python 3.13 release"' in transcript.stdout.splitlines()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_on_the_chatgpt_backend(pixir, fake, transport):
    fake.script(search_step())
    pixir.login_subscription()
    pixir.write_config({"web_search": {"live": False}, "prompt_cache_retention": "24h"})
    result = pixir.run("--transport", transport, "--json", "when was 3.13 out?")
    assert result.code == 0, result
    (request,) = model_bodies(fake)
    assert request["tools"][-1] == {"type": "web_search", "external_web_access": False}
    assert request["include"] == ["reasoning.encrypted_content"]
    assert "prompt_cache_retention" not in request
    body = pixir.json_out(result)
    assert body["web_searches"][0]["sources"] == []  # not asked for: not sent
    assert len(body["citations"]) == 2


def test_prompt_cache_retention_goes_with_an_api_key(pixir, fake):
    fake.script(step(text("ok")))
    pixir.login_api_key()
    pixir.write_config({"prompt_cache_retention": "24h"})
    assert pixir.run("--transport", "http_sse", "hi").code == 0
    (request,) = model_bodies(fake)
    assert request["prompt_cache_retention"] == "24h"
    assert all(t["type"] == "function" for t in request["tools"])  # search is off by default


def test_the_human_view(pixir, fake):
    fake.script(search_step())
    pixir.login_api_key()
    result = pixir.run("--web-search", "--transport", "http_sse", "when was 3.13 out?")
    assert result.code == 0, result
    assert result.stdout == ANSWER + "\n"
    err = result.stderr.splitlines()
    assert '› web search "python 3.13 release"' in err
    at = err.index("Sources:")
    assert err[at + 1 : at + 3] == [
        f"  1. What's New In Python 3.13 — {SOURCES[0]}",
        f"  2. PEP 719 – Python 3.13 Release Schedule — {SOURCES[1]}",
    ]
    assert err[-1].startswith("session ")


def test_a_hostile_server_cannot_reach_the_terminal(pixir, fake):
    evil = "q\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b[2J"
    fake.script(
        step(
            web_search(evil, ["https://x.org/\x1b[8m"]),
            text("done", citations=[{"url": "https://x.org/a", "title": "T\x1b[31mitle\r"}]),
        )
    )
    pixir.login_api_key()
    result = pixir.run("--web-search", "--transport", "http_sse", "search")
    assert result.code == 0, result
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr and "\r" not in result.stderr
    assert "› web search" in result.stderr and "1. T" in result.stderr


def test_sources_only_as_markdown_links(pixir, fake):
    answer = f"See [the release notes]({SOURCES[0]}) and [PEP 719]({SOURCES[1]})."
    fake.script(step(web_search("python 3.13"), text(answer)))
    pixir.login_api_key()
    result = pixir.run("--web-search", "--transport", "http_sse", "--json", "when?")
    assert result.code == 0, result
    assert pixir.json_out(result)["citations"] == [
        {"url": SOURCES[0], "title": "the release notes"},
        {"url": SOURCES[1], "title": "PEP 719"},
    ]


def test_jsonl_streams_the_search_as_it_runs(pixir, fake):
    fake.script(search_step())
    pixir.login_api_key()
    result = pixir.run("--web-search", "--transport", "websocket", "--jsonl", "when?")
    assert result.code == 0, result
    lines = pixir.jsonl_out(result)
    searches = [e["data"] for e in lines if e.get("type") == "web_search"]
    assert searches[0]["status"] == "in_progress"
    assert searches[-1]["query"] == "python 3.13 release"
    kinds = [e.get("type") for e in lines]
    # live while it runs, before the answer streams; the Log's item once the call is done
    assert kinds.index("web_search") < kinds.index("text_delta")
    assert kinds.index("web_search_call") < kinds.index("assistant_message")
    assert lines[-1]["web_searches"][0]["query"] == "python 3.13 release"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_resumed_session_with_searches_is_accepted(pixir, fake, transport):
    """Replay with store:false: the backend's ws_ ids kept, a foreign id left out, an action
    pixir does not know dropped (the fake refuses it, like the API), and the reasoning that
    came before it still followed by an item."""
    odd = {"type": "image_lookup", "query": "cats"}
    fake.script(
        step(
            reasoning("first"),
            web_search("python 3.13 release", SOURCES),
            web_search(action={"type": "open_page", "url": SOURCES[0]}, item_id="ws-foreign"),
            cited_answer(),
        ),
        step(reasoning("second"), web_search(action=odd), tool_call("read", {"path": "x.txt"})),
        step(text("x is empty")),
        step(text("Resumed fine.")),
    )
    pixir.login_api_key()
    pixir.write_file("x.txt", "")
    first = pixir.run("--web-search", "--transport", transport, "--json", "when?")
    assert first.code == 0, first
    sid = pixir.json_out(first)["session_id"]
    second = pixir.run("--web-search", "--transport", transport, "--json", "resume", sid, "and x?")
    assert second.code == 0, second
    third = pixir.run("--transport", transport, "--json", "resume", sid, "thanks")
    assert third.code == 0, third
    assert pixir.json_out(third)["output"] == "Resumed fine."
    last = model_bodies(fake)[-1]
    searches = [i for i in last["input"] if i.get("type") == "web_search_call"]
    logged = [e["item"] for e in events_of(pixir, "web_search_call", sid)]
    assert len(logged) == 3  # all three are in the Log, verbatim
    assert searches == [
        logged[0],  # the backend's own id, status and action as received
        {"type": "web_search_call", "status": "completed", "action": logged[1]["action"]},
    ]
    # the reasoning before the dropped search is followed by the call, never orphaned
    kinds = [i.get("type") for i in last["input"]]
    at = kinds.index("function_call")
    assert kinds[at - 1] == "reasoning"
    assert all(t["type"] == "function" for t in last["tools"])  # no --web-search this time


def test_preview_shows_the_search_tool(pixir, fake):
    result = pixir.run("preview", "--web-search", "--json", "look it up")
    assert result.code == 0, result
    body = pixir.json_out(result)["body"]
    assert body["tools"][-1]["type"] == "web_search"
    assert not fake.requests


@pytest.mark.parametrize(
    ("config", "said"),
    [
        ({"web_search": "yes"}, "web_search': expected true, false or an object"),
        ({"web_search": {"context_size": "huge"}}, "web_search.context_size'"),
        ({"web_search": {"allowed_domains": ["https://x.org/a"]}}, "web_search.allowed_domains'"),
        ({"web_search": {"location": {"country": "Germany"}}}, "two-letter ISO country code"),
        ({"web_search": {"location": {"timezone": "Mars/Olympus"}}}, "IANA time zone"),
        ({"web_search": {"lve": True}}, "unknown key 'lve'"),
        ({"prompt_cache_retention": "forever"}, "one of in_memory, 24h"),
    ],
)
def test_a_bad_config_is_a_clear_error_before_anything_is_sent(pixir, fake, config, said):
    pixir.login_api_key()
    pixir.write_config(config)
    result = pixir.run("--web-search", "--json", "hi")
    assert result.code == 2, result
    error = pixir.json_out(result)["error"]
    assert error["kind"] == "config_invalid" and said in error["message"]
    assert not fake.responses_requests()


def test_a_full_config_object_reaches_the_request(pixir, fake):
    fake.script(step(text("ok")))
    pixir.login_api_key()
    pixir.write_config(
        {
            "web_search": {
                "context_size": "high",
                "allowed_domains": ["docs.python.org"],
                "location": {"country": "de", "city": "Berlin", "timezone": "Europe/Berlin"},
            }
        }
    )
    assert pixir.run("--transport", "http_sse", "hi").code == 0
    (request,) = model_bodies(fake)
    assert request["tools"][-1] == {
        "type": "web_search",
        "search_context_size": "high",
        "filters": {"allowed_domains": ["docs.python.org"]},
        "user_location": {
            "type": "approximate",
            "country": "DE",
            "city": "Berlin",
            "timezone": "Europe/Berlin",
        },
    }
    assert json.dumps(request).count("web_search_call.action.sources") == 1
