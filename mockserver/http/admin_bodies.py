"""The bodies the admin API reads, validated by pydantic: finite numbers, bounded depth.

pydantic's JSON parser refuses NaN and infinities where a field asks for a finite
number, and a nesting deeper than its recursion limit, so a hostile body gets a 400
naming the field, never a 500 or a stored value the rest of the mock cannot use.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

CREDITS_SHAPE = 'send {"api_key": "<key>", "credits": <number>}'
DIRECTIVES_SHAPE = 'send directives as text, or {"directives": "<directives>"}'


class CreditsBody(BaseModel):
    """``PUT /_mock/credits``: a key's new balance, a finite number of credits, at least 0."""

    model_config = ConfigDict(strict=True, frozen=True)
    api_key: Annotated[str, Field(min_length=1)]
    credits: Annotated[float, Field(ge=0, allow_inf_nan=False)]


class DirectivesBody(BaseModel):
    """``PUT /_mock/scenario`` as JSON."""

    model_config = ConfigDict(strict=True, frozen=True)
    directives: str = ""


def problem(error: ValidationError, shape: str) -> str:
    """The first thing wrong with a body, naming the field: ``credits: Input should be …``."""
    first = error.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{where}: {first['msg']} ({shape})"
