"""The serving path's shortcuts, on whatever hypothesis draws, give what the plain ways give.

The rest of the shortcuts, checked case by case, are in http/test_hot_path.py.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mockserver.render import fastapi_errors, wire
from mockserver.spec.validation import FieldError, Rejected
from mockserver.state.tasks import identity

# --- The store's shortcuts ----------------------------------------------------


@given(st.binary(min_size=1, max_size=32), st.integers(min_value=1, max_value=2**63 - 1))
def test_task_ids_are_uuid4s_as_the_uuid_module_writes_them(secret: bytes, number: int) -> None:
    who = identity(secret, number)
    assert who.id == str(uuid.UUID(who.id, version=4))
    assert len(who.blob) == 32 and int(who.blob, 16) >= 0 and 0 <= who.seed < 2**32


# --- Rendering ------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_encode_json_is_fastapis_json_dumps(value: Any) -> None:
    expected = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    assert wire.encode_json(value) == expected.encode()


error_inputs = st.recursive(
    json_values | st.binary(max_size=8) | st.sets(st.integers(), max_size=3),
    lambda inner: st.tuples(inner, inner) | st.lists(inner, max_size=3),
    max_leaves=10,
)


@given(
    st.lists(
        st.builds(
            FieldError,
            type=st.text(max_size=5),
            loc=st.tuples(st.just("body"), st.text(max_size=5) | st.integers()),
            msg=st.text(max_size=5),
            input=error_inputs,
            ctx=st.none() | st.dictionaries(st.text(max_size=5), error_inputs, max_size=2),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_422_bodies_are_encoded_as_jsonable_then_json_dumps_would(errors: list[FieldError]) -> None:
    answer = fastapi_errors.rejection(Rejected(422, errors=tuple(errors)), framework_500s=True)
    try:
        entries = [fastapi_errors.jsonable_error(error, lenient=False) for error in errors]
        expected = (422, wire.encode_json({"detail": entries}))
    except ValueError:  # where FastAPI's encoding crashes, it answers its bare 500
        expected = (500, b"Internal Server Error")
    assert (answer.status_code, bytes(answer.body)) == expected
