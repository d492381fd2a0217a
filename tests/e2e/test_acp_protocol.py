"""`pixir acp` at the protocol level (docs/acp.md): malformed traffic gets the right
JSON-RPC answer and the agent keeps serving; stdout carries protocol lines only; EOF and
signals end it cleanly; `initialize`, `authenticate` and `logout`.

Driven by the raw NDJSON driver (tests/acp_driver.py) so any byte sequence can be sent."""

from __future__ import annotations

import json
import signal

import pytest

from tests.acp_driver import AcpDriver

pytestmark = pytest.mark.e2e


@pytest.fixture
def agent(pixir):
    with AcpDriver.start(pixir) as driver:
        yield driver


def still_serving(agent: AcpDriver) -> None:
    """The agent answers a normal request after whatever the test sent."""
    result = agent.call("initialize", {"protocolVersion": 1})
    assert result["protocolVersion"] == 1


# -- malformed traffic --------------------------------------------------------------------------


def test_bad_json_is_a_parse_error_with_id_null_and_the_agent_keeps_serving(agent):
    agent.send_raw(b'{"jsonrpc":"2.0","id":7,"method":"initialize",\n')
    error = agent.next_response(None)
    assert error["error"]["code"] == -32700
    agent.send_raw(b"\xff\xfe not utf-8\n")
    second = agent.wait_for(lambda m: m.get("error", {}).get("code") == -32700 and m is not error)
    assert second["id"] is None
    still_serving(agent)
    agent.assert_stdout_pure()


def test_a_batch_is_an_invalid_request(agent):
    agent.send([{"jsonrpc": "2.0", "id": 1001, "method": "initialize", "params": {}}])
    error = agent.next_response(None)
    assert error["error"]["code"] == -32600
    assert "batch" in error["error"]["message"]
    still_serving(agent)
    # the request inside the batch was not run
    assert not [m for m in agent.messages if m.get("id") == 1001]


@pytest.mark.parametrize(
    "message", [42, "text", None, {"jsonrpc": "2.0", "id": {"a": 1}, "method": "initialize"}]
)
def test_what_is_not_a_request_object_is_an_invalid_request(agent, message):
    agent.send(message)
    error = agent.next_response(None)
    assert error["error"]["code"] == -32600
    still_serving(agent)


def test_an_unknown_method_is_method_not_found_and_an_unknown_notification_is_ignored(agent):
    answer = agent.request("session/teleport", {"to": "mars"})
    assert answer["error"]["code"] == -32601
    assert answer["error"]["data"]["method"] == "session/teleport"
    before = len(agent.messages)
    agent.notify("session/teleport", {"to": "mars"})
    agent.notify("$/unknown", {})
    still_serving(agent)
    # between the two: nothing but the answer to the initialize of still_serving
    assert len(agent.messages) == before + 1


def test_custom_underscore_requests_get_an_answer(agent):
    status = agent.call("_pixir/status")
    assert status["version"]
    assert {m["id"] for m in status["models"]} >= {"gpt-5.5"}
    answer = agent.request("_zed/whatever", {})
    assert answer["error"]["code"] == -32601  # answered, never left waiting


def test_an_empty_string_id_makes_a_notification_which_gets_no_answer(agent):
    agent.send({"jsonrpc": "2.0", "id": "", "method": "_pixir/status", "params": {}})
    agent.send({"jsonrpc": "2.0", "id": "", "method": "no/such/method", "params": {}})
    still_serving(agent)
    assert not [m for m in agent.messages if m.get("id") == ""]


def test_params_that_are_not_an_object_are_invalid_params(agent):
    answer = agent.request("initialize", [1])  # type: ignore[arg-type]
    assert answer["error"]["code"] == -32602


def test_a_huge_line_is_refused_by_its_id_in_bounded_memory(agent):
    """A 200 MiB line: answered -32600 with the id its head shows, without holding it."""
    head = b'{"jsonrpc":"2.0","id":99,"method":"session/prompt","params":{"x":"'
    agent.send_raw(head)
    block = b"a" * (1 << 20)
    for _ in range(200):
        agent.send_raw(block)
    agent.send_raw(b'"}}\n')
    error = agent.next_response(99, timeout=120)
    assert error["error"]["code"] == -32600
    assert "larger than" in error["error"]["message"]
    still_serving(agent)
    peak_kib = _peak_rss_kib(agent.proc.pid)
    assert peak_kib < 160 * 1024, f"peak RSS {peak_kib} KiB for a 200 MiB line"


def _peak_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_crlf_and_blank_lines_are_accepted(agent):
    agent.send_raw(
        b"\n\r\n"
        + json.dumps(
            {"jsonrpc": "2.0", "id": 5, "method": "initialize", "params": {"protocolVersion": 1}}
        ).encode()
        + b"\r\n"
    )
    assert agent.next_response(5)["result"]["protocolVersion"] == 1


# -- the process --------------------------------------------------------------------------------


def test_eof_ends_the_agent_with_exit_0_and_stdout_holds_only_protocol_lines(agent):
    agent.initialize()
    agent.send_raw(b"garbage\n")
    agent.next_response(None)
    assert agent.close() == 0
    agent.assert_stdout_pure()
    assert agent.raw.count(b"\n") == 2


def test_a_last_line_without_newline_is_still_answered_before_exit(agent):
    agent.send_raw(b'{"jsonrpc":"2.0","id":3,"method":"initialize","params":{"protocolVersion":1}}')
    assert agent.close() == 0
    assert agent.next_response(3)["result"]["protocolVersion"] == 1


def test_sigterm_ends_the_agent(agent):
    agent.initialize()
    agent.proc.send_signal(signal.SIGTERM)
    assert agent.proc.wait(30) == 143
    agent.assert_stdout_pure()


# -- initialize ---------------------------------------------------------------------------------


@pytest.mark.parametrize("asked", [1, 2, 65535, 0])
def test_initialize_answers_version_1_whatever_was_asked(agent, asked):
    result = agent.call("initialize", {"protocolVersion": asked, "clientCapabilities": {}})
    assert result["protocolVersion"] == 1
    assert result["agentInfo"] == {
        "name": "pixir",
        "title": "pixir",
        "version": result["agentInfo"]["version"],
    }
    caps = result["agentCapabilities"]
    assert caps["auth"] == {"logout": {}}
    assert caps["promptCapabilities"]["audio"] is False


def test_initialize_carries_the_catalog_with_the_default_flagged(pixir):
    pixir.write_config({"model": "gpt-5.4", "models": ["gpt-5.4", "gpt-5.2"]})
    with AcpDriver.start(pixir) as agent:
        meta = agent.initialize()["_meta"]["pixir"]
    assert meta["models"] == [
        {"id": "gpt-5.4", "name": "GPT-5.4", "default": True},
        {"id": "gpt-5.2", "name": "GPT-5.2", "default": False},
    ]


def test_auth_state_without_credential_with_a_key_and_with_a_subscription(pixir):
    with AcpDriver.start(pixir) as agent:
        assert agent.initialize()["_meta"]["pixir"]["auth"] == {"authenticated": False}
    pixir.login_api_key()
    with AcpDriver.start(pixir) as agent:
        assert agent.initialize()["_meta"]["pixir"]["auth"] == {
            "authenticated": True,
            "kind": "api_key",
        }
    record = pixir.login_subscription(ttl=3600, plan="pro")
    with AcpDriver.start(pixir) as agent:
        state = agent.initialize()["_meta"]["pixir"]["auth"]
        agent.close()
        stdout = bytes(agent.raw) + bytes(agent.stderr)
    assert state["authenticated"] is True
    assert state["kind"] == "subscription"
    assert state["account_id"] == record["account_id"]
    assert state["plan"] == "pro"
    assert state["expires_at"].endswith("Z")
    for secret in (record["access_token"], record["refresh_token"], record["id_token"]):
        assert secret.encode() not in stdout


def test_the_terminal_method_is_offered_only_to_clients_that_can_run_it(agent):
    plain = agent.call("initialize", {"protocolVersion": 1, "clientCapabilities": {}})
    assert [m["id"] for m in plain["authMethods"]] == ["openai-api-key"]
    declared = agent.call(
        "initialize",
        {"protocolVersion": 1, "clientCapabilities": {"auth": {"terminal": True}}},
    )
    terminal = declared["authMethods"][0]
    assert terminal["id"] == "pixir-login"
    assert terminal["type"] == "terminal"
    assert terminal["args"] == ["login"]
    legacy = agent.call(
        "initialize",
        {"protocolVersion": 1, "clientCapabilities": {"_meta": {"terminal-auth": True}}},
    )
    assert legacy["authMethods"][0]["_meta"]["terminal-auth"]["args"] == ["login"]


# -- authenticate / logout ----------------------------------------------------------------------


def test_authenticate_with_the_api_key_method_needs_the_key_in_the_environment(pixir):
    with AcpDriver.start(pixir) as agent:
        agent.initialize()
        answer = agent.request("authenticate", {"methodId": "openai-api-key"})
        assert answer["error"]["code"] == -32000
        assert "OPENAI_API_KEY" in answer["error"]["data"]["hint"]
        unknown = agent.request("authenticate", {"methodId": "magic"})
        assert unknown["error"]["code"] == -32602
    with AcpDriver.start(pixir, env={"OPENAI_API_KEY": pixir.fake.api_key}) as agent:
        agent.initialize()
        assert agent.call("authenticate", {"methodId": "openai-api-key"}) == {}
        assert agent.call("_pixir/status")["auth"]["kind"] == "api_key"
        agent.close()
        assert pixir.fake.api_key.encode() not in bytes(agent.raw) + bytes(agent.stderr)


def test_authenticate_with_the_terminal_method_says_whether_the_login_worked(pixir):
    with AcpDriver.start(pixir) as agent:
        agent.initialize(clientCapabilities={"auth": {"terminal": True}})
        answer = agent.request("authenticate", {"methodId": "pixir-login"})
        assert answer["error"]["code"] == -32000
        assert "pixir login" in answer["error"]["data"]["hint"]
        pixir.login_subscription()  # what `pixir login` in the editor's terminal leaves
        assert agent.call("authenticate", {"methodId": "pixir-login"}) == {}


def test_logout_forgets_the_stored_credential(pixir):
    pixir.login_subscription()
    with AcpDriver.start(pixir) as agent:
        agent.initialize()
        assert agent.call("logout") == {}
        assert pixir.auth_file() is None
        assert agent.call("_pixir/status")["auth"] == {"authenticated": False}
        assert agent.call("logout") == {}  # nothing left: still fine
