"""INTERACTION_CREATE payloads for injected slash commands, clicks and autocomplete.

Payloads are complete on purpose (discord-fake.md point 6): a missing
``attachment_size_limit`` or ``member.flags`` raises KeyError inside the
gateway parser and kills ``bot.start()``; a missing ``channel`` object leaves
``interaction.channel`` None; a missing ``data.guild_id`` on a guild-scoped
command gives CommandNotFound and no response at all.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Iterator, Mapping
from typing import Any

from . import payloads
from .models import FakeMember, FakeRole
from .payloads import JSON
from .state import GuildState

# Interaction types.
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
AUTOCOMPLETE = 4
MODAL_SUBMIT = 5

# Application command option types.
SUB_COMMAND = 1
SUB_COMMAND_GROUP = 2
STRING = 3
INTEGER = 4
BOOLEAN = 5
USER = 6
CHANNEL = 7
ROLE = 8
MENTIONABLE = 9
NUMBER = 10

# Component types of selects, and the option type their values resolve like.
STRING_SELECT = 3
SELECT_OPTION_KIND = {5: USER, 6: ROLE, 7: MENTIONABLE, 8: CHANNEL}

OptionValues = Mapping[str, Any] | list[JSON] | None
Resolved = dict[str, dict[str, JSON]]


def new_token() -> str:
    return "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48)


def iter_components(components: list[JSON]) -> Iterator[JSON]:
    """Every component, depth first (action rows, containers, sections, a label's input...)."""
    for component in components:
        yield component
        yield from iter_components(component.get("components") or [])
        inner = component.get("component")  # a label wraps one input
        if inner:
            yield from iter_components([inner])
        accessory = component.get("accessory")
        if accessory:
            yield accessory


class InteractionBuilder:
    def __init__(self, state: GuildState, application_id: str) -> None:
        self._state = state
        self._application_id = application_id

    # -- envelope ------------------------------------------------------------------

    def envelope(
        self, *, interaction_type: int, user: FakeMember, channel_id: str, data: JSON, locale: str = "en-US"
    ) -> JSON:
        state = self._state
        channel = state.channel(channel_id)
        if channel is None:
            raise LookupError(f"unknown channel {channel_id}")
        user_perms = state.permissions_of(user)
        # A partial channel as Discord sends it; for a thread it is a thread
        # object (type 11/12 with thread_metadata), so discord.py builds a Thread.
        channel_obj = copy.deepcopy(channel)
        channel_obj.pop("thread", None)
        channel_obj["guild_id"] = state.guild_id
        channel_obj["permissions"] = str(user_perms)
        return {
            "id": state.ids.next(),
            "application_id": self._application_id,
            "type": interaction_type,
            "token": new_token(),
            "version": 1,
            "attachment_size_limit": payloads.ATTACHMENT_SIZE_LIMIT,
            "guild_id": state.guild_id,
            "guild": {"id": state.guild_id, "locale": "en-US", "features": []},
            "channel_id": channel_id,
            "channel": channel_obj,
            "member": state.member_payload(user, with_permissions=True),
            "data": data,
            "app_permissions": str(state.permissions_of(state.bot)),
            "locale": locale,
            "guild_locale": "en-US",
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": {"0": state.guild_id},
            "context": 0,
        }

    # -- application commands ---------------------------------------------------------

    def command_data(
        self, command: JSON, path: list[str], options: OptionValues, *, focused: str | None = None
    ) -> JSON:
        """``data`` for a chat-input command; ``path`` is [group,] subcommand."""
        resolved: Resolved = {}
        built = self._options(
            command.get("options") or [], path, options, resolved, focused, where=f"/{command['name']}"
        )
        data: JSON = {"id": command["id"], "name": command["name"], "type": command.get("type", 1), "options": built}
        if command.get("guild_id"):
            # discord.py looks guild commands up by data.guild_id (doc point 7).
            data["guild_id"] = command["guild_id"]
        if resolved:
            data["resolved"] = resolved
        return data

    def _options(
        self,
        schema: list[JSON],
        path: list[str],
        values: OptionValues,
        resolved: Resolved,
        focused: str | None,
        where: str,
    ) -> list[JSON]:
        if path:
            sub = _find_option(schema, path[0], where)
            if sub["type"] not in (SUB_COMMAND, SUB_COMMAND_GROUP):
                raise ValueError(f"{where} {path[0]!r} is not a subcommand or group")
            inner = self._options(
                sub.get("options") or [], path[1:], values, resolved, focused, where=f"{where} {path[0]}"
            )
            return [{"name": path[0], "type": sub["type"], "options": inner}]
        if any(o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP) for o in schema):
            names = [o["name"] for o in schema]
            raise ValueError(f"{where} needs a subcommand, one of {names}")
        if isinstance(values, list):
            return values  # raw option dicts, passed through untouched
        values = dict(values or {})
        out: list[JSON] = []
        for name, value in values.items():
            opt = _find_option(schema, name, where)
            out.append(self._option(opt, value, resolved, focused == name))
        missing = [o["name"] for o in schema if o.get("required") and o["name"] not in values]
        if missing and focused is None:
            raise ValueError(f"{where}: missing required options {missing}")
        return out

    def _option(self, schema: JSON, value: Any, resolved: Resolved, focused: bool) -> JSON:
        kind = schema["type"]
        option: JSON = {"name": schema["name"], "type": kind}
        if focused:
            option["focused"] = True
            option["value"] = value
        elif kind in (USER, ROLE, MENTIONABLE, CHANNEL):
            option["value"] = self._resolve(kind, value, resolved)
        elif kind == INTEGER:
            option["value"] = int(value)
        elif kind == NUMBER:
            option["value"] = float(value)
        elif kind == BOOLEAN:
            option["value"] = bool(value)
        else:
            option["value"] = value
        return option

    def _resolve(self, kind: int, value: Any, resolved: Resolved) -> str:
        """Id of a user/role/channel given as object, id or name; adds it to ``resolved``.

        discord.py builds Member/Role/channel objects for these options (and
        for user/role/channel selects) from ``resolved`` only.
        """
        state = self._state
        if kind in (USER, MENTIONABLE) and isinstance(value, (str, int)):
            try:
                value = state.member(str(value))
            except KeyError:
                if kind == USER:
                    raise
        if kind in (ROLE, MENTIONABLE) and isinstance(value, (str, int)):
            value = state.role(str(value))
        if isinstance(value, FakeMember):
            assert value.id is not None
            resolved.setdefault("users", {})[value.id] = payloads.user_json(value)
            member_data = state.member_payload(value, with_permissions=True)
            member_data.pop("user")
            resolved.setdefault("members", {})[value.id] = member_data
            return value.id
        if isinstance(value, FakeRole):
            assert value.id is not None
            resolved.setdefault("roles", {})[value.id] = payloads.role_json(value)
            return value.id
        channel_id = str(value["id"] if isinstance(value, dict) else value)
        channel = state.channel(channel_id)
        if channel is None:
            raise LookupError(f"unknown channel {channel_id}")
        partial = {k: channel[k] for k in ("id", "name", "type", "parent_id", "thread_metadata") if k in channel}
        partial["permissions"] = str(state.permissions_of(state.bot))
        resolved.setdefault("channels", {})[channel_id] = partial
        return channel_id

    # -- components --------------------------------------------------------------------

    def component_data(self, message: JSON, custom_id: str, values: list[Any] | None) -> JSON:
        components = list(iter_components(message.get("components") or []))
        for component in components:
            if component.get("custom_id") == custom_id:
                kind = component["type"]
                data: JSON = {"custom_id": custom_id, "component_type": kind}
                if kind == STRING_SELECT:
                    data["values"] = [str(v) for v in values or []]
                elif kind in SELECT_OPTION_KIND:
                    # User/role/mentionable/channel selects: ids plus resolved objects.
                    resolved: Resolved = {}
                    data["values"] = [self._resolve(SELECT_OPTION_KIND[kind], v, resolved) for v in values or []]
                    data["resolved"] = resolved
                return data
        known = [c["custom_id"] for c in components if "custom_id" in c]
        raise LookupError(f"message {message['id']} has no component {custom_id!r}; it has {known}")

    # -- modals ---------------------------------------------------------------------------

    @staticmethod
    def modal_submit_data(modal: JSON, values: Mapping[str, Any]) -> JSON:
        """``data`` of a modal submit, mirroring the layout the bot sent (callback type 9).

        Text inputs get ``value``; selects inside labels get ``values``. Inputs
        not named in ``values`` are submitted empty.
        """
        unknown = set(values) - {c.get("custom_id") for c in iter_components(modal.get("components") or [])}
        if unknown:
            raise LookupError(f"modal {modal.get('custom_id')!r} has no inputs {sorted(unknown)}")

        def answer(component: JSON) -> JSON:
            # Each echoes the id Discord numbered it with (see modals.accepted_modal).
            custom_id = component.get("custom_id")
            if component["type"] == 4:  # text input
                return {"type": 4, "id": component.get("id", 0), "custom_id": custom_id,
                        "value": str(values.get(custom_id, ""))}
            value = values.get(custom_id, [])
            return {
                "type": component["type"],
                "id": component.get("id", 0),
                "custom_id": custom_id,
                "values": list(value) if isinstance(value, (list, tuple)) else [value],
            }

        submitted: list[JSON] = []
        for top in modal.get("components") or []:
            if top["type"] == 1:  # action row (the classic layout)
                submitted.append({"type": 1, "id": top.get("id", 0),
                                  "components": [answer(c) for c in top.get("components") or []]})
            elif top["type"] == 18:  # label wrapping one input (discord.py 2.6+)
                submitted.append({"type": 18, "id": top.get("id", 0), "component": answer(top["component"])})
        return {"custom_id": modal["custom_id"], "components": submitted}


def _find_option(schema: list[JSON], name: str, where: str) -> JSON:
    for option in schema:
        if option["name"] == name:
            return option
    raise ValueError(f"{where} has no option {name!r}; options: {[o['name'] for o in schema]}")
