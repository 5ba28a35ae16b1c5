"""Documents in Marten's ``mt_doc_<name>`` tables: table naming and the stored (PascalCase) form."""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel

D = TypeVar("D", bound=BaseModel)

DOTNET_NAMESPACE = "ConductorE.Core.Domain"


def doc_table(model: type[BaseModel]) -> str:
    """Marten's document alias is the class name lower-cased, without snake case."""
    return "mt_doc_" + model.__name__.lower()


def dump_doc(doc: BaseModel) -> str:
    """The document as stored in ``data``: PascalCase (``naming.STORED_NAMES``), like Marten's
    serializer writes it."""
    return doc.model_dump_json(by_alias=True)


def load_doc(model: type[D], data: dict[str, Any] | str) -> D:
    if isinstance(data, str):
        data = orjson.loads(data)
    return model.model_validate(data)  # stored PascalCase, read by the model's accepted names


def dotnet_type(model: type[BaseModel]) -> str:
    return f"{DOTNET_NAMESPACE}.{model.__name__}"


@cache
def event_dotnet_type(event_class: type[BaseModel]) -> str:
    """``mt_events.mt_dotnet_type``: the assembly-qualified name Marten records for an event."""
    return f"{DOTNET_NAMESPACE}.{event_class.__name__}, ConductorE.Core"
