"""The response generator's edges: the types it refuses, what it cannot draw, its options.

That every value it draws is valid is a property test
(contract/property/test_generation_properties.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given

from contracts import from_schema


def test_an_unknown_type_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unsupported JSON type 'widget'"):
        from_schema({"type": "widget"})


def test_a_false_schema_draws_nothing() -> None:
    assert from_schema(False).is_empty


def test_objects_without_extra_keys_keep_to_their_properties() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}

    @given(from_schema(schema, extra_keys=False))
    def check(value: dict[str, Any]) -> None:
        assert set(value) <= {"a"}

    check()
