"""Each validation rule refuses what the real service refuses and accepts the valid form."""

from __future__ import annotations

import json

import pytest

from tests.fake.fakeclient import DROP, body, post, stream_events, sub_headers, types, user
from tests.fake_backend import reasoning, step, text, tool_call


def call(fc_id: str = "call_1", name: str = "read", args: str = '{"path":"a.py"}') -> dict:
    return {"type": "function_call", "call_id": fc_id, "name": name, "arguments": args}


def output(fc_id: str = "call_1", out: str = "contents") -> dict:
    return {"type": "function_call_output", "call_id": fc_id, "output": out}


def assert_error(resp, status: int, message: str, code: str | None = None, param=None) -> dict:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert message in err["message"]
    assert err["type"] == "invalid_request_error"
    assert err["code"] == code
    if param is not None:
        assert err["param"] == param
    return err


# -- gateway parameters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "detail"),
    [
        ({"store": True}, "Store must be set to false"),
        ({"store": DROP}, "Store must be set to false"),
        ({"stream": False}, "Stream must be set to true"),
        ({"stream": DROP}, "Stream must be set to true"),
        ({"max_output_tokens": 100}, "Unsupported parameter: max_output_tokens"),
        ({"prompt_cache_retention": "24h"}, "Unsupported parameter: prompt_cache_retention"),
        ({"instructions": DROP}, "Instructions are required"),
        ({"input": "hello"}, "Input must be a list"),
        (
            {"model": "gpt-4o"},
            "The 'gpt-4o' model is not supported when using Codex with a ChatGPT account.",
        ),
    ],
)
def test_subscription_gateway_rejections_use_the_detail_shape(fake, override, detail):
    fake.script(step(text("never sent")))
    resp = post(fake, body(**override))
    assert resp.status_code == 400
    assert resp.json() == {"detail": detail}
    assert fake.steps_left == 1  # a rejected request consumes no scripted step


def test_subscription_accepts_the_valid_form(fake):
    fake.script(step(text("ok")))
    resp = post(fake, body())
    assert resp.status_code == 200
    assert types(stream_events(resp))[-1] == "response.completed"


def test_error_style_setting_switches_to_the_error_object(fake):
    fake.configure(error_style="error_object")
    resp = post(fake, body(store=True))
    assert_error(resp, 400, "Store must be set to false", param="store")


@pytest.mark.parametrize(
    ("override", "message", "code"),
    [
        ({"store": True}, "store must be false", None),
        ({"stream": False}, "stream: true", None),
        ({"model": "gpt-4o"}, "The model `gpt-4o` does not exist", "model_not_found"),
    ],
)
def test_api_key_path_rejections_use_the_error_object(fake, override, message, code):
    resp = post(fake, body(**override), surface="api")
    assert_error(resp, 400, message, code)
    assert resp.text.startswith("{\n  ")  # the public API pretty-prints its errors


def test_api_key_path_allows_what_the_subscription_path_refuses(fake):
    fake.script(step(text("ok")))
    resp = post(fake, body(max_output_tokens=100, input="plain string input"), surface="api")
    assert resp.status_code == 200
    assert types(stream_events(resp))[-1] == "response.completed"


def test_model_allow_list_is_configurable(fake):
    fake.configure(models=["my-model"])
    fake.script(step(text("ok")))
    assert post(fake, body(model="gpt-5.5")).status_code == 400
    assert post(fake, body(model="my-model")).status_code == 200


# -- tool-call pairing (quirk 11 in docs/provider.md) ------------------------------------------


def test_output_without_its_call_is_refused(fake):
    resp = post(fake, body(input=[user("hi"), output("call_9")]))
    assert_error(resp, 400, "No tool call found for function call output with call_id call_9.")


def test_output_before_its_call_is_refused(fake):
    resp = post(fake, body(input=[user("hi"), output("call_1"), call("call_1")]))
    assert_error(resp, 400, "No tool call found for function call output with call_id call_1.")


def test_call_without_output_is_refused(fake):
    resp = post(fake, body(input=[user("hi"), call("call_1"), user("next")]), surface="api")
    assert_error(resp, 400, "No tool output found for function call call_1.", param="input")


def test_paired_calls_are_accepted(fake):
    fake.script(step(text("ok")))
    items = [user("hi"), call("a"), call("b"), output("a"), output("b"), user("more")]
    resp = post(fake, body(input=items))
    assert resp.status_code == 200, resp.text


# -- reasoning items (quirk 10 in docs/provider.md) --------------------------------------------


def rs(blob, item_id: str = "rs_1") -> dict:
    item = {"type": "reasoning", "id": item_id, "summary": []}
    if blob is not None:
        item["encrypted_content"] = blob
    return item


def test_reasoning_from_the_same_model_is_accepted(fake):
    fake.script(step(text("ok")))
    items = [user("hi"), rs(fake.mint_encrypted_content("gpt-5.5")), call(), output()]
    assert post(fake, body(input=items)).status_code == 200


def test_reasoning_from_another_model_is_refused(fake):
    items = [user("hi"), rs(fake.mint_encrypted_content("gpt-5.4")), call(), output()]
    resp = post(fake, body(model="gpt-5.5", input=items))
    err = assert_error(resp, 400, "could not be verified", "invalid_encrypted_content")
    assert "rs_1" in err["message"]


def test_made_up_reasoning_blob_is_refused(fake):
    items = [user("hi"), rs("gAAAAABnot-a-real-blob"), call(), output()]
    assert_error(
        post(fake, body(input=items)), 400, "could not be verified", "invalid_encrypted_content"
    )


def test_reasoning_without_blob_is_not_found_with_store_false(fake):
    items = [user("hi"), rs(None), call(), output()]
    assert_error(post(fake, body(input=items)), 404, "Item with id 'rs_1' not found")


def test_reasoning_as_last_item_is_refused(fake):
    items = [user("hi"), rs(fake.mint_encrypted_content("gpt-5.5"))]
    resp = post(fake, body(input=items))
    assert_error(resp, 400, "of type 'reasoning' was provided without its required following item")


def test_blob_round_trip_through_a_real_response(fake):
    """The blob the fake emits is accepted when replayed to the same model only."""
    fake.script(step(reasoning("plan"), tool_call("read", {"path": "a"}, call_id="c1")))
    events = stream_events(post(fake, body()))
    items = events[-1]["response"]["output"]
    assert items[0]["encrypted_content"]
    fake.script(step(text("done")))
    replay = [user("hello"), *items, output("c1")]
    assert post(fake, body(model="gpt-5.4", input=replay)).status_code == 400
    assert post(fake, body(model="gpt-5.5", input=replay)).status_code == 200


# -- previous_response_id over HTTP, context window ---------------------------------------------


@pytest.mark.parametrize("surface", ["sub", "api"])
def test_previous_response_id_over_http_is_never_found(fake, surface):
    fake.script(step(text("first")))
    first = stream_events(post(fake, body(), surface=surface))
    rid = first[-1]["response"]["id"]
    resp = post(fake, body(previous_response_id=rid, input=[user("again")]), surface=surface)
    assert_error(
        resp, 400, f"Previous response with id '{rid}' not found.", "previous_response_not_found"
    )


def test_context_limit_bytes(fake):
    fake.configure(context_limit_bytes=2000)
    fake.script(step(text("small is fine")))
    assert post(fake, body(input=[user("x" * 100)])).status_code == 200
    resp = post(fake, body(input=[user("x" * 5000)]))
    err = assert_error(resp, 400, "exceeds the context window", "context_length_exceeded", "input")
    assert err["message"].startswith("Your input exceeds the context window of this model")


# -- credentials (docs/provider.md) ------------------------------------------------------------


def test_subscription_needs_a_bearer_the_fake_issued(fake):
    resp = post(fake, body(), headers={"chatgpt-account-id": fake.settings.account_id})
    assert resp.status_code == 401
    bogus = {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.bad", "chatgpt-account-id": "x"}
    resp = post(fake, body(), headers=bogus)
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "invalid_token"


def test_expired_access_token_is_token_expired(fake):
    resp = post(fake, body(), headers=sub_headers(fake, fake.mint_tokens(ttl=-5)))
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "token_expired"


def test_clock_skew_expires_tokens_without_waiting(fake):
    headers = sub_headers(fake, fake.mint_tokens(ttl=60))
    fake.configure(clock_skew_s=120)
    assert post(fake, body(), headers=headers).json()["error"]["code"] == "token_expired"


def test_account_header_must_match_the_token(fake):
    headers = sub_headers(fake)
    headers["chatgpt-account-id"] = "someone-else"
    resp = post(fake, body(), headers=headers)
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "account_mismatch"
    del headers["chatgpt-account-id"]
    assert post(fake, body(), headers=headers).status_code == 403


def test_token_minted_for_another_account_needs_that_account_header(fake):
    fake.script(step(text("ok")))
    tokens = fake.mint_tokens(account_id="acct-other")
    headers = {
        "Authorization": f"Bearer {tokens['access_token']}",
        "chatgpt-account-id": "acct-other",
    }
    assert post(fake, body(), headers=headers).status_code == 200


def test_api_key_path_needs_the_fake_key(fake):
    resp = post(fake, body(), surface="api", headers={})
    assert resp.status_code == 401
    assert "You didn't provide an API key" in resp.json()["error"]["message"]
    resp = post(fake, body(), surface="api", headers={"Authorization": "Bearer sk-wrong"})
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "invalid_api_key"
    # an access token is not an API key
    resp = post(fake, body(), surface="api", headers=sub_headers(fake))
    assert resp.json()["error"]["code"] == "invalid_api_key"


def test_no_step_left_is_a_loud_500(fake):
    resp = post(fake, body())
    assert resp.status_code == 500
    assert "fake backend: no scripted response left" in json.dumps(resp.json())


# -- images --------------------------------------------------------------------------------


def with_image(url, role="user") -> dict:
    return {
        "role": role,
        "content": [
            {"type": "input_text", "text": "look"},
            {"type": "input_image", "image_url": url},
        ],
    }


def test_an_image_data_url_is_checked_as_the_api_checks_it(fake):
    fake.script(step(text("a dot")))
    good = "data:image/png;base64,iVBORw0KGgo="
    assert post(fake, body(input=[with_image(good)])).status_code == 200
    param = "input[0].content[1].image_url"
    assert_error(
        post(fake, body(input=[with_image("data:image/png;base64,***")])),
        400,
        "Invalid base64 image_url.",
        "invalid_value",
        param,
    )
    assert_error(
        post(fake, body(input=[with_image("data:image/bmp;base64,Qk0=")])),
        400,
        "You uploaded an unsupported image.",
        "invalid_image_format",
        param,
    )
    assert_error(
        post(fake, body(input=[with_image("iVBORw0KGgo=")])),
        400,
        "Expected a base64-encoded data URL with an image MIME type",
        "invalid_value",
        param,
    )
    assert_error(
        post(fake, body(input=[with_image(good, role="assistant")])),
        400,
        "Invalid value: 'input_image'.",
        "invalid_value",
    )
    assert fake.steps_left == 0
