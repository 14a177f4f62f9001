"""One frozen settings object: everything that changes how the mock behaves.

Every behaviour of the real API that is unknown (see the README's table of choices)
is one typed field here, defaulting to the best-evidenced choice. Settings are read
from flags or the environment only at the edges (``cli``, ``pytest_plugin``).
"""

from __future__ import annotations

import dataclasses
import enum
import math
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mockserver.errors import SettingsError

ENV_PREFIX = "BFL_MOCK_"
MEMORY_STORE = "memory"
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
"""How a setting (or ``?reveal=``) says yes, lower case."""
_FALSE = frozenset({"0", "false", "no", "off", ""})


class Timing(enum.Enum):
    """What moves a task from Pending to its final status."""

    TIME = "time"
    """Wall-clock time, like the real API: a task takes ``generation_seconds``."""
    POLLS = "polls"
    """Poll count: instant and deterministic, for tests."""


class SubmitCost(enum.Enum):
    """How the submit response reports ``cost``, ``input_mp`` and ``output_mp``."""

    ENDPOINT = "endpoint"
    """As each endpoint answers (endpoint table): numbers for FLUX.2, the image tools and
    FLUX 3 image; null for FLUX.1, Kontext and video (captures of 2025-2026)."""
    NULL = "null"
    """Present and null, as FLUX.1 endpoints answered in December 2025."""
    ABSENT = "absent"
    """Left out, as in captures from mid-2025."""
    PRICE = "price"
    """The price in credits and the megapixels on every endpoint."""


class UrlInputs(enum.Enum):
    """What an image or video URL the mock will not fetch stands for.

    It fetches loopback URLs and its own sample URLs; it never calls the internet.
    """

    STAND_IN = "stand-in"
    """A plain stand-in: a 1024x1024 picture, or a 5 s 1280x704 clip; the task succeeds."""
    ERROR = "error"
    """The task fails: ``Invalid or corrupted image input``, as the real API answers a URL
    it cannot read."""


class WebhookStyle(enum.Enum):
    """The payload shape POSTed to ``webhook_url`` (two are seen in the wild)."""

    TASK_ID = "task_id"
    """``{"task_id", "status": "SUCCESS"|"FAILED", ...}``, as production receivers expect."""
    ID = "id"
    """``{"id", "status": "Ready", "result", "timestamp"}``: what BFL's skill docs describe."""


class WebhookSignature(enum.Enum):
    """How the ``webhook_secret`` travels with a delivery."""

    SECRET = "secret"
    """The secret itself, in the signature header."""
    HMAC_SHA256 = "hmac-sha256"
    """``sha256=<hex HMAC-SHA256(secret, raw body)>`` in the signature header."""
    NONE = "none"


NOT_NEGATIVE = """generation_seconds sample_ttl_seconds webhook_timeout_seconds
fetch_timeout_seconds polls_until_ready journal_limit journal_bytes journal_body_bytes
prompt_chars_kept task_retention_seconds image_cache_bytes video_cache_bytes
video_render_seconds max_active_tasks retry_after_seconds webhook_queue_limit
shutdown_grace_seconds""".split()
AT_LEAST_ONE = """workers task_limit webhook_concurrency webhook_per_receiver max_body_bytes
max_header_bytes max_connections video_renders""".split()


def setting(default: Any = dataclasses.MISSING, *, factory: Any = None, help: str) -> Any:
    """A settings field; ``help`` feeds ``bfl-mock serve --help`` and the README table."""
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata={"help": help})
    return dataclasses.field(default=default, metadata={"help": help})


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MockSettings:
    """How one mock instance behaves. Build with keywords, or ``from_env``."""

    host: str = setting("127.0.0.1", help="interface to listen on")
    port: int = setting(8000, help="port to listen on (0 picks a free one)")
    spec: Path | None = setting(
        None,
        help="OpenAPI document to serve: a file, or a bundled spec (latest, 2026-10, "
        "2026-04-23; bfl-mock specs lists them) instead of the seed's openapi.json",
    )
    public_url: str | None = setting(
        None, help="origin used in polling_url and sample URLs (default: the Host the client used)"
    )
    timing: Timing = setting(
        Timing.TIME, help="what makes a task Ready: 'time' (like the real API) or 'polls'"
    )
    generation_seconds: float = setting(3.0, help="with timing=time, seconds from submit to Ready")
    polls_until_ready: int = setting(
        3, help="with timing=polls, how many polls answer Pending before the final status"
    )
    seed: int | None = setting(
        None, help="seeds task ids, random seeds and URL signatures (default: fresh each start)"
    )
    api_keys: frozenset[str] = setting(
        frozenset(), help="accepted x-key values, comma-separated (default: any non-empty key)"
    )
    require_key_on_poll: bool = setting(
        False, help="refuse get_result without x-key (the spec declares no security there)"
    )
    store: str = setting(
        "memory",
        help="where tasks, balances and the journal live: 'memory' (this process) or "
        "redis://HOST:PORT/DB (shared by several workers and hosts; ?prefix= keeps mocks apart)",
    )
    workers: int = setting(
        1, help="processes serving the port (more than one needs a shared store)"
    )
    task_retention_seconds: float = setting(
        86400.0, help="a task is forgotten this long after its submit (then Task not found)"
    )
    task_limit: int = setting(
        100_000, help="most tasks kept in memory (the oldest are forgotten first)"
    )
    credits: float = setting(1000.0, help="starting credit balance of each key")
    prices: Mapping[str, float] = setting(
        factory=dict,
        help="flat credits per Ready task for these endpoints instead of their own price "
        "(the endpoint table), as PATH=CREDITS pairs",
    )
    default_price: float = setting(
        4.0, help="credits per Ready image on endpoints the endpoint table does not know"
    )
    submit_cost: SubmitCost = setting(
        SubmitCost.ENDPOINT,
        help="cost/input_mp/output_mp on submit: 'endpoint' (as each endpoint answers), "
        "'null', 'absent' or 'price'",
    )
    sample_ttl_seconds: float | None = setting(
        None,
        help="sample URLs expire this long after the task is ready, then 403 (default: "
        "the endpoint's own, 10 min for images, 1 h for FLUX 3 image and the video tools, "
        "2 h for FLUX 3 video)",
    )
    endpoint_table: Path | None = setting(
        None,
        help="a TOML file of endpoint-behaviour rows laid over the bundled table (sizes, "
        "prices, limits, statuses per endpoint; README: Endpoint behaviours)",
    )
    url_inputs: UrlInputs = setting(
        UrlInputs.STAND_IN,
        help="media URLs beyond loopback (never fetched): 'stand-in' (a plain 1024x1024 "
        "picture or 5 s 1280x704 clip) or 'error' (the task fails, as for an unreadable URL)",
    )
    fetch_timeout_seconds: float = setting(
        10.0, help="seconds to wait for a loopback media URL to answer"
    )
    unknown_task_status_code: int = setting(
        404, help="HTTP status of a poll for an unknown id: 404 (seen live) or 200 (the spec)"
    )
    framework_500s: bool = setting(
        False,
        help="answer 500 where FastAPI itself crashes (NaN, bad bytes or lone surrogates in a 422)",
    )
    scenario: str = setting(
        "", help="directives applied to every request, e.g. 'poll-503=1, latency=0.2'"
    )
    admin: bool = setting(True, help="serve the admin API under /_mock (off: 404 there)")
    admin_token: str | None = setting(
        None, help="when set, /_mock and the dashboard need Authorization: Bearer ADMIN_TOKEN"
    )
    max_active_tasks: int = setting(
        24, help="unfinished tasks one key may have; more submits get 429"
    )
    retry_after_seconds: int = setting(1, help="Retry-After sent with 429 and 503")
    webhook_style: WebhookStyle = setting(
        WebhookStyle.TASK_ID, help="webhook payload: 'task_id' (SUCCESS/FAILED) or 'id' (Ready)"
    )
    webhook_signature: WebhookSignature = setting(
        WebhookSignature.SECRET,
        help="how webhook_secret is sent: 'secret', 'hmac-sha256' or 'none'",
    )
    webhook_signature_header: str = setting(
        "x-webhook-secret", help="header carrying the webhook secret or signature"
    )
    webhook_hosts: frozenset[str] = setting(
        frozenset(),
        help="webhook receivers allowed beyond loopback (127.0.0.0/8, ::1, localhost, "
        "*.localhost): host names (* patterns), addresses and networks (CIDR), each "
        "optionally with :PORT, comma-separated; names are never looked up unless listed",
    )
    webhook_any_host: bool = setting(
        False, help="deliver webhooks to any host (beyond loopback and webhook_hosts)"
    )
    webhook_concurrency: int = setting(
        64, help="webhook attempts under way at once, all receivers together"
    )
    webhook_per_receiver: int = setting(
        8,
        help="connections (so attempts under way) to one receiver (scheme, host and port); "
        "the others wait their turn without holding a global slot",
    )
    webhook_queue_limit: int = setting(
        10_000,
        help="webhooks waiting to be delivered; past it a new one is kept as not sent (noted)",
    )
    webhook_timeout_seconds: float = setting(
        10.0, help="seconds a webhook attempt may take, from connecting to the answer"
    )
    webhook_retry_delays: tuple[float, ...] = setting(
        (1.0, 5.0, 30.0), help="seconds before each retry of a failed webhook, comma-separated"
    )
    strict: bool = setting(
        False, help="check every response against the spec and record violations"
    )
    journal_limit: int = setting(10_000, help="most recent requests kept in the journal")
    journal_bytes: int = setting(
        32 * 1024 * 1024, help="memory the journal may hold (the oldest entries go first)"
    )
    journal_body_bytes: int = setting(
        16 * 1024,
        help="bytes of each body the journal keeps; the rest is cut and the entry marked "
        "truncated (downloaded media are never kept)",
    )
    max_body_bytes: int = setting(
        80 * 1024 * 1024, help="largest request body (a 50 MB video in base64); past it 413"
    )
    max_header_bytes: int = setting(64 * 1024, help="largest request head; past it 431")
    header_timeout_seconds: float = setting(
        10.0, help="a connection that sends no whole request head within this time is closed"
    )
    max_connections: int = setting(
        1000, help="connections and requests under way at once; past it 503 (limit_concurrency)"
    )
    prompt_chars_kept: int = setting(
        10_000, help="characters of a prompt a task keeps (result.prompt shows them)"
    )
    image_cache_bytes: int = setting(64 * 1024 * 1024, help="memory for rendered images")
    video_cache_bytes: int = setting(256 * 1024 * 1024, help="memory for rendered videos")
    video_renders: int = setting(1, help="videos rendered at once (more wait their turn)")
    video_render_seconds: float = setting(
        120.0, help="a video render running longer is given up (the download answers 503)"
    )
    access_log: bool = setting(False, help="log one line per request")
    shutdown_grace_seconds: int = setting(
        5,
        help="on SIGTERM or Ctrl+C, seconds replies under way may take to finish before "
        "they are cut (webhooks not sent by then are logged as abandoned)",
    )

    def __post_init__(self) -> None:
        if self.unknown_task_status_code not in (200, 404):
            raise SettingsError(
                f"unknown_task_status_code must be 200 or 404, not {self.unknown_task_status_code}"
            )
        if any(delay < 0 for delay in self.webhook_retry_delays):
            raise SettingsError(
                f"webhook_retry_delays must not be negative: {self.webhook_retry_delays}"
            )
        for name in NOT_NEGATIVE:
            value = getattr(self, name)
            if value is not None and value < 0:
                raise SettingsError(f"{name} must not be negative, not {value}")
        for name in AT_LEAST_ONE:
            if getattr(self, name) < 1:
                raise SettingsError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.workers > 1 and self.store == MEMORY_STORE:
            raise SettingsError(
                f"{self.workers} workers need a shared store: each process would keep its "
                "own tasks, and a poll landing on another one would get Task not found. "
                "Run Redis and give --store redis://127.0.0.1:6379/0"
            )
        if not (timeout := self.header_timeout_seconds) > 0:
            raise SettingsError(f"header_timeout_seconds must be more than 0, not {timeout}")
        if not 0 <= self.port <= 65535:
            raise SettingsError(f"port must be between 0 and 65535, not {self.port}")

    def replace(self, **changes: Any) -> MockSettings:
        """Return a copy with ``changes`` applied; unknown names raise ``SettingsError``."""
        unknown = set(changes) - {field.name for field in dataclasses.fields(self)}
        if unknown:
            raise SettingsError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)

    def price_override(self, path: str, *, known: bool) -> float | None:
        """A flat price set for ``path`` (or for every endpoint the table does not know)."""
        if path in self.prices:
            return self.prices[path]
        return None if known else self.default_price

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, prefix: str = ENV_PREFIX) -> MockSettings:
        """Build settings from ``{prefix}{FIELD_NAME}`` variables; others keep defaults."""
        return cls().replace(**parse_values(environ, prefix=prefix))


def env_name(field_name: str, prefix: str = ENV_PREFIX) -> str:
    return prefix + field_name.upper()


def parse_values(raw: Mapping[str, str], *, prefix: str = "") -> dict[str, Any]:
    """Parse ``{prefix}{NAME}`` strings into typed values for the matching fields."""
    hints = typing.get_type_hints(MockSettings)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(MockSettings):
        key = env_name(field.name, prefix) if prefix else field.name
        if key in raw:
            values[field.name] = parse_value(key, raw[key], hints[field.name])
    return values


def to_environment(settings: MockSettings, *, prefix: str = ENV_PREFIX) -> dict[str, str]:
    """Every setting as the ``{prefix}{NAME}`` text ``from_env`` reads back to it."""
    return {
        env_name(field.name, prefix): format_value(getattr(settings, field.name))
        for field in dataclasses.fields(MockSettings)
    }


def format_value(value: Any) -> str:
    """A setting's value as the text ``parse_value`` reads back to it."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, (frozenset, tuple)):
        return ",".join(sorted(value) if isinstance(value, frozenset) else map(repr, value))
    if isinstance(value, Mapping):
        return ",".join(f"{name}={price!r}" for name, price in value.items())
    if isinstance(value, float):
        return repr(value)
    return str(value)


def parse_value(key: str, text: str, annotation: Any) -> Any:
    """Parse one setting from text, naming ``key`` and the expected type on failure."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        if text.strip().lower() in ("", "none", "null"):
            return None
        (inner,) = (arg for arg in args if arg is not type(None))
        return parse_value(key, text, inner)
    try:
        if annotation is bool:
            lowered = text.strip().lower()
            if lowered not in TRUE_WORDS | _FALSE:
                raise ValueError(text)
            return lowered in TRUE_WORDS
        if annotation is float:
            number = float(text.strip())
            if not math.isfinite(number):
                raise ValueError(text)
            return number
        if annotation in (int, str):
            return annotation(text.strip() if annotation is not str else text)
        if annotation is Path:
            return Path(text)
        if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
            return annotation(text.strip().lower())
        if origin is frozenset:
            return frozenset(item.strip() for item in text.split(",") if item.strip())
        if origin is tuple:
            return tuple(float(item) for item in text.split(",") if item.strip())
        if origin is Mapping:
            pairs = (item.split("=", 1) for item in text.split(",") if item.strip())
            return {name.strip(): float(value) for name, value in pairs}
    except ValueError as error:
        raise SettingsError(f"{key}={text!r} is not a valid {_describe(annotation)}") from error
    raise SettingsError(f"{key}: no parser for {annotation!r}")  # pragma: no cover


def _describe(annotation: Any) -> str:
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "choice among " + ", ".join(member.value for member in annotation)
    if typing.get_origin(annotation) is Mapping:
        return "list of PATH=NUMBER pairs"
    if typing.get_origin(annotation) in (frozenset, tuple):
        return "comma-separated list"
    return getattr(annotation, "__name__", str(annotation))
