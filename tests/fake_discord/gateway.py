"""The fake gateway: one websocket session at a time, with RESUME replay.

Frames are plain JSON text. discord.py asks for ``compress=zlib-stream`` in the
URL but always accepts text frames, so the query is ignored.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import uuid
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from . import payloads
from .payloads import JSON

if TYPE_CHECKING:
    from .server import FakeDiscord

_log = logging.getLogger(__name__)

# Opcodes.
DISPATCH = 0
HEARTBEAT = 1
IDENTIFY = 2
PRESENCE_UPDATE = 3
RESUME = 6
RECONNECT = 7
REQUEST_GUILD_MEMBERS = 8
INVALID_SESSION = 9
HELLO = 10
HEARTBEAT_ACK = 11


class Gateway:
    """Session state, sequence numbers and the replay buffer."""

    def __init__(self, fake: FakeDiscord, heartbeat_interval_ms: int) -> None:
        self._fake = fake
        # Under 60 s: discord.py gives up on a receive after 60 s and reconnects.
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.session_id: str | None = None
        self.seq = 0
        # Every dispatch of the current session, for RESUME replay (never trimmed:
        # test sessions are short).
        self.buffer: list[JSON] = []
        # The socket dispatches go to; None while the bot is disconnected.
        self.ws: web.WebSocketResponse | None = None
        self._sockets: set[web.WebSocketResponse] = set()
        self._ready_ws: web.WebSocketResponse | None = None
        # Held while assigning a seq and sending, so frames leave in seq order
        # and a RESUME replay is not overtaken by a concurrent dispatch.
        self._lock = asyncio.Lock()
        self.refuse_next_resume = False
        self.refuse_connections = False

        self.connection_count = 0
        self.identify_count = 0
        self.resume_count = 0
        self.ready_count = 0  # READY + GUILD_CREATE fully sent
        self.identify_payloads: list[JSON] = []
        self.heartbeats = 0
        self.replayed: list[JSON] = []  # frames re-sent on a RESUME
        self._heartbeat_waiters: list[asyncio.Future[None]] = []
        self.dispatched: list[JSON] = []  # every dispatch frame, in seq order

    # -- public -------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self.ws is not None and not self.ws.closed

    @property
    def ready(self) -> bool:
        """The current socket finished IDENTIFY (READY + GUILD_CREATE sent) or RESUME.

        Tied to the socket, so a restarted bot is not "ready" because of the
        previous bot's session.
        """
        return self.connected and self.ws is self._ready_ws

    async def dispatch(self, event: str, data: JSON) -> int | None:
        """Send a dispatch now, or buffer it for RESUME if the bot is disconnected.

        Returns the seq, or None when there is no session (nothing identified yet).
        """
        async with self._lock:
            if self.session_id is None:
                _log.debug("no gateway session, dropping %s", event)
                return None
            return await self._dispatch_locked(event, data)

    async def barrier(self, timeout: float = 2.0) -> None:
        """Ask the bot for a heartbeat (server op 1) and wait for it.

        Used before injecting an interaction: by the time the bot's gateway
        reader answers, it has also consumed HTTP responses the fake wrote
        earlier (e.g. the callback that makes discord.py store a view), so a
        click cannot overtake them. If the bot is away, there is nothing to wait for.
        """
        ws = self.ws
        if ws is None or ws.closed:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._heartbeat_waiters.append(waiter)
        try:
            async with self._lock:
                await self._send(ws, {"op": HEARTBEAT, "d": None, "s": None, "t": None})
            await asyncio.wait_for(waiter, timeout)
        except (TimeoutError, ConnectionError):
            _log.info("no heartbeat answer; injecting anyway (the event is buffered for RESUME)")
        finally:
            if waiter in self._heartbeat_waiters:
                self._heartbeat_waiters.remove(waiter)

    async def drop(self, code: int) -> None:
        """Close the current socket; with 1000, 1001 or 4000 discord.py RESUMEs."""
        async with self._lock:
            ws, self.ws = self.ws, None
        if ws is not None and not ws.closed:
            await ws.close(code=code, message=b"fake-discord drop")
        self._fake._changed()

    async def close_all(self) -> None:
        self.ws = None
        for ws in list(self._sockets):
            if not ws.closed:
                await ws.close(code=1001, message=b"fake-discord stopping")

    # -- websocket handler ----------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.refuse_connections:
            return web.Response(status=503, text="gateway unavailable")
        ws = web.WebSocketResponse(autoping=True, heartbeat=None, max_msg_size=0)
        await ws.prepare(request)
        self._sockets.add(ws)
        self.connection_count += 1
        try:
            await self._send(
                ws,
                {
                    "op": HELLO,
                    "d": {"heartbeat_interval": self.heartbeat_interval_ms, "_trace": ["fake-discord"]},
                    "s": None,
                    "t": None,
                },
            )
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_frame(ws, json.loads(msg.data))
                elif msg.type is WSMsgType.ERROR:
                    break
        finally:
            self._sockets.discard(ws)
            if self.ws is ws:
                self.ws = None
            self._fake._changed()
        return ws

    async def _on_frame(self, ws: web.WebSocketResponse, frame: JSON) -> None:
        op = frame.get("op")
        data = frame.get("d")
        if op == HEARTBEAT:
            self.heartbeats += 1
            for waiter in self._heartbeat_waiters:
                if not waiter.done():
                    waiter.set_result(None)
            self._heartbeat_waiters.clear()
            await self._send(ws, {"op": HEARTBEAT_ACK, "d": None, "s": None, "t": None})
        elif op == IDENTIFY:
            await self._identify(ws, data)
        elif op == RESUME:
            await self._resume(ws, data)
        elif op == REQUEST_GUILD_MEMBERS:
            await self._members_chunk(data)
        elif op == PRESENCE_UPDATE:
            pass
        else:
            _log.info("fake gateway ignoring op %s", op)

    async def _identify(self, ws: web.WebSocketResponse, data: JSON) -> None:
        fake = self._fake
        self.identify_count += 1
        self.identify_payloads.append(data)
        fake._changed()
        if fake.token is not None and data.get("token") != fake.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return
        async with self._lock:
            # A fresh session: new id, seq restarts, old buffer is gone.
            self.session_id = uuid.uuid4().hex
            self.seq = 0
            self.buffer = []
            self.ws = ws
            ready = payloads.ready_json(
                user=fake.state.user_payload(fake.state.bot),
                session_id=self.session_id,
                resume_url=fake.gateway_url,
                guild_id=fake.guild_id,
                application_id=fake.application_id,
            )
            await self._dispatch_locked("READY", ready)
            await self._dispatch_locked("GUILD_CREATE", fake.state.guild_create())
            self.ready_count += 1
            self._ready_ws = ws
        fake._changed()

    async def _resume(self, ws: web.WebSocketResponse, data: JSON) -> None:
        fake = self._fake
        if self.refuse_next_resume or data.get("session_id") != self.session_id or self.session_id is None:
            self.refuse_next_resume = False
            # d=false: discord.py forgets the session and IDENTIFYs again
            # (after before_identify_hook, which sleeps 5 s unless overridden).
            await self._send(ws, {"op": INVALID_SESSION, "d": False, "s": None, "t": None})
            fake._changed()
            return
        last_seq = int(data.get("seq") or 0)
        async with self._lock:
            self.ws = ws
            for frame in self.buffer:
                if frame["s"] > last_seq:
                    self.replayed.append(frame)
                    await self._send(ws, frame)
            await self._dispatch_locked("RESUMED", {"_trace": ["fake-discord"]})
            self.resume_count += 1
            self._ready_ws = ws
        fake._changed()

    async def _members_chunk(self, data: JSON) -> None:
        # Only sent when member_count != len(members); answered so the client
        # does not wait 5 s for a chunk that never comes.
        state = self._fake.state
        chunk = {
            "guild_id": state.guild_id,
            "members": [state.member_payload(m) for m in state.members.values()],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        await self.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    # -- sending ------------------------------------------------------------------------

    async def _dispatch_locked(self, event: str, data: JSON) -> int:
        self.seq += 1
        # Deep-copied so later changes to the fake's state cannot alter a frame
        # that is waiting in the replay buffer.
        frame = {"op": DISPATCH, "t": event, "s": self.seq, "d": copy.deepcopy(data)}
        self.buffer.append(frame)
        self.dispatched.append(frame)
        ws = self.ws
        if ws is not None and not ws.closed:
            try:
                await self._send(ws, frame)
            except ConnectionError:
                # The socket died under us; the frame stays buffered for RESUME.
                self.ws = None
        return self.seq

    @staticmethod
    async def _send(ws: web.WebSocketResponse, frame: Any) -> None:
        await ws.send_str(json.dumps(frame))
