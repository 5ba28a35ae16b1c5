"""Injecting what users do: slash commands, clicks, selects, modals, autocomplete.

Every injection goes out as an INTERACTION_CREATE dispatch (buffered for
RESUME if the bot is away) and is recorded in ``fake.interactions`` so the
test can wait for the bot's callback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import events
from .interactions import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    InteractionBuilder,
    OptionValues,
)
from .models import FakeMember
from .payloads import JSON
from .records import InjectedInteraction, InteractionRecord

if TYPE_CHECKING:
    from .gateway import Gateway
    from .state import GuildState

UserRef = FakeMember | str | None
MessageRef = JSON | str


class InjectionMixin:
    """The user-side actions of FakeDiscord (kept apart to keep modules small)."""

    if TYPE_CHECKING:
        state: GuildState
        gateway: Gateway
        guild_id: str
        channel_id: str
        global_commands: list[JSON]
        interactions: dict[str, InteractionRecord]
        _interactions_by_token: dict[str, InteractionRecord]
        _builder: InteractionBuilder

        def synced_commands(self, guild_id: str | int | None = None) -> list[JSON]: ...
        def _changed(self) -> None: ...

    def _user(self, user: UserRef) -> FakeMember:
        if isinstance(user, FakeMember):
            return user
        if user is None:
            # The first human member (the gate-role holder with the default members).
            return next(m for m in self.state.members.values() if not m.bot)
        return self.state.member(user)

    def find_command(self, name: str, guild_id: str | None = None) -> JSON:
        """A synced chat-input command: guild-scoped first, then global."""
        guild_id = guild_id or self.guild_id
        for command in [*self.synced_commands(guild_id), *self.global_commands]:
            if command["name"] == name and command.get("type", 1) == 1:
                return command
        synced = [c["name"] for c in [*self.synced_commands(guild_id), *self.global_commands]]
        raise LookupError(f"command {name!r} was never synced (tree.sync()); synced: {synced}")

    async def _inject(self, payload: JSON) -> InjectedInteraction:
        if self.gateway.session_id is None:
            raise RuntimeError("no gateway session yet: start the bot and `await fake.wait_ready()` first")
        record = InteractionRecord(
            id=payload["id"],
            token=payload["token"],
            type=payload["type"],
            payload=payload,
            channel_id=payload["channel_id"],
        )
        # Let the bot finish reading earlier responses first (see Gateway.barrier).
        await self.gateway.barrier()
        self.interactions[record.id] = record
        self._interactions_by_token[record.token] = record
        # Buffered and replayed on RESUME if the bot is disconnected right now.
        await self.gateway.dispatch("INTERACTION_CREATE", payload)
        self._changed()
        return InjectedInteraction(record.id, record.token, payload)

    def _command_payload(
        self,
        kind: int,
        name: str,
        options: OptionValues,
        user: UserRef,
        subcommand: str | None,
        channel_id: str | int | None,
        focused: str | None,
        locale: str,
    ) -> JSON:
        # "gate approve" and name="gate", subcommand="approve" mean the same;
        # a group is "group sub" (e.g. "gate issue approve").
        parts = name.split() + (subcommand.split() if subcommand else [])
        command = self.find_command(parts[0])
        data = self._builder.command_data(command, parts[1:], options, focused=focused)
        return self._builder.envelope(
            interaction_type=kind,
            user=self._user(user),
            channel_id=str(channel_id or self.channel_id),
            data=data,
            locale=locale,
        )

    async def slash_command(
        self,
        name: str,
        options: OptionValues = None,
        user: UserRef = None,
        *,
        subcommand: str | None = None,
        channel_id: str | int | None = None,
        locale: str = "en-US",
    ) -> InjectedInteraction:
        """Inject a chat-input command.

        ``options`` is ``{"name": value}`` (types come from the synced command;
        FakeMember/FakeRole values fill ``resolved``) or a raw list of option dicts.
        """
        payload = self._command_payload(APPLICATION_COMMAND, name, options, user, subcommand, channel_id, None, locale)
        return await self._inject(payload)

    async def autocomplete(
        self,
        name: str,
        focused: str,
        value: Any,
        options: OptionValues = None,
        user: UserRef = None,
        *,
        subcommand: str | None = None,
        channel_id: str | int | None = None,
    ) -> InjectedInteraction:
        """Inject an autocomplete request; the bot answers with callback type 8 (``data.choices``)."""
        values = dict(options or {})  # type: ignore[arg-type]
        values[focused] = value
        payload = self._command_payload(AUTOCOMPLETE, name, values, user, subcommand, channel_id, focused, "en-US")
        return await self._inject(payload)

    async def click_button(self, message: MessageRef, custom_id: str, user: UserRef = None, *,
                           from_guild: str | None = None) -> InjectedInteraction:
        """Click a button (or any component) on a message the bot sent. ``from_guild``: the click
        arrives as if from another guild with that id (a forged or misrouted interaction)."""
        return await self._component(message, custom_id, None, user, from_guild)

    async def select(
        self, message: MessageRef, custom_id: str, values: list[Any], user: UserRef = None
    ) -> InjectedInteraction:
        """Pick values in a select menu. For user/role/channel selects give
        FakeMember/FakeRole objects, ids or names; ``resolved`` is filled in."""
        return await self._component(message, custom_id, values, user)

    async def _component(
        self, message: MessageRef, custom_id: str, values: list[Any] | None, user: UserRef,
        from_guild: str | None = None,
    ) -> InjectedInteraction:
        message_id = message["id"] if isinstance(message, dict) else str(message)
        stored = self.state.message(message_id)
        if stored is None:
            raise LookupError(f"unknown message {message_id}")
        data = self._builder.component_data(stored, custom_id, values)
        # The channel object is the message's channel: a thread when clicked in a thread.
        payload = self._builder.envelope(
            interaction_type=MESSAGE_COMPONENT, user=self._user(user), channel_id=stored["channel_id"], data=data
        )
        # The full message: discord.py looks persistent views up by its id first.
        payload["message"] = stored
        if from_guild is not None:
            payload["guild_id"] = payload["channel"]["guild_id"] = from_guild
            payload["guild"] = {"id": from_guild, "locale": "en-US", "features": []}
            payload["authorizing_integration_owners"] = {"0": from_guild}
        return await self._inject(payload)

    async def submit_modal(
        self, interaction: InjectedInteraction | str, values: dict[str, Any], user: UserRef = None
    ) -> InjectedInteraction:
        """Submit the modal the bot opened (callback type 9) in answer to ``interaction``.

        ``values`` maps input custom_ids to the text typed (or a list for selects).
        """
        interaction_id = interaction.id if isinstance(interaction, InjectedInteraction) else str(interaction)
        source = self.interactions[interaction_id]
        modal = next((c.data for c in source.callbacks if c.type == 9), None)
        if modal is None:
            raise LookupError(
                f"interaction {interaction_id} was not answered with a modal; "
                f"callbacks: {[c.type for c in source.callbacks]}"
            )
        data = self._builder.modal_submit_data(modal, values)
        member = self._user(user) if user is not None else self.state.members[source.payload["member"]["user"]["id"]]
        payload = self._builder.envelope(
            interaction_type=MODAL_SUBMIT, user=member, channel_id=source.channel_id, data=data
        )
        if "message" in source.payload:
            # A modal opened from a button: Discord includes that message, and
            # the submit may then update it (callback 6/7).
            stored = self.state.message(source.payload["message"]["id"])
            payload["message"] = stored if stored is not None else source.payload["message"]
        return await self._inject(payload)

    async def post_user_message(self, content: str, user: UserRef = None, channel_id: str | int | None = None) -> JSON:
        """A human posts a message (MESSAGE_CREATE, when dispatch_messages is on)."""
        message = self.state.add_message(
            str(channel_id or self.channel_id), {"content": content}, author=self._user(user)
        )
        await events.message_created(self, message)
        return message

    async def archive_thread(self, thread_id: str | int, *, locked: bool = False) -> JSON:
        """Archive a thread as Discord's auto-archive would (THREAD_UPDATE to the bot)."""
        thread = self.state.set_archived(str(thread_id), True, locked=locked)
        await events.channel_updated(self, thread)
        return thread
