"""The scale scenario's event mix: the append workload's events, for a rig that keeps growing.

``workload.py`` walks a fixed 1,000 issues round and round; here every prefix of the stream is a
rig of its own size: one issue is approved per ``1 / ISSUES_PER_EVENT`` events (300 issues at 10k
events, 30,000 at 1M), two in five of them are worked through the normal flow to ISSUE_DONE and
stay done, the rest wait in the queue (~62 % of all issues at any size, as the issue's 18.6k of
30k). Deterministic: the same seed gives the same bodies.

Mix (by count): ~78 % TOOL_USED, ~7 % HEARTBEAT (pods ``dev-e-N/xxxxx``, as the agent runtime
sends them), ~10 % lifecycle (3 % ISSUE_APPROVED, the rest steps of the flow), ~3 % MEMORY_*
(PascalCase, as the memory server sends them; some with ``Repo: ""`` and ``IssueNumber: 0``) and
~2 % TOKEN_USAGE. Tool names, previews, the flow and the providers are the append workload's.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .workload import _FLOW, _INTEGRATIONS, _PROVIDERS, _TOOL_WEIGHTS, _TOOLS, REPOS

ISSUES_PER_EVENT = 0.03
AGENTS = 50
WORKED_SHARE = (0, 1)  # issues whose index % 5 is one of these are worked; the others stay queued
_PRIORITIES = ("normal", "normal", "high", "low", "critical")
_MODELS = ("claude-sonnet-4", "claude-opus-4", "gpt-5")
_QUERIES = ("how did we fix the flaky smoke test on staging last time",
            "conventions for database migrations in this repo",
            "which reviewer comments recur on PRs touching auth")


def issue_ref(index: int) -> tuple[str, int]:
    """Issue ``index`` (0, 1, ...) as (repo, issue number)."""
    return REPOS[index % len(REPOS)], 1 + index // len(REPOS)


def _dumps(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"))


@dataclass
class _Issue:
    step: int = 0  # index into _FLOW of its next lifecycle event
    pr: int | None = None


class ScaleWorkload:
    """Bodies for POST /api/events; ``issues`` says how many issues the bodies so far approved."""

    def __init__(self, seed: int = 1016) -> None:
        self._rng = random.Random(seed)
        self.events = 0
        self.issues = 0
        self._state: dict[int, _Issue] = {}
        self._active: list[int] = []  # worked issues approved and not yet done
        self._agent_issue: list[int | None] = [None] * AGENTS
        self._turns = [0] * AGENTS
        self._pods = [f"{self._rng.getrandbits(20):05x}" for _ in range(AGENTS)]
        self._next_pr = 1

    def bodies(self) -> Iterator[str]:
        while True:
            yield self.next_body()

    def next_body(self) -> str:
        n = self.events
        self.events += 1
        if self.issues <= n * ISSUES_PER_EVENT:
            return self._approve()
        roll = self._rng.random()
        if roll < 0.805:
            return self._tool_used()
        if roll < 0.877:
            return self._heartbeat()
        if roll < 0.947:
            return self._lifecycle()
        if roll < 0.978:
            return self._memory()
        return self._token_usage()

    # -- issues -----------------------------------------------------------------------------------

    def _approve(self) -> str:
        index = self.issues
        self.issues += 1
        if index % 5 in WORKED_SHARE:
            self._state[index] = _Issue()
            self._active.append(index)
        repo, number = issue_ref(index)
        return _dumps({"type": "ISSUE_APPROVED", "repo": repo, "issueNumber": number,
                       "title": f"feat: issue {number} of {repo}, approved for the scale benchmark",
                       "priority": _PRIORITIES[index % len(_PRIORITIES)]})

    def _lifecycle(self) -> str:
        if not self._active:
            return self._tool_used()
        rng = self._rng
        slot = rng.randrange(len(self._active))
        index = self._active[slot]
        issue = self._state[index]
        repo, number = issue_ref(index)
        base = {"repo": repo, "issueNumber": number}
        kind = _FLOW[issue.step]
        agent = f"dev-e-{index % AGENTS + 1}"
        if kind == "CI_PASSED" and rng.random() < 0.25:
            return _dumps({"type": "CI_FAILED", **base, "prNumber": issue.pr, "failedChecks": ["test (3.11)", "lint"]})
        issue.step += 1
        if issue.step == len(_FLOW):  # ISSUE_DONE: it stays done
            self._active[slot] = self._active[-1]
            self._active.pop()
            del self._state[index]
        body: dict[str, Any]
        if kind in ("WORK_STARTED", "BRANCH_CREATED"):
            body = {"agentId": agent, "branch": f"feat/{number}-scale"}
        elif kind == "PR_CREATED":
            issue.pr, self._next_pr = self._next_pr, self._next_pr + 1
            body = {"agentId": agent, "prNumber": issue.pr, "branch": f"feat/{number}-scale",
                    "prUrl": f"https://github.com/{repo}/pull/{issue.pr}"}
        elif kind in ("CI_PASSED", "REVIEW_PASSED", "MERGED"):
            body = {"prNumber": issue.pr}
            if kind == "MERGED":
                body["mergeSha"] = f"{rng.getrandbits(160):040x}"
        elif kind in ("DEPLOYED_STAGING", "DEPLOYED_PRODUCTION"):
            body = {"reason": "staging" if kind == "DEPLOYED_STAGING" else "production"}
        else:
            body = {}
        return _dumps({"type": kind, **base, **body})

    # -- agents -----------------------------------------------------------------------------------

    def _agent(self) -> tuple[int, str, int]:
        """An agent, and the issue it works on (repo, number); it moves on now and then."""
        rng = self._rng
        a = rng.randrange(AGENTS)
        current = self._agent_issue[a]
        if current is None or rng.random() < 1 / 150:
            pool = self._active or range(self.issues)
            current = self._agent_issue[a] = rng.choice(pool)
            self._turns[a] = 0
        repo, number = issue_ref(current)
        return a, repo, number

    def _tool_used(self) -> str:
        rng = self._rng
        a, repo, number = self._agent()
        name, is_mcp, previews = rng.choices(_TOOLS, weights=_TOOL_WEIGHTS)[0]
        self._turns[a] += 1
        return _dumps({"type": "TOOL_USED", "agentId": f"dev-e-{a + 1}", "repo": repo, "issueNumber": number,
                       "toolName": name, "turn": self._turns[a], "targetPreview": rng.choice(previews),
                       "durationMs": int(rng.lognormvariate(6, 1.2)), "isMcp": is_mcp})

    def _heartbeat(self) -> str:
        a, repo, number = self._agent()
        return _dumps({"type": "HEARTBEAT", "agentId": f"dev-e-{a + 1}/{self._pods[a]}", "status": "working",
                       "currentIssue": number, "currentRepo": repo, "activeProvider": "anthropic",
                       "availableProviders": ["anthropic", "openai"], "providers": list(_PROVIDERS),
                       "integrations": list(_INTEGRATIONS)})

    def _memory(self) -> str:
        rng = self._rng
        a, repo, number = self._agent()
        if rng.random() < 0.2:  # the memory server did not know the issue
            repo, number = "", 0
        roll = rng.random()
        memory_id = f"mem-{rng.randrange(5_000):04d}"
        if roll < 0.45:
            return _dumps({"Type": "MEMORY_READ", "Repo": repo, "IssueNumber": number, "AgentId": f"dev-e-{a + 1}",
                           "Query": rng.choice(_QUERIES), "Hits": rng.randrange(6),
                           "TokensLoaded": rng.randrange(200, 4_000)})
        if roll < 0.9:
            return _dumps({"Type": "MEMORY_HIT_USED", "MemoryId": memory_id, "AgentId": f"dev-e-{a + 1}",
                           "UsedInOutput": rng.random() < 0.6})
        return _dumps({"Type": "MEMORY_WRITE", "Repo": repo, "IssueNumber": number, "AgentId": f"dev-e-{a + 1}",
                       "Scope": "repo", "Kind": rng.choice(("fix", "convention", "decision")),
                       "MemoryId": memory_id, "Tokens": rng.randrange(50, 600)})

    def _token_usage(self) -> str:
        rng = self._rng
        a, repo, number = self._agent()
        input_tokens, output_tokens = rng.randrange(2_000, 60_000), rng.randrange(100, 4_000)
        return _dumps({"type": "TOKEN_USAGE", "agentId": f"dev-e-{a + 1}", "repo": repo, "issueNumber": number,
                       "model": rng.choice(_MODELS), "inputTokens": input_tokens, "outputTokens": output_tokens,
                       "costUsd": round(input_tokens * 3e-6 + output_tokens * 15e-6, 6), "category": "work"})
