"""The oracle: BFL's API as FastAPI 0.128.0 apps, independent of the mock.

This is what BFL's server is (FastAPI on pydantic v2, see DESIGN.md "What faithful
means"), reduced to what a client can see: the request models, the API-key security,
the 422/401/403/404/405 framing, and fixed answers for accepted requests. Nothing in
``mockserver`` is imported.

Two apps: ``create_reference_app`` is the bundled spec's FLUX 1.1 [pro] surface with
its model written by hand (it reads no spec at all); ``create_published_reference_app``
serves every generation operation of a spec BFL published, with the models
datamodel-code-generator wrote from it (``reference_models``). http/test_fastapi_oracle.py
and http/test_reference_models.py check that each regenerates its published schemas,
property/test_fastapi_oracle_properties.py that the mock answers every request as it does.
"""

import enum
import math
import uuid
from collections.abc import Callable
from types import ModuleType
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request, Security
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, Field, HttpUrl, RootModel

from reference_models import Generation, Published

# BFL's own words for a key it does not know (live capture, 2025).
INVALID_KEY = "Not authenticated - Invalid Authentication"
TASK_NOT_FOUND = "Task not found"
PENDING = "Pending"


class OutputFormat(str, enum.Enum):
    jpeg = "jpeg"
    png = "png"


class StatusResponse(str, enum.Enum):
    task_not_found = "Task not found"
    pending = "Pending"
    request_moderated = "Request Moderated"
    content_moderated = "Content Moderated"
    ready = "Ready"
    error = "Error"


class FluxPro11Inputs(BaseModel):
    prompt: str | None = Field(
        default="",
        description="Text prompt for image generation.",
        json_schema_extra={"example": "ein fantastisches bild"},
    )
    image_prompt: str | None = Field(
        default=None, description="Optional base64 encoded image to use with Flux Redux."
    )
    width: int = Field(
        default=1024,
        multiple_of=32,
        le=1440,
        ge=256,
        description="Width of the generated image in pixels. Must be a multiple of 32.",
    )
    height: int = Field(
        default=768,
        multiple_of=32,
        le=1440,
        ge=256,
        description="Height of the generated image in pixels. Must be a multiple of 32.",
    )
    prompt_upsampling: bool = Field(
        default=False,
        description=(
            "Whether to perform upsampling on the prompt. If active, automatically "
            "modifies the prompt for more creative generation."
        ),
    )
    seed: int | None = Field(
        default=None,
        description="Optional seed for reproducibility.",
        json_schema_extra={"example": 42},
    )
    safety_tolerance: int = Field(
        default=2,
        le=6,
        ge=0,
        description=(
            "Tolerance level for input and output moderation. Between 0 and 6, 0 being "
            "most strict, 6 being least strict."
        ),
        json_schema_extra={"example": 2},
    )
    output_format: OutputFormat | None = Field(
        default=OutputFormat.jpeg,
        description="Output format for the generated image. Can be 'jpeg' or 'png'.",
    )
    webhook_url: HttpUrl | None = Field(
        default=None, description="URL to receive webhook notifications"
    )
    webhook_secret: str | None = Field(
        default=None, description="Optional secret for webhook signature verification"
    )


class AsyncResponse(BaseModel):
    id: str
    polling_url: str
    cost: float | None = Field(default=None, description="Cost in credits for this request")
    input_mp: float | None = Field(default=None, description="Input megapixels (2 decimal places)")
    output_mp: float | None = Field(
        default=None, description="Output megapixels (2 decimal places)"
    )


class AsyncWebhookResponse(BaseModel):
    id: str
    status: str
    webhook_url: str
    cost: float | None = Field(default=None, description="Cost in credits for this request")
    input_mp: float | None = Field(default=None, description="Input megapixels (2 decimal places)")
    output_mp: float | None = Field(
        default=None, description="Output megapixels (2 decimal places)"
    )


class ResultResponse(BaseModel):
    id: str = Field(description="Task id for retrieving result")
    status: StatusResponse
    result: Any | None = None
    progress: float | None = None
    details: dict[str, Any] | None = None
    preview: dict[str, Any] | None = None


class CreditsResponse(BaseModel):
    credits: float = Field(description="User's current credit balance")


def create_reference_app(
    *, api_keys: frozenset[str] = frozenset(), spell_out_unencodable: bool = False
) -> FastAPI:
    """BFL's server as FastAPI would run it; ``api_keys`` empty accepts any non-empty key.

    ``spell_out_unencodable`` swaps in a 422 handler that writes what FastAPI's own
    cannot (NaN, undecodable bytes, lone surrogates) instead of crashing: the one
    deliberate difference of the mock's default (README, "Faithful to FastAPI 0.128.0").
    """
    app = _bfl_app()
    accepted_key = _key_check(api_keys)
    issued: set[str] = set()

    @app.post(
        "/v1/flux-pro-1.1",
        tags=["Models"],
        summary="Generate an image with FLUX 1.1 [pro].",
        description="Submits an image generation task with FLUX 1.1 [pro].",
        response_model=AsyncResponse | AsyncWebhookResponse,
    )
    async def flux_pro_1_1(
        request: Request,
        body: FluxPro11Inputs,
        key: Annotated[str, Security(accepted_key)],
    ) -> Any:
        return _accept(request, issued, body.webhook_url, AsyncResponse, AsyncWebhookResponse)

    _serve_tasks(app, issued, accepted_key, ResultResponse, StatusResponse, CreditsResponse)
    if spell_out_unencodable:
        app.add_exception_handler(RequestValidationError, _spelled_out_validation_error)
    return app


def create_published_reference_app(
    published: Published,
    *,
    api_keys: frozenset[str] = frozenset(),
    spell_out_unencodable: bool = False,
) -> FastAPI:
    """BFL's server for a whole published spec: every generation operation, polls and credits.

    Each generation route takes the path and operationId the spec gives it and the
    model generated from the spec (``reference_models``) as its body, and answers as
    ``create_reference_app``'s FLUX 1.1 [pro] route does. Business rules no schema
    states (sizes over a limit, combinations of fields) are not here: FastAPI cannot
    know them from the models, and the differential test names them apart.
    """
    app = _bfl_app()
    accepted_key = _key_check(api_keys)
    issued: set[str] = set()
    models = published.models
    for generation in published.generations:
        _submit_route(app, generation, issued, accepted_key, models)
    _serve_tasks(
        app,
        issued,
        accepted_key,
        models.ResultResponse,
        models.StatusResponse,
        models.CreditsResponse,
    )
    if spell_out_unencodable:
        app.add_exception_handler(RequestValidationError, _spelled_out_validation_error)
    return app


def _bfl_app() -> FastAPI:
    return FastAPI(
        title="BFL API",
        description="Authorize with an API key from your user profile.",
        version="0.0.1",
        servers=[{"url": "https://api.bfl.ai", "description": "BFL API"}],
        openapi_tags=[
            {
                "name": "Models",
                "description": "Generation task endpoints. These endpoints allow you to "
                "submit generation tasks.",
            },
            {
                "name": "Utility",
                "description": "These utility endpoints allow you to check the results of "
                "submitted tasks and to manage your finetunes.",
            },
        ],
        docs_url=None,
        redoc_url=None,
    )


def _key_check(api_keys: frozenset[str]) -> Callable[[str], str]:
    key_header = APIKeyHeader(name="x-key")

    def accepted_key(key: Annotated[str, Security(key_header)]) -> str:
        # BFL's own check on top of FastAPI's: the key must be one it knows.
        if api_keys and key not in api_keys:
            raise HTTPException(status_code=403, detail=INVALID_KEY)
        return key

    return accepted_key


def _accept(
    request: Request,
    issued: set[str],
    webhook_url: object,
    polled: type[BaseModel],
    webhooked: type[BaseModel],
) -> BaseModel:
    """A fresh task, answered with its polling URL, or the webhook it will be delivered to."""
    task_id = str(uuid.uuid4())
    issued.add(task_id)
    if webhook_url is not None:
        # A webhook submit answers the other branch of the response union.
        return webhooked(id=task_id, status="Pending", webhook_url=str(webhook_url))
    polling_url = request.url_for("get_result").include_query_params(id=task_id)
    return polled(id=task_id, polling_url=str(polling_url))


def _submit_route(
    app: FastAPI,
    generation: Generation,
    issued: set[str],
    accepted_key: Callable[[str], str],
    models: ModuleType,
) -> None:
    body_model = generation.body

    async def submit(
        request: Request,
        body: body_model,  # type: ignore[valid-type]
        key: Annotated[str, Security(accepted_key)],
    ) -> Any:
        # A RootModel body (the video modes) holds its fields in .root, as BFL's routes unwrap.
        payload: Any = body
        fields = payload.root if isinstance(payload, RootModel) else payload
        webhook_url = getattr(fields, "webhook_url", None)
        return _accept(
            request, issued, webhook_url, models.AsyncResponse, models.AsyncWebhookResponse
        )

    app.post(
        generation.path,
        tags=["Models"],
        operation_id=generation.operation_id,
        response_model=models.AsyncResponse | models.AsyncWebhookResponse,
    )(submit)


def _serve_tasks(
    app: FastAPI,
    issued: set[str],
    accepted_key: Callable[[str], str],
    result_model: type[BaseModel],
    statuses: type[enum.Enum],
    credits_model: type[BaseModel],
) -> None:
    """get_result and credits: a task this app issued is Pending; any other is not found."""

    @app.get(
        "/v1/get_result",
        tags=["Utility"],
        summary="Get Result",
        description="An endpoint for getting generation task result.",
        response_model=result_model,
    )
    async def get_result(id: Annotated[str, Query()]) -> Any:
        if id not in issued:
            body = result_model(id=id, status=statuses(TASK_NOT_FOUND))
            return JSONResponse(body.model_dump(mode="json"), status_code=404)
        return result_model(id=id, status=statuses(PENDING))

    @app.get(
        "/v1/credits",
        summary="Get the user's credits",
        description="Get the user's credits",
        response_model=credits_model,
    )
    async def get_credits(key: Annotated[str, Security(accepted_key)]) -> Any:
        return credits_model(credits=1000.0)


async def _spelled_out_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    try:
        return await request_validation_exception_handler(request, exc)
    except ValueError:  # what FastAPI's handler crashes on (UnicodeError is a ValueError)
        content = {"detail": jsonable_encoder(_spell_out(exc.errors()))}
        return JSONResponse(status_code=422, content=content)


def _spell_out(value: Any) -> Any:
    if isinstance(value, dict):
        return {_spell_out(key): _spell_out(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_spell_out(item) for item in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value
