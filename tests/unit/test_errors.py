"""Error kinds, their exit codes and retryability."""

import pytest

from pixir.errors import EXIT_CODES, PixirError, exit_code_for


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("invalid_arguments", 2),
        ("config_invalid", 2),
        ("unknown_model", 2),
        ("not_found", 2),
        ("insecure_transport", 2),
        ("permission_denied", 3),
        ("not_authenticated", 4),
        ("corrupt_auth", 4),
        ("session_busy", 5),
        ("incomplete", 6),
        ("max_steps", 6),
        ("schema_mismatch", 6),
        ("usage_limit_reached", 7),
        ("stream_idle_timeout", 124),
        ("interrupted", 130),
        ("terminated", 143),
        ("hangup", 129),
        ("unsafe_path", 2),
        ("network", 1),
        ("server_error", 1),
        ("provider_http_error", 1),
        ("something_new", 1),
    ],
)
def test_every_kind_maps_to_its_documented_exit_code(kind, code):
    assert exit_code_for(kind) == code
    assert PixirError(kind, "m").exit_code == code


def test_exit_codes_use_only_the_documented_values():
    assert set(EXIT_CODES.values()) <= {1, 2, 3, 4, 5, 6, 7, 124, 129, 130, 143}


def test_retryable_follows_the_kind_unless_overridden():
    assert PixirError("network", "x").retryable
    assert not PixirError("usage_limit_reached", "x").retryable
    assert not PixirError("network", "x", retryable=False).retryable
