"""Modals as Discord takes them: the checks on a MODAL callback (type 9) and the ids it numbers.

Discord refuses a modal that breaks its limits with 400 "Invalid Form Body" (code 50035), and
refuses a modal in answer to a modal submit or an autocomplete (only commands and components may
open one). Components sent without an ``id`` are numbered by Discord (1, 2, ... in order), and a
submission echoes those ids, so the fake numbers them too. Limits: the title 1-45 characters,
custom ids 1-100, 1-5 top-level components, a label's text 1-45 and description up to 100; a text
input's style 1 or 2, ``min_length`` 0-4000, ``max_length`` 1-4000 (not below ``min_length``), a
placeholder up to 100 and a value up to 4000 characters.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

from .interactions import APPLICATION_COMMAND, MESSAGE_COMPONENT
from .payloads import JSON

LABEL = 18
ACTION_ROW = 1
TEXT_INPUT = 4
SELECTS = (3, 5, 6, 7, 8)
TEXT_DISPLAY = 10


class InvalidModal(ValueError):
    """What Discord would name in its 50035 error body."""


def accepted_modal(interaction_type: int, data: JSON) -> JSON:
    """The modal as Discord keeps it (components numbered), or InvalidModal."""
    if interaction_type not in (APPLICATION_COMMAND, MESSAGE_COMPONENT):
        raise InvalidModal(f"interaction type {interaction_type} cannot be answered with a modal "
                           "(only commands and components can open one)")
    modal = copy.deepcopy(data)
    _length(modal, "title", 1, 45)
    _length(modal, "custom_id", 1, 100)
    top = modal.get("components")
    if not isinstance(top, list) or not 1 <= len(top) <= 5:
        raise InvalidModal("components: 1 to 5 are required")
    for component in top:
        list(_inputs(component))
    custom_ids = [c["custom_id"] for c in _walk(top) if "custom_id" in c]
    if len(custom_ids) != len(set(custom_ids)):
        raise InvalidModal(f"components: custom ids must be unique, got {custom_ids}")
    _number(top)
    return modal


def _inputs(component: JSON) -> Iterator[JSON]:
    kind = component.get("type")
    if kind == LABEL:
        _length(component, "label", 1, 45)
        _length(component, "description", 0, 100, optional=True)
        inner = component.get("component")
        if not isinstance(inner, dict) or inner.get("type") not in (TEXT_INPUT, *SELECTS):
            raise InvalidModal("a label holds one text input or select (component)")
        if inner.get("type") == TEXT_INPUT:
            _text_input(inner, in_label=True)
        yield inner
    elif kind == ACTION_ROW:  # the older layout: one text input per row, with its own label
        row = component.get("components") or []
        if len(row) != 1 or row[0].get("type") != TEXT_INPUT:
            raise InvalidModal("an action row in a modal holds exactly one text input")
        _text_input(row[0], in_label=False)
        yield row[0]
    elif kind != TEXT_DISPLAY:
        raise InvalidModal(f"component type {kind} cannot be at the top of a modal")


def _text_input(component: JSON, *, in_label: bool) -> None:
    _length(component, "custom_id", 1, 100)
    if component.get("style") not in (1, 2):
        raise InvalidModal("text input style must be 1 (short) or 2 (paragraph)")
    if in_label and component.get("label") is not None:
        raise InvalidModal("a text input inside a label has no label of its own")
    if not in_label:
        _length(component, "label", 1, 45)
    low, high = component.get("min_length"), component.get("max_length")
    if low is not None and not 0 <= low <= 4000:
        raise InvalidModal("text input min_length must be 0 to 4000")
    if high is not None and not 1 <= high <= 4000:
        raise InvalidModal("text input max_length must be 1 to 4000")
    if low is not None and high is not None and low > high:
        raise InvalidModal("text input min_length is above max_length")
    _length(component, "placeholder", 0, 100, optional=True)
    _length(component, "value", 0, 4000, optional=True)


def _length(obj: JSON, key: str, low: int, high: int, *, optional: bool = False) -> None:
    value = obj.get(key)
    if value is None and optional:
        return
    if not isinstance(value, str) or not low <= len(value) <= high:
        raise InvalidModal(f"{key}: must be {low} to {high} characters, got {value!r}")


def _number(components: list[JSON]) -> None:
    used = {c["id"] for c in _walk(components) if isinstance(c.get("id"), int)}
    counter = 0
    for component in _walk(components):
        if not isinstance(component.get("id"), int):
            counter += 1
            while counter in used:
                counter += 1
            component["id"] = counter


def _walk(components: list[JSON]) -> Iterator[JSON]:
    """Depth first, a label's component after the label, as Discord numbers them."""
    for component in components:
        yield component
        yield from _walk(component.get("components") or [])
        inner = component.get("component")
        if isinstance(inner, dict):
            yield inner
