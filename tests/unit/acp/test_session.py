"""pixir/acp/session.py in-process: an AcpSession over a real Runner and session Log, its
notifications on a real rpc.Connection (tests/unit/helpers/acp.py) and its model calls on
the fake backend — modes and config options, the choices and what the Log keeps of them,
the workspace check, and how a prompt's end becomes its stop reason (docs/acp.md)."""

from __future__ import annotations

import pytest

from pixir.acp.rpc import INVALID_PARAMS, RpcError
from pixir.acp.session import EFFORTS, MODE_IDS, AcpSession, check_workspace
from pixir.auth.credential import resolve
from pixir.config import load_settings
from pixir.interrupt import Cancel
from pixir.log import read_events
from pixir.provider.models import catalog, context_window
from pixir.runner import Overrides, Runner
from tests.fake_backend import step, text
from tests.unit.helpers.acp import Wire


class Open:
    """A new pixir session, opened as `session/new` opens it, and its AcpSession."""

    def __init__(self, ws, model: str = "gpt-5.5", titled: bool = False) -> None:
        self.settings = load_settings()
        self.wire = Wire()
        self.credential = resolve(self.settings)
        self.runner = Runner(self.settings, self.credential, ws, model, store=ws)
        self.runner.new()
        self.session = AcpSession(
            self.runner,
            self.wire.conn,
            lambda: catalog(self.settings),
            lambda m: context_window(m, self.settings),
            titled,
        )

    def events(self) -> list[dict]:
        return read_events(self.runner.session.path)

    def prompt(self, words: str, overrides: Overrides | None = None) -> dict:
        params = {"prompt": [{"type": "text", "text": words}]}
        return self.session.prompt(params, overrides or Overrides(), self.credential, Cancel())

    def wire_updates(self) -> list[dict]:
        return self.wire.updates(self.session.id)

    def close(self) -> None:
        self.runner.close()
        self.wire.close()


@pytest.fixture
def open_session(ws, fake, monkeypatch):
    for var, value in fake.env().items():
        monkeypatch.setenv(var, value)
    monkeypatch.setenv("OPENAI_API_KEY", fake.api_key)
    made: list[Open] = []

    def make(**kw) -> Open:
        made.append(Open(ws, **kw))
        return made[-1]

    yield make
    for opened in made:
        opened.close()


def option(session: AcpSession, option_id: str) -> dict:
    return next(o for o in session.config_options() if o["id"] == option_id)


def rpc_error(action) -> RpcError:
    with pytest.raises(RpcError) as caught:
        action()
    return caught.value


# -- what the editor is shown -------------------------------------------------------------------


def test_state_offers_the_modes_the_catalog_and_the_efforts_in_step(open_session):
    opened = open_session()
    session = opened.session
    assert session.id == opened.runner.session_id
    state = session.state()
    assert state["modes"]["currentModeId"] == "auto"
    assert [m["id"] for m in state["modes"]["availableModes"]] == list(MODE_IDS)
    assert [o["id"] for o in state["configOptions"]] == ["mode", "model", "reasoning_effort"]
    models = catalog(opened.settings)
    model = option(session, "model")
    assert model["currentValue"] == "gpt-5.5"
    assert [c["value"] for c in model["options"]] == [m["id"] for m in models]
    effort = option(session, "reasoning_effort")
    assert effort["currentValue"] == "default"
    assert [c["value"] for c in effort["options"]] == ["default", *EFFORTS]
    assert state["models"] == {
        "currentModelId": "gpt-5.5",
        "availableModels": [{"modelId": m["id"], "name": m["name"]} for m in models],
    }


def test_a_model_outside_the_catalog_is_listed_first_so_the_menu_can_show_it(open_session):
    session = open_session(model="my-own-model").session
    model = option(session, "model")
    assert model["currentValue"] == "my-own-model"
    assert model["options"][0] == {"value": "my-own-model", "name": "my-own-model"}


# -- choices, and what the Log keeps ------------------------------------------------------------


def test_choices_are_written_to_the_log_and_a_resume_keeps_them(open_session, ws):
    opened = open_session()
    session = opened.session
    session.set_mode("ask")
    session.set_option("model", "gpt-5.4")
    session.set_option("reasoning_effort", "high")
    assert session.mode == "ask" and opened.runner.model == "gpt-5.4"
    assert option(session, "reasoning_effort")["currentValue"] == "high"
    changed = [e["data"] for e in opened.events() if e["type"] == "settings_changed"]
    assert changed == [
        {"permission_mode": "ask"},
        {"model": "gpt-5.4"},
        {"reasoning_effort": "high"},
    ]
    opened.runner.close()
    again = Runner(opened.settings, opened.credential, ws, "gpt-5.5", store=ws)
    again.resume(session.id)
    try:
        assert again.session.permission_mode == "ask"
        assert again.model == "gpt-5.4" and again.reasoning_effort == "high"
    finally:
        again.close()


def test_the_default_effort_is_recorded_as_none_the_servers_own_choice(open_session):
    opened = open_session()
    opened.session.set_reasoning_effort("low")
    opened.session.set_reasoning_effort("default")
    assert opened.runner.reasoning_effort is None
    assert opened.events()[-1]["data"] == {"reasoning_effort": None}
    assert option(opened.session, "reasoning_effort")["currentValue"] == "default"


@pytest.mark.parametrize(
    ("config_id", "value", "data"),
    [
        ("mode", "yolo", {"modeId": "yolo", "known": list(MODE_IDS)}),
        ("model", "gpt-9", "model"),
        ("reasoning_effort", "max", {"value": "max", "known": ["default", *EFFORTS]}),
        ("colour", "red", {"configId": "colour", "known": ["mode", "model", "reasoning_effort"]}),
    ],
)
def test_a_bad_choice_is_invalid_params_and_changes_nothing(open_session, config_id, value, data):
    opened = open_session()
    before = opened.events()
    err = rpc_error(lambda: opened.session.set_option(config_id, value))
    assert err.code == INVALID_PARAMS
    if data == "model":  # the unknown model, and the catalog to choose from
        assert err.data == {"model": "gpt-9", "known": [m["id"] for m in catalog(opened.settings)]}
    else:
        assert err.data == data
    assert opened.events() == before
    assert opened.session.mode == "auto" and opened.runner.model == "gpt-5.5"


def test_set_model_and_set_mode_check_like_the_config_option(open_session):
    opened = open_session()
    assert rpc_error(lambda: opened.session.set_model("gpt-9")).data["model"] == "gpt-9"
    assert rpc_error(lambda: opened.session.set_mode(None)).code == INVALID_PARAMS
    opened.session.set_model("gpt-5.2")
    assert opened.session.legacy_models()["currentModelId"] == "gpt-5.2"


def test_options_changed_tells_the_editor_the_current_options(open_session):
    opened = open_session()
    opened.session.set_mode("read_only")
    opened.session.options_changed()
    told = opened.wire.next()
    assert told["method"] == "session/update"
    assert told["params"]["sessionId"] == opened.session.id
    update = told["params"]["update"]
    assert update == {
        "sessionUpdate": "config_option_update",
        "configOptions": opened.session.config_options(),
    }
    assert option(opened.session, "mode")["currentValue"] == "read_only"


# -- prompts --------------------------------------------------------------------------------------


def test_a_prompt_answers_end_turn_with_usage_and_names_its_session_once(open_session, fake):
    fake.script(step(text("first")), step(text("second")))
    opened = open_session()
    answer = opened.prompt("name me")
    assert answer["stopReason"] == "end_turn"
    assert answer["_meta"]["pixir"]["model"] == "gpt-5.5"
    assert answer["_meta"]["pixir"]["usage"]["total_tokens"] > 0
    opened.prompt("not me")
    titles = [
        u["title"] for u in opened.wire_updates() if u["sessionUpdate"] == "session_info_update"
    ]
    assert titles == ["name me"]
    assert opened.session.titled is True


def test_a_loaded_session_has_its_title_already(open_session, fake):
    fake.script(step(text("ok")))
    opened = open_session(titled=True)
    assert opened.prompt("hello")["stopReason"] == "end_turn"
    assert "session_info_update" not in [u["sessionUpdate"] for u in opened.wire_updates()]


def test_a_per_turn_model_is_the_one_the_answer_names(open_session, fake):
    fake.script(step(text("ok"), match={"model": "gpt-5.4"}))
    opened = open_session()
    answer = opened.prompt("x", Overrides(model="gpt-5.4"))
    assert answer["_meta"]["pixir"]["model"] == "gpt-5.4"
    assert opened.runner.model == "gpt-5.5"  # for that Turn only


@pytest.mark.parametrize(
    ("reason", "stop"), [("content_filter", "refusal"), ("max_output_tokens", "max_tokens")]
)
def test_a_cut_answer_is_a_refusal_or_max_tokens_by_why_it_was_cut(
    open_session, fake, reason, stop
):
    fake.script(step(text("Cut sho"), incomplete=reason))
    opened = open_session()
    assert opened.prompt("x")["stopReason"] == stop


def test_cancel_without_a_running_prompt_is_a_no_op(open_session, fake):
    fake.script(step(text("still fine")))
    opened = open_session()
    opened.session.cancel()
    assert opened.session.wait_idle(1) is True
    assert opened.prompt("x")["stopReason"] == "end_turn"  # no stale stop request


def test_ask_without_a_running_prompt_asks_nobody(open_session):
    opened = open_session(titled=True)
    assert opened.session.ask(object()) is None
    opened.session.options_changed()
    assert opened.wire.next()["method"] == "session/update"  # no request went before it


# -- the workspace --------------------------------------------------------------------------------


@pytest.mark.parametrize("cwd", [None, "", 7, "relative/path"])
def test_a_cwd_must_be_an_absolute_path(cwd):
    err = rpc_error(lambda: check_workspace(cwd))
    assert err.code == INVALID_PARAMS and err.data == {"cwd": cwd}
    assert "absolute path" in err.message


def test_a_cwd_must_be_a_directory_and_comes_back_resolved(tmp_path):
    (tmp_path / "file").write_text("x")
    err = rpc_error(lambda: check_workspace(str(tmp_path / "file")))
    assert err.code == INVALID_PARAMS and "not a directory" in err.message
    assert rpc_error(lambda: check_workspace(str(tmp_path / "missing"))).code == INVALID_PARAMS
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert check_workspace(str(tmp_path / "link") + "/") == (tmp_path / "real").resolve()
