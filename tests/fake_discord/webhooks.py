"""Interaction callbacks, ``@original`` and followups (the webhook routes).

discord.py sends these through its webhook adapter: same Route.BASE, no
Authorization header, and it retries every 5xx after 1 s, 3 s, 5 s...
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from aiohttp import web

from . import events, payloads
from .interactions import APPLICATION_COMMAND, MESSAGE_COMPONENT
from .modals import InvalidModal, accepted_modal
from .payloads import FLAG_EPHEMERAL, FLAG_LOADING, JSON
from .records import (
    CHANNEL_MESSAGE_WITH_SOURCE,
    DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
    DEFERRED_UPDATE_MESSAGE,
    MODAL,
    UPDATE_MESSAGE,
    Callback,
    InteractionRecord,
)
from .rest import attachments_from, edit_message
from .wire import API_PREFIX, body_of, discord_error, fake_of, files_of, json_response, no_content

if TYPE_CHECKING:
    from .server import FakeDiscord

routes = web.RouteTableDef()


def _unknown_webhook() -> web.Response:
    return discord_error(404, 10015, "Unknown Webhook")


def _response_message(
    fake: FakeDiscord, record: InteractionRecord, body: JSON, channel_id: str, *, loading: bool = False
) -> JSON:
    """A message sent as the interaction's response or followup (author: the bot, via webhook)."""
    user = record.payload["member"]["user"]
    metadata: JSON = {
        "id": record.id,
        "type": record.type,
        "user": user,
        "authorizing_integration_owners": {"0": fake.guild_id},
    }
    if record.type == MESSAGE_COMPONENT:
        metadata["interacted_message_id"] = record.payload["message"]["id"]
    elif record.type == APPLICATION_COMMAND:
        metadata["name"] = record.payload["data"]["name"]
    body = dict(body)
    if loading:
        body["flags"] = int(body.get("flags") or 0) | FLAG_LOADING
    message_type = (
        payloads.MESSAGE_CHAT_INPUT_COMMAND if record.type == APPLICATION_COMMAND else payloads.MESSAGE_DEFAULT
    )
    extra = {"webhook_id": fake.application_id, "application_id": fake.application_id, "interaction_metadata": metadata}
    return fake.state.add_message(channel_id, body, message_type=message_type, extra=extra)


@routes.post(API_PREFIX + "/interactions/{interaction_id}/{token}/callback")
async def interaction_callback(request: web.Request) -> web.Response:
    fake = fake_of(request)
    record = fake.interactions.get(request.match_info["interaction_id"])
    if record is None or record.token != request.match_info["token"]:
        return discord_error(404, 10062, "Unknown interaction")
    if record.acknowledged:
        return discord_error(400, 40060, "Interaction has already been acknowledged.")
    body = body_of(request) or {}
    kind = int(body["type"])
    data: JSON = body.get("data") or {}
    ephemeral = bool(int(data.get("flags") or 0) & FLAG_EPHEMERAL)
    message: JSON | None = None
    if kind == MODAL:
        try:
            data = accepted_modal(record.type, data)  # numbered, as a submission echoes it
        except InvalidModal as exc:
            return discord_error(400, 50035, f"Invalid Form Body: {exc}")

    if kind in (CHANNEL_MESSAGE_WITH_SOURCE, DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE):
        body_data = {**data, "attachments": attachments_from(files_of(request), record.channel_id, fake.state.ids)}
        message = _response_message(
            fake, record, body_data, record.channel_id, loading=kind == DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
        )
        record.original_message_id = message["id"]
        await events.message_created(fake, message)
    elif kind in (UPDATE_MESSAGE, DEFERRED_UPDATE_MESSAGE) and "message" in record.payload:
        # For a component interaction (or a modal opened from one) "@original"
        # is the message that was clicked.
        target = fake.state.message(record.payload["message"]["id"])
        record.original_message_id = target["id"] if target is not None else None
        if kind == UPDATE_MESSAGE and target is not None:
            fake.state.edit_message(target, data)
            await events.message_updated(fake, target)
            message = target

    callback = Callback(record.id, kind, data, ephemeral, copy.deepcopy(message))
    record.callbacks.append(callback)
    fake.callbacks.append(callback)
    fake._changed()

    if request.query.get("with_response") not in ("1", "true", "True"):
        return no_content()
    interaction: JSON = {
        "id": record.id,
        "type": record.type,
        "response_message_loading": kind == DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
        "response_message_ephemeral": ephemeral,
    }
    resource: JSON = {"type": kind}
    if message is not None:
        interaction["response_message_id"] = message["id"]
        resource["message"] = message
    # A 204 here breaks discord.py (TypeError in InteractionCallbackResponse).
    return json_response({"interaction": interaction, "resource": resource})


def _record_for(request: web.Request) -> InteractionRecord | None:
    fake = fake_of(request)
    if request.match_info["application_id"] != fake.application_id:
        return None
    return fake.interaction_by_token(request.match_info["token"])


def _webhook_message(request: web.Request, record: InteractionRecord) -> JSON | None:
    fake = fake_of(request)
    message_id = request.match_info["message_id"]
    if message_id == "@original":
        if record.original_message_id is None:
            return None
        message_id = record.original_message_id
    elif message_id not in record.followup_ids and message_id != record.original_message_id:
        return None
    return fake.state.message(message_id)


@routes.post(API_PREFIX + "/webhooks/{application_id}/{token}")
async def post_followup(request: web.Request) -> web.Response:
    fake = fake_of(request)
    record = _record_for(request)
    if record is None:
        return _unknown_webhook()
    if not record.acknowledged:
        return discord_error(404, 10015, "Unknown Webhook")  # what Discord says before a callback
    body = dict(body_of(request) or {})
    channel_id = request.query.get("thread_id", record.channel_id)
    body["attachments"] = attachments_from(files_of(request), channel_id, fake.state.ids)
    original = fake.state.message(record.original_message_id) if record.original_message_id else None
    if original is not None and original["flags"] & FLAG_LOADING and not record.followup_ids:
        # The first followup after a "thinking" defer replaces the loading
        # message instead of posting a new one (its ephemerality was fixed by the defer).
        body.pop("flags", None)
        fake.state.edit_message(original, body)
        message = original
        record.followup_ids.append(message["id"])
        await events.message_updated(fake, message)
    else:
        message = _response_message(fake, record, body, channel_id)
        record.followup_ids.append(message["id"])
        await events.message_created(fake, message)
    if request.query.get("wait") not in ("true", "1", "True"):
        return no_content()
    return json_response(message)


_MESSAGE_PATH = API_PREFIX + "/webhooks/{application_id}/{token}/messages/{message_id}"


def _message_at(request: web.Request) -> JSON | web.Response:
    """The message a webhook-message route names, or the error Discord answers instead."""
    record = _record_for(request)
    if record is None:
        return _unknown_webhook()
    message = _webhook_message(request, record)
    return message if message is not None else discord_error(404, 10008, "Unknown Message")


@routes.get(_MESSAGE_PATH)
async def get_webhook_message(request: web.Request) -> web.Response:
    found = _message_at(request)
    return found if isinstance(found, web.Response) else json_response(found)


@routes.patch(_MESSAGE_PATH)
async def patch_webhook_message(request: web.Request) -> web.Response:
    found = _message_at(request)
    return found if isinstance(found, web.Response) else await edit_message(request, found)


@routes.delete(_MESSAGE_PATH)
async def delete_webhook_message(request: web.Request) -> web.Response:
    found = _message_at(request)
    if isinstance(found, web.Response):
        return found
    fake = fake_of(request)
    fake.state.delete_message(found["id"])
    await events.message_deleted(fake, found)
    return no_content()
