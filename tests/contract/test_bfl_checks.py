"""The BFL checks: the registry that names them, and each check on hand-made exchanges."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from PIL import Image

from contracts import (
    CHECKS,
    Broken,
    ContractViolation,
    Exchange,
    Request,
    Response,
    UnknownCheck,
    load_contract,
)
from contracts.checks import CheckRegistry, Needs

from support import BFL_CHECK_NAMES

CONTRACT = load_contract()
polling_url_is_followable = CHECKS["polling_url_is_followable"]
lifecycle_reaches_final_status = CHECKS["lifecycle_reaches_final_status"]
ready_sample_is_requested_image = CHECKS["ready_sample_is_requested_image"]
validation_error_names_broken_field = CHECKS["validation_error_names_broken_field"]
POLLING_URL = "http://api.test/v1/get_result?id=a"
SAMPLE_URL = "http://api.test/results/a/sample.jpeg"
SUBMIT = Request("flux_pro_1_1_v1_flux_pro_1_1_post", "POST", "/v1/flux-pro-1.1", body={})


def answer(status: int, body: Any, url: str = "http://api.test/") -> Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Response(status=status, url=url, headers={}, content=content)


def poll(status: str, **extra: Any) -> Response:
    return answer(200, {"id": "a", "status": status, **extra}, POLLING_URL)


def image(size: tuple[int, int] = (1024, 768), fmt: str = "JPEG") -> Response:
    buffer = io.BytesIO()
    Image.new("RGB", size).save(buffer, fmt)
    return answer(200, buffer.getvalue(), SAMPLE_URL)


READY = poll("Ready", result={"sample": SAMPLE_URL})


def exchange(
    submitted: Any = None, *, polls: tuple[Response, ...] = (READY,), **fields: Any
) -> Exchange:
    if submitted is None:
        submitted = {"id": "a", "polling_url": POLLING_URL}
    settings: dict[str, Any] = {
        "followed": True,
        "requested_size": (1024, 768),
        "requested_format": "jpeg",
        "sample": image(),
    }
    settings.update(fields)
    response = submitted if isinstance(submitted, Response) else answer(200, submitted)
    request = settings.pop("request", SUBMIT)
    return Exchange(request, response, polls=polls, **settings)


def violation(check: Any, case: Exchange) -> str:
    with pytest.raises(ContractViolation) as raised:
        check(CONTRACT, case)
    return str(raised.value)


def test_a_good_exchange_passes_every_check_that_applies() -> None:
    good = exchange()
    assert polling_url_is_followable(CONTRACT, good)
    assert lifecycle_reaches_final_status(CONTRACT, good)
    assert ready_sample_is_requested_image(CONTRACT, good)
    assert not validation_error_names_broken_field(CONTRACT, good)


def test_polling_url_checks_apply_only_to_followed_polling_submits() -> None:
    webhook = Request(SUBMIT.operation_id, "POST", SUBMIT.path, body={"webhook_url": "https://x"})
    branch = {"id": "a", "status": "Queued", "webhook_url": "https://x"}
    assert not polling_url_is_followable(CONTRACT, exchange(branch, request=webhook))
    assert not polling_url_is_followable(CONTRACT, exchange(answer(422, {"detail": []})))
    assert not polling_url_is_followable(CONTRACT, exchange(answer(200, b"not json")))
    assert not polling_url_is_followable(CONTRACT, exchange(followed=False))
    assert not lifecycle_reaches_final_status(CONTRACT, exchange(followed=False))


@pytest.mark.parametrize(
    ("submitted", "fields", "message"),
    [
        ({"id": "a"}, {},
         'a submit without webhook_url was answered with no polling_url: 200 {"id": "a"}'),
        ({"id": "a", "polling_url": "/v1/get_result?id=a"}, {},
         "polling_url is not an absolute http(s) URL: '/v1/get_result?id=a'"),
        (None, {"poll_error": "ConnectError: refused", "polls": ()},
         f"polling_url {POLLING_URL} could not be followed: ConnectError: refused"),
        (None, {"polls": (answer(404, {"detail": "Not Found"}),)},
         f'GET polling_url {POLLING_URL} answered 404 {{"detail": "Not Found"}}'),
        (None, {"polls": (answer(200, b"<html>"),)},
         f"GET polling_url {POLLING_URL} is not JSON: 200 <html>"),
        (None, {"polls": (poll("Done"),)},
         f"GET polling_url {POLLING_URL} answered a body the spec does not allow: "
         "at ['status']: 'Done' is not one of"),
        (None, {"polls": (answer(200, {"id": "b", "status": "Pending"}),)},
         f"polling_url {POLLING_URL} answers for task 'b', not 'a'"),
    ],
)  # fmt: skip
def test_polling_url_is_followable_says_what_is_wrong(
    submitted: Any, fields: dict[str, Any], message: str
) -> None:
    assert message in violation(polling_url_is_followable, exchange(submitted, **fields))


def test_lifecycle_names_the_statuses_it_saw() -> None:
    endless = exchange(polls=(poll("Pending"),) * 3 + (poll("Pending", progress=0.5),))
    assert violation(lifecycle_reaches_final_status, endless).endswith(
        "within 4 polls: statuses seen Pending x4"
    )
    failing = exchange(polls=(poll("Pending"), answer(500, b"Internal Server Error")))
    assert violation(lifecycle_reaches_final_status, failing) == (
        f"polling {POLLING_URL} answered 500 Internal Server Error "
        "before the task reached a final status"
    )
    for final in ("Error", "Request Moderated", "Content Moderated"):
        assert lifecycle_reaches_final_status(CONTRACT, exchange(polls=(poll(final),)))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"polls": (poll("Ready", result=None),)},
         "a Ready task has no result.sample URL: result=None"),
        ({"sample": None, "sample_error": "ReadTimeout: slow"},
         f"result.sample {SAMPLE_URL} could not be fetched: ReadTimeout: slow"),
        ({"sample": answer(403, b"<Error/>")}, f"GET result.sample {SAMPLE_URL} answered 403"),
        ({"sample": answer(200, b"not an image")},
         f"result.sample {SAMPLE_URL} is not an image: cannot identify image file"),
        ({"sample": image(fmt="PNG")},
         "result.sample is a PNG image; the request asked for jpeg"),
        ({"sample": image((1024, 1024))},
         "result.sample is 1024x1024; the request asked for 1024x768"),
    ],
)  # fmt: skip
def test_ready_sample_says_what_is_wrong(fields: dict[str, Any], message: str) -> None:
    assert message in violation(ready_sample_is_requested_image, exchange(**fields))


def test_ready_sample_applies_only_to_ready_tasks_and_checks_what_was_asked() -> None:
    assert not ready_sample_is_requested_image(CONTRACT, exchange(polls=(poll("Error"),)))
    unknown_size = exchange(requested_size=None, sample=image((640, 480)))
    assert ready_sample_is_requested_image(CONTRACT, unknown_size)
    png = exchange(requested_format="png", sample=image(fmt="PNG"))
    assert ready_sample_is_requested_image(CONTRACT, png)


WIDTH = Broken(("body", "width"), "multipleOf", 1000)


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (answer(200, {"id": "a"}),
         'body.width breaks multipleOf (1000): expected 422, got 200 {"id": "a"}'),
        (answer(422, b"oops"), "the 422 is not JSON: 422 oops"),
        (answer(422, {"detail": "width"}),
         "body.width breaks multipleOf (1000): the 422 has no list of errors in 'detail'"),
        (answer(422, {"detail": [{"loc": ["body", "height"], "msg": "x", "type": "y"}]}),
         "body.width breaks multipleOf (1000): the 422 names body.height, not body.width"),
        (answer(422, {"detail": []}),
         "body.width breaks multipleOf (1000): the 422 names nothing, not body.width"),
    ],
)  # fmt: skip
def test_validation_error_says_what_is_wrong(response: Response, message: str) -> None:
    refused = Exchange(SUBMIT, response, broken=WIDTH)
    assert message in violation(validation_error_names_broken_field, refused)


def test_validation_error_accepts_a_loc_that_goes_deeper() -> None:
    deeper = answer(422, {"detail": [{"loc": ["body", "width", "int"], "msg": "x", "type": "y"}]})
    assert validation_error_names_broken_field(CONTRACT, Exchange(SUBMIT, deeper, broken=WIDTH))


def test_the_registry_lists_the_checks_by_name_with_what_they_need() -> None:
    assert CHECKS.names() == BFL_CHECK_NAMES
    assert [check.needs for check in CHECKS] == [Needs.FOLLOWED_SUBMIT] * 3 + [
        Needs.INVALID_REQUEST
    ]
    assert CHECKS["lifecycle_reaches_final_status"].description == (
        "Polling a submitted task reaches a final status within a bounded number of polls."
    )


def test_checks_are_selected_and_excluded_by_name() -> None:
    assert [check.name for check in CHECKS.select(["ready_sample_is_requested_image"])] == [
        "ready_sample_is_requested_image"
    ]
    kept = CHECKS.select(
        exclude=["polling_url_is_followable", "validation_error_names_broken_field"]
    )
    assert [check.name for check in kept] == [
        "lifecycle_reaches_final_status",
        "ready_sample_is_requested_image",
    ]
    # The registry's order, whatever order they were asked in.
    asked = CHECKS.select(["validation_error_names_broken_field", "polling_url_is_followable"])
    assert [check.name for check in asked] == [
        "polling_url_is_followable",
        "validation_error_names_broken_field",
    ]
    assert CHECKS.select([]) == ()


@pytest.mark.parametrize("select", [
    lambda: CHECKS.select(["ready_sample"]),
    lambda: CHECKS.select(exclude=["ready_sample"]),
    lambda: CHECKS["ready_sample"],
])  # fmt: skip
def test_an_unknown_check_name_is_a_clear_error(select: Any) -> None:
    with pytest.raises(UnknownCheck) as raised:
        select()
    assert str(raised.value) == (
        "unknown check 'ready_sample'; known checks: polling_url_is_followable, "
        "lifecycle_reaches_final_status, ready_sample_is_requested_image, "
        "validation_error_names_broken_field"
    )
    assert raised.value.name == "ready_sample"


def test_one_name_as_a_string_is_a_clear_error() -> None:
    with pytest.raises(TypeError) as raised:
        CHECKS.select("ready_sample_is_requested_image")
    assert str(raised.value) == (
        "checks are named in a list, not one string: 'ready_sample_is_requested_image'"
    )
    with pytest.raises(TypeError) as raised:
        CHECKS.select(exclude="ready_sample_is_requested_image")
    assert str(raised.value) == (
        "checks are named in a list, not one string: 'ready_sample_is_requested_image'"
    )


def test_a_name_is_registered_once() -> None:
    registry = CheckRegistry()

    def status_is_ready(contract: Any, exchange: Exchange) -> bool:
        """A made-up check."""
        return True

    register = registry.register(needs=Needs.FOLLOWED_SUBMIT)
    assert register(status_is_ready) is status_is_ready
    assert register(status_is_ready) is status_is_ready  # the same function again: no change

    def other() -> None:
        def status_is_ready(contract: Any, exchange: Exchange) -> bool:
            return False

        register(status_is_ready)

    with pytest.raises(ValueError) as raised:
        other()
    assert str(raised.value) == "a check named 'status_is_ready' is already registered"
    assert registry.names() == ("status_is_ready",) and len(registry) == 1
