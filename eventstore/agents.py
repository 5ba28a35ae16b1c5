"""Agent identity: an agent id may carry a pod suffix, and the pod speaks for its agent.

The real agent runtime reports heartbeats as ``dev-e-1/abc12`` (the agent id, a slash, the last
characters of the pod's host name) while it claims work and reads its Valkey stream as the bare
``dev-e-1``. For every rule (assignments, the no-heartbeat rule, stuck reports, credentials) the
pod is its agent; documents and ``/api/agents`` still show what each pod reported.
"""

from __future__ import annotations


def agent_of(agent_id: str) -> str:
    """The agent a (possibly pod-suffixed) id belongs to: ``dev-e-1/abc12`` -> ``dev-e-1``."""
    return agent_id.partition("/")[0]


def pod_of(agent_id: str) -> str | None:
    """The pod part of ``dev-e-1/abc12`` (``abc12``); None for a bare agent id."""
    _, slash, pod = agent_id.partition("/")
    return pod if slash and pod else None


def same_agent(a: str | None, b: str | None) -> bool:
    """Whether two ids name the same agent, pods included (None matches nothing)."""
    return a is not None and b is not None and agent_of(a) == agent_of(b)
