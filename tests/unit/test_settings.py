from __future__ import annotations

from pathlib import Path

import pytest

from mockserver.errors import SettingsError
from mockserver.settings import MockSettings, SubmitCost, Timing


def test_defaults_bind_loopback_and_follow_the_best_evidence() -> None:
    settings = MockSettings()
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.timing is Timing.TIME
    assert settings.unknown_task_status_code == 404
    assert settings.submit_cost is SubmitCost.ENDPOINT
    assert settings.sample_ttl_seconds is None  # each endpoint's own (the endpoint table)
    # Prices are the endpoint table's; default_price is for endpoints the table lacks.
    assert settings.price_override("/v1/flux-pro-1.1", known=True) is None
    assert settings.price_override("/v1/flux-unknown", known=False) == settings.default_price
    flat = settings.replace(prices={"/v1/flux-pro-1.1": 1.0})
    assert flat.price_override("/v1/flux-pro-1.1", known=True) == 1.0


def test_from_env_reads_prefixed_variables_only() -> None:
    settings = MockSettings.from_env(
        {
            "BFL_MOCK_PORT": "9001",
            "BFL_MOCK_TIMING": "POLLS",
            "BFL_MOCK_API_KEYS": "a, b,,",
            "BFL_MOCK_STRICT": "yes",
            "BFL_MOCK_SEED": "none",
            "BFL_MOCK_SPEC": "/tmp/spec.json",
            "BFL_MOCK_PRICES": "/v1/x=3,/v1/y=2.5",
            "BFL_MOCK_PUBLIC_URL": "",
            "PORT": "1",
        }
    )
    assert settings.port == 9001
    assert settings.timing is Timing.POLLS
    assert settings.api_keys == frozenset({"a", "b"})
    assert settings.strict is True
    assert settings.seed is None
    assert settings.spec == Path("/tmp/spec.json")
    assert dict(settings.prices) == {"/v1/x": 3.0, "/v1/y": 2.5}
    assert settings.public_url is None


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("BFL_MOCK_PORT", "eighty", "BFL_MOCK_PORT='eighty' is not a valid int"),
        ("BFL_MOCK_STRICT", "sometimes", "BFL_MOCK_STRICT='sometimes' is not a valid bool"),
        ("BFL_MOCK_TIMING", "never", "not a valid choice among time, polls"),
        ("BFL_MOCK_PRICES", "/v1/x", "not a valid list of PATH=NUMBER pairs"),
        ("BFL_MOCK_PORT", "70000", "port must be between 0 and 65535"),
        ("BFL_MOCK_UNKNOWN_TASK_STATUS_CODE", "500", "must be 200 or 404"),
        ("BFL_MOCK_GENERATION_SECONDS", "-1", "generation_seconds must not be negative"),
        ("BFL_MOCK_POLLS_UNTIL_READY", "-2", "polls_until_ready must not be negative"),
        ("BFL_MOCK_CREDITS", "nan", "BFL_MOCK_CREDITS='nan' is not a valid float"),
        ("BFL_MOCK_GENERATION_SECONDS", "inf", "'inf' is not a valid float"),
        ("BFL_MOCK_MAX_BODY_BYTES", "0", "max_body_bytes must be at least 1"),
        ("BFL_MOCK_MAX_CONNECTIONS", "0", "max_connections must be at least 1"),
        ("BFL_MOCK_JOURNAL_BYTES", "-1", "journal_bytes must not be negative"),
        ("BFL_MOCK_HEADER_TIMEOUT_SECONDS", "0", "header_timeout_seconds must be more than 0"),
    ],
)
def test_bad_values_name_the_variable(variable: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        MockSettings.from_env({variable: value})


def test_replace_refuses_unknown_names() -> None:
    with pytest.raises(SettingsError, match="unknown setting"):
        MockSettings().replace(colour="blue")
    assert MockSettings().replace(port=1).port == 1
