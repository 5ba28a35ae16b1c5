"""The Valkey (or Redis) side of assignments: what the agent runtime reads, written exactly once.

For an agent ``dev-e-1`` (never a pod: the runtime reads as the bare agent id):

- ``assignments:dev-e-1``, a stream the runtime reads with ``XREADGROUP GROUP agents <consumer>
  STREAMS assignments:dev-e-1 >``; one entry per assignment, fields ``repo``, ``issueNumber``,
  ``title``, ``priority`` (and ``attempt``, ``eventId``);
- ``signal:dev-e-1``, a list KEDA scales the agent's pods on (its length); the runtime LPOPs it.
  Each assignment pushes the id of its stream entry.

Exactly once: one Lua script (atomic on the server: all of it happens or none) adds the entry,
pushes the signal and sets a marker named after the event, ``conductor-e:published:<agent>:<event
id>``, kept for ``MARKER_DAYS``; it does nothing when the marker is there. The reader checkpoints
after publishing, so a crash between the two replays the event into a script that finds its
marker: no second entry, no second signal. (An entry id derived from the event's sequence number
would also make XADD refuse a replay, but it would refuse every later entry too once the stream
holds a higher id: a database restored or started afresh beside a kept Valkey, or entries another
producer added with ``*``, and assignments would be dropped without a word.)

The consumer group ``agents`` is created (MKSTREAM) when missing, at ``$``: before a stream's first
entry, and at start-up for the agents the dispatcher serves, so a runtime's first XREADGROUP
finds it. A single Valkey or Redis (or a primary with replicas) is assumed: the script's keys are
not in one cluster slot, and the runtime's key names leave no room for a hash tag.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.exceptions import ResponseError
from redis.retry import Retry

log = logging.getLogger(__name__)

GROUP = "agents"
MARKER_DAYS = 30  # a replay comes minutes after a publish; a database restored from a backup, later
STREAM_MAX = 1000  # entries kept per agent (trimmed approximately): a runtime acknowledges long before
SIGNAL_MAX = 1000  # signals kept per agent, should no pod ever pop them
TIMEOUT = 5.0  # seconds to connect, and for any one command


def stream_key(agent: str) -> str:
    return f"assignments:{agent}"


def signal_key(agent: str) -> str:
    return f"signal:{agent}"


def marker_key(agent: str, event_id: str) -> str:
    return f"conductor-e:published:{agent}:{event_id}"


# KEYS: the stream, the signal list, the marker. ARGV: the marker's lifetime (s), the stream's and
# the list's bounds, the group, then the entry's field/value pairs. Returns {entry id, 1 if new}.
_PUBLISH = """
local known = redis.call('GET', KEYS[3])
if known then
  return {known, 0}
end
local made = redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[4], '$', 'MKSTREAM')
if type(made) == 'table' and made.err and not string.find(made.err, 'BUSYGROUP', 1, true) then
  return redis.error_reply(made.err)
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 5))
redis.call('LPUSH', KEYS[2], id)
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)
redis.call('SET', KEYS[3], id, 'EX', ARGV[1])
return {id, 1}
"""


def client_url(url: str) -> str:
    """``url`` as redis-py takes it: ``valkey://`` and ``valkeys://`` are Valkey's names for
    ``redis://`` and ``rediss://``."""
    parts = urlsplit(url)
    scheme = {"valkey": "redis", "valkeys": "rediss"}.get(parts.scheme.lower(), parts.scheme)
    return urlunsplit((scheme, *parts[1:]))


def safe_url(url: str) -> str:
    """``url`` without its password, for the log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit((parts.scheme, user + host, *parts[2:]))


class ValkeyAssignments:
    """Publishes assignments (``AssignmentSink``); every command bounded by ``timeout``. A lost
    connection raises (redis-py's ConnectionError or TimeoutError) and is opened again by the next
    command; retrying is the reader's job, with its backoff."""

    def __init__(self, url: str, *, timeout: float = TIMEOUT) -> None:
        self._redis: Redis = Redis.from_url(
            client_url(url), decode_responses=True, socket_connect_timeout=timeout, socket_timeout=timeout,
            retry=Retry(NoBackoff(), 0), health_check_interval=30, client_name="conductor-e")
        self._script = self._redis.register_script(_PUBLISH)

    async def prepare(self, agents: Sequence[str]) -> None:
        """Make sure each agent's stream has the consumer group, so that its runtime's first read works."""
        for agent in agents:
            try:
                await self._redis.xgroup_create(stream_key(agent), GROUP, id="$", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def publish(self, agent: str, event_id: str, fields: Mapping[str, str]) -> tuple[str, bool]:
        """Add the entry and the signal for the assignment ``event_id`` unless it is published
        already; returns (stream entry id, whether it is new)."""
        pairs: list[Any] = [item for pair in fields.items() for item in pair]
        result = await self._script(
            keys=[stream_key(agent), signal_key(agent), marker_key(agent, event_id)],
            args=[MARKER_DAYS * 86400, STREAM_MAX, SIGNAL_MAX, GROUP, *pairs])
        entry, new = result
        return str(entry), bool(int(new))

    async def close(self) -> None:
        await self._redis.aclose()
