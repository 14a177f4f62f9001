"""The oracle: BFL's FLUX 1.1 [pro] surface as a FastAPI 0.128.0 app, written by hand.

This is what BFL's server is (FastAPI on pydantic v2, see DESIGN.md "What faithful
means"), reduced to what a client can see: the request model, the API-key security,
the 422/401/403/404/405 framing, and fixed answers for accepted requests. It is
written independently of the mock: nothing here reads openapi.json, and nothing in
``mockserver`` is imported. ``test_fastapi_oracle.py`` checks that this app
regenerates the published schemas, then that the mock answers every request as it does.
"""

import enum
import math
import uuid
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request, Security
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, Field, HttpUrl

# BFL's own words for a key it does not know (live capture, 2025).
INVALID_KEY = "Not authenticated - Invalid Authentication"
TASK_NOT_FOUND = "Task not found"


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
    app = FastAPI(
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
    key_header = APIKeyHeader(name="x-key")
    issued: set[str] = set()

    def accepted_key(key: Annotated[str, Security(key_header)]) -> str:
        # BFL's own check on top of FastAPI's: the key must be one it knows.
        if api_keys and key not in api_keys:
            raise HTTPException(status_code=403, detail=INVALID_KEY)
        return key

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
        task_id = str(uuid.uuid4())
        issued.add(task_id)
        if body.webhook_url is not None:
            # A webhook submit answers the other branch of the response union.
            return AsyncWebhookResponse(
                id=task_id, status="Pending", webhook_url=str(body.webhook_url)
            )
        polling_url = request.url_for("get_result").include_query_params(id=task_id)
        return AsyncResponse(id=task_id, polling_url=str(polling_url))

    @app.get(
        "/v1/get_result",
        tags=["Utility"],
        summary="Get Result",
        description="An endpoint for getting generation task result.",
        response_model=ResultResponse,
    )
    async def get_result(id: Annotated[str, Query()]) -> Any:
        if id not in issued:
            body = ResultResponse(id=id, status=StatusResponse.task_not_found)
            return JSONResponse(body.model_dump(mode="json"), status_code=404)
        return ResultResponse(id=id, status=StatusResponse.pending)

    @app.get(
        "/v1/credits",
        summary="Get the user's credits",
        description="Get the user's credits",
        response_model=CreditsResponse,
    )
    async def get_credits(key: Annotated[str, Security(accepted_key)]) -> Any:
        return CreditsResponse(credits=1000.0)

    if spell_out_unencodable:
        app.add_exception_handler(RequestValidationError, _spelled_out_validation_error)
    return app


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
