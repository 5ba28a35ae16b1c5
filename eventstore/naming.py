"""Name conversions shared by the wire format, the stored format and Marten's aliases.

Marten derives a stored event alias from the .NET class name with two regex passes
(JasperFx ``ToTableAlias``): ``marten_alias``. Fields are snake_case in Python; the spellings a
field is read and stored under (camelCase, PascalCase, UPPER_SNAKE_CASE) are all derived from that
one name here, so they can never drift apart.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from pydantic import AliasChoices, AliasGenerator

_ACRONYM_THEN_WORD = re.compile(r"([^a-z])([^a-z][a-z])")
_LOWER_THEN_OTHER = re.compile(r"([a-z])([^a-z])")


@lru_cache(maxsize=4096)
def marten_alias(class_name: str) -> str:
    """Marten's ClassicTypeName alias: ``ToolUsed`` -> ``tool_used``, ``PRMerged`` -> ``pr_merged``."""
    spaced = _LOWER_THEN_OTHER.sub(r"\1 \2", _ACRONYM_THEN_WORD.sub(r"\1 \2", class_name))
    return spaced.lower().replace(" ", "_")


@lru_cache(maxsize=4096)
def pascal_key(snake: str) -> str:
    """snake_case -> PascalCase, the casing Marten's serializer writes (``is_mcp`` -> ``IsMcp``)."""
    return "".join(part[:1].upper() + part[1:] for part in snake.split("_"))


@lru_cache(maxsize=4096)
def camel_key(key: str) -> str:
    """PascalCase or snake_case -> camelCase for answers (``IssueNumber`` -> ``issueNumber``)."""
    if "_" in key:
        key = pascal_key(key)
    return key[:1].lower() + key[1:]


def spellings(snake: str) -> tuple[str, ...]:
    """The spellings a field is read under: camelCase (what a missing field is reported as),
    PascalCase, snake_case and UPPER_SNAKE_CASE (``issueNumber``, ``IssueNumber``, ``issue_number``,
    ``ISSUE_NUMBER``); the first one present in a body wins."""
    return tuple(dict.fromkeys((camel_key(snake), pascal_key(snake), snake, snake.upper())))


def accepted_names(snake: str) -> AliasChoices:
    """``spellings`` as pydantic's validation alias."""
    return AliasChoices(*spellings(snake))


# Models that are stored (events, documents) serialise by alias, and this generator makes every
# field's alias its PascalCase name: the renaming happens inside pydantic's serializer. Each model
# nested in a stored model needs it too, or its keys would be stored snake_case.
# They also read every field under each of ``accepted_names``: agents send camelCase and
# PascalCase, at every level, and pydantic matching the spellings itself (in Rust) costs far less
# than renaming a body's keys in Python before validating it.
STORED_NAMES = AliasGenerator(serialization_alias=pascal_key, validation_alias=accepted_names)


def camel_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {camel_key(str(k)): camel_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel_keys(v) for v in value]
    return value
