"""Price formulas: what a generation costs, in credits (1 credit = $0.01).

Each formula is one mechanism with parameters from the endpoint table (``price = [...]``),
registered by name in ``FORMULAS``. A formula sees what was asked (``Order``) and answers
the cost with the megapixels the submit answer reports.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Protocol

from mockserver.domain.media import MEGAPIXEL, MediaInput, ceil_megapixels


@dataclasses.dataclass(frozen=True, slots=True)
class Order:
    """What a price depends on."""

    body: Mapping[str, Any]
    width: int
    height: int
    duration: float | None
    inputs: tuple[MediaInput, ...]
    """The usable images the request sent (FLUX.2 bills each one)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Price:
    cost: float
    input_mp: float
    output_mp: float


class Formula(Protocol):
    def price(self, order: Order) -> Price: ...
    def describe(self) -> str: ...


def _megapixels(order: Order) -> tuple[float, float]:
    output = order.width * order.height / MEGAPIXEL
    given = sum((item.megapixels for item in order.inputs), 0.0)
    return round(given, 2), round(output, 2)


@dataclasses.dataclass(frozen=True, slots=True)
class Flat:
    """The same price for every image."""

    name: ClassVar[str] = "flat"
    credits: float

    def describe(self) -> str:
        return f"{self.credits:g}"

    def price(self, order: Order) -> Price:
        return Price(self.credits, *_megapixels(order))


@dataclasses.dataclass(frozen=True, slots=True)
class Megapixels:
    """FLUX.2: the first megapixel, then each further one, and each input megapixel.

    Each image's megapixels are rounded up, at least one (``flux-2-pro`` 256x256 costs 3.0
    [live MAR]). The server adds dollars and multiplies by 100, so ``flux-2-max`` costs
    ``7.000000000000001`` [live MAR]: the sum runs in dollars here too.
    """

    name: ClassVar[str] = "megapixels"
    first: float
    per_mp: float
    inputs: bool = True

    def describe(self) -> str:
        extra = " and input" if self.inputs else ""
        return f"{self.first:g} + {self.per_mp:g} per further output{extra} MP, each rounded up"

    def price(self, order: Order) -> Price:
        further = ceil_megapixels(order.width * order.height) - 1
        if self.inputs:
            further += sum(ceil_megapixels(item.area) for item in order.inputs)
        dollars = self.first / 100 + further * (self.per_mp / 100)
        return Price(dollars * 100, *_megapixels(order))


@dataclasses.dataclass(frozen=True, slots=True)
class Lookup:
    """A price per value of one field (FLUX 3 image ``resolution``, outpainting ``mode``)."""

    name: ClassVar[str] = "lookup"
    field: str
    credits: Mapping[str, float]

    def describe(self) -> str:
        return f"{self.field}: " + ", ".join(f"{k} {v:g}" for k, v in self.credits.items())

    def price(self, order: Order) -> Price:
        value = str(order.body.get(self.field))
        cost = self.credits.get(value, max(self.credits.values()))
        return Price(cost, *_megapixels(order))


@dataclasses.dataclass(frozen=True, slots=True)
class PerSecond:
    """Credits per second of output video, flat or per value of one field (``resolution``)."""

    name: ClassVar[str] = "per_second"
    credits: float | Mapping[str, float]
    field: str | None = None

    def describe(self) -> str:
        if isinstance(self.credits, (int, float)):
            return f"{self.credits:g} per second"
        rates = ", ".join(f"{k} {v:g}" for k, v in self.credits.items())
        return f"per second by {self.field}: {rates}"

    def price(self, order: Order) -> Price:
        rate = self.credits
        if not isinstance(rate, (int, float)):
            rate = rate.get(str(order.body.get(self.field or "")), max(rate.values()))
        return Price(round(rate * (order.duration or 0.0), 2), *_megapixels(order))


@dataclasses.dataclass(frozen=True, slots=True)
class MegapixelSeconds:
    """Credits per output megapixel-second, rounded up to a whole credit (Video Upscale)."""

    name: ClassVar[str] = "megapixel_seconds"
    credits: float

    def describe(self) -> str:
        return f"{self.credits:g} per output MP x second, rounded up"

    def price(self, order: Order) -> Price:
        area = order.width * order.height / MEGAPIXEL
        cost = float(math.ceil(self.credits * area * (order.duration or 0.0)))
        return Price(cost, *_megapixels(order))


FORMULAS: Mapping[str, Callable[..., Formula]] = {
    formula.name: formula for formula in (Flat, Megapixels, Lookup, PerSecond, MegapixelSeconds)
}


def build(raw: Mapping[str, Any]) -> Formula:
    """The formula a table row names, with its parameters (``KeyError`` for an unknown one)."""
    params = dict(raw)
    name = params.pop("formula")
    if name not in FORMULAS:
        raise KeyError(f"unknown price formula {name!r}; known: {', '.join(FORMULAS)}")
    return FORMULAS[name](**params)
