"""The OpenAPI description's schemas, generated from the pydantic models the service itself uses.

Requests: the event catalogue (``eventstore.events``) and the other routes' body models, read as
they validate (``mode="validation"``). The service reads every field in camelCase, PascalCase,
snake_case or UPPER_SNAKE_CASE (``naming.spellings``); the description gives the two casings real
clients send, each as a schema of its own (``X`` in camelCase, ``X_PascalCase``), a body being
either (``anyOf``). An event body is a ``oneOf`` of the types, told apart by ``type`` (``Type`` in
PascalCase), which is the discriminator. Mixed casings and snake_case are accepted too but not
described: one schema per field spelling would make every body's schema four times as long.

Answers: ``answers``' models, as they serialise (``mode="serialization"``), in camelCase.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from eventstore.agent_logs import AgentLogsBody
from eventstore.authorization import is_decision
from eventstore.events import (
    EVENT_TYPES,
    KNOWN_TYPES,
    Event,
    ExecutionCompleted,
    ExecutionStarted,
    ExecutionStep,
    LogLine,
)
from eventstore.learnings import LearningBody
from eventstore.merge import MergeRequest
from eventstore.naming import camel_key, pascal_key

from . import answers

REF = "#/components/schemas/"
PASCAL = "_PascalCase"
Schema = dict[str, Any]

# Request bodies besides the events (either casing), by the name the description gives them.
BODIES: dict[str, type[BaseModel]] = {
    "ExecutionStartPost": ExecutionStarted, "ExecutionStepPost": ExecutionStep, "LogLinePost": LogLine,
    "ExecutionCompletionPost": ExecutionCompleted, "AgentLogsPost": AgentLogsBody,
    "RepoLearningPost": LearningBody, "MergePost": MergeRequest,
}
ANSWERS: tuple[type[BaseModel], ...] = (
    answers.ErrorBody, answers.AppendAnswer, answers.FeedEvent, answers.AgentAnswer, answers.IssueStatus,
    answers.ClaimAnswer,
    answers.RunAnswer, answers.AgentLogsAccepted, answers.AgentLogEntryAnswer, answers.LearningAnswer,
    answers.MergeAnswer, answers.HealthReport,
)
# Fields a body may not set: the service sets them (who decided; the run named by the path).
_SET_BY_SERVICE = ("decided_by", "decided_via", "decider_id", "execution_id")
_ENVELOPE: dict[str, Schema] = {
    "event_id": {"type": "string", "format": "uuid", "description": "makes a retry idempotent (not version 8)"},
    "expected_version": {"type": "integer", "minimum": 0,
                         "description": "append only if the stream is at this version (0: a new stream)"},
}
_CASING_NOTE = ("Fields are read in camelCase, PascalCase, snake_case or UPPER_SNAKE_CASE; unknown fields "
                "are ignored.")


class Schemas:
    """Every schema the description refers to (``components``), and the reference to a model's."""

    def __init__(self) -> None:
        requests: list[tuple[type[BaseModel], JsonSchemaMode]] = [(EVENT_TYPES[t], "validation")
                                                                  for t in KNOWN_TYPES]
        requests += [(model, "validation") for model in BODIES.values()]
        refs, top = models_json_schema([*requests, *((model, "serialization") for model in ANSWERS)],
                                       by_alias=False, ref_template=REF + "{model}")
        self._names = {model: ref["$ref"].removeprefix(REF) for (model, _), ref in refs.items()}
        defs: dict[str, Schema] = top.get("$defs", {})
        for model, _ in requests:  # (nested models keep every field: a decision's Gate is an answer's)
            defs[self._names[model]] = _without_set_fields(defs[self._names[model]])
        schemas = {name: _renamed(schema, camel_key) for name, schema in defs.items()}
        for name in _reachable([self._names[model] for model, _ in requests], defs):  # the PascalCase twins
            schemas[name + PASCAL] = _to_twins(_renamed(defs[name], pascal_key))
        events = [EVENT_TYPES[t] for t in KNOWN_TYPES]
        for cls in events:
            name = self._names[cls]
            schemas[name] = _event(schemas[name], cls, camel_key)
            schemas[name + PASCAL] = _event(schemas[name + PASCAL], cls, pascal_key)
        schemas["Event"] = _one_of_types(events, self._names, "", "type")
        schemas["Event" + PASCAL] = _one_of_types(events, self._names, PASCAL, "Type")
        schemas["EventBody"] = {"anyOf": [{"$ref": REF + "Event"}, {"$ref": REF + "Event" + PASCAL}],
                                "description": "One event, its fields beside its `type`. " + _CASING_NOTE}
        for name, model in BODIES.items():
            assert name not in schemas, f"two schemas named {name}"
            schemas[name] = _either(self._names[model], model.__doc__)
        self.components = schemas

    def ref(self, model: type[BaseModel]) -> Schema:
        return {"$ref": REF + self._names[model]}


def _event(schema: Schema, cls: type[Event], casing: Callable[[str], str]) -> Schema:
    """An event type's body: its ``type`` beside its fields and the envelope's."""
    properties = {casing("type"): {"const": cls.wire_name}, **schema.get("properties", {}),
                  **{casing(name): field for name, field in _ENVELOPE.items()}}
    described = {**schema, "properties": properties, "required": [casing("type"), *schema.get("required", [])]}
    doc = " ".join((cls.__doc__ or f"The {cls.wire_name} event.").split())
    described["description"] = f"{doc} Needs an operator's token." if is_decision(cls) else doc
    described["title"] = cls.wire_name
    return described


def _one_of_types(events: Iterable[type[Event]], name_of: dict[Any, str], suffix: str, tag: str) -> Schema:
    refs = {cls.wire_name: REF + name_of[cls] + suffix for cls in events}
    return {"anyOf": [{"$ref": ref} for ref in refs.values()],
            "discriminator": {"propertyName": tag, "mapping": refs}}


def _either(name: str, doc: str | None) -> Schema:
    described = {"anyOf": [{"$ref": REF + name}, {"$ref": REF + name + PASCAL}], "description": _CASING_NOTE}
    if doc:
        described["description"] = f"{' '.join(doc.split())} {_CASING_NOTE}"
    return described


def _without_set_fields(schema: Schema) -> Schema:
    properties = schema.get("properties")
    if not isinstance(properties, dict) or not any(name in properties for name in _SET_BY_SERVICE):
        return schema
    kept = {**schema, "properties": {k: v for k, v in properties.items() if k not in _SET_BY_SERVICE}}
    if "required" in schema:
        kept["required"] = [name for name in schema["required"] if name not in _SET_BY_SERVICE]
    return kept


def _renamed(schema: Any, casing: Callable[[str], str]) -> Any:
    """``schema`` with every property named in ``casing`` (from the fields' snake_case names)."""
    if isinstance(schema, list):
        return [_renamed(item, casing) for item in schema]
    if not isinstance(schema, dict):
        return schema
    renamed: Schema = {}
    for key, value in schema.items():
        if key == "properties":
            renamed[key] = {casing(name): _renamed(field, casing) for name, field in value.items()}
        elif key == "required":
            renamed[key] = [casing(name) for name in value]
        else:
            renamed[key] = _renamed(value, casing)
    return renamed


def _to_twins(schema: Any) -> Any:
    """``schema`` referring to the PascalCase twins of the schemas it refers to."""
    if isinstance(schema, list):
        return [_to_twins(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    return {key: value + PASCAL if key == "$ref" else _to_twins(value) for key, value in schema.items()}


def _reachable(names: Iterable[str], defs: dict[str, Schema]) -> list[str]:
    """``names`` and every schema they refer to, transitively."""
    found: list[str] = []
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.append(name)
        todo.extend(ref.removeprefix(REF) for ref in _refs(defs[name]))
    return found


def _refs(schema: Any) -> Iterable[str]:
    if isinstance(schema, list):
        for item in schema:
            yield from _refs(item)
    elif isinstance(schema, dict):
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
