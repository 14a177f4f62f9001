"""Records as JSON, for a store outside this process (Redis), with pydantic.

The records are plain frozen dataclasses; pydantic reads and writes them (nested
dataclasses, enums, tuples) without a serialiser written here. Bytes travel as base64:
that is the one setting pydantic needs, given to each class it meets as bytes' owner.
"""

from __future__ import annotations

from pydantic import ConfigDict, TypeAdapter

from mockserver.domain.generation import Generation
from mockserver.state.records import Call, Delivery, TaskRecord

_BASE64 = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")
for _owner in (Generation, TaskRecord, Call, Delivery):
    # pydantic reads a stdlib dataclass's config from this attribute.
    setattr(_owner, "__pydantic_config__", _BASE64)  # noqa: B010

RECORDS: TypeAdapter[TaskRecord] = TypeAdapter(TaskRecord)
CALLS: TypeAdapter[Call] = TypeAdapter(Call)
DELIVERIES: TypeAdapter[Delivery] = TypeAdapter(Delivery)
