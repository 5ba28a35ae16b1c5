"""The rig's event mix, as agents send it: a deterministic stream of POST /api/events bodies.

Mix (by count): ~80 % TOOL_USED, ~10 % HEARTBEAT, ~10 % lifecycle events.

- 20 agents (``dev-e-1`` .. ``dev-e-20``). Each works on one issue at a time and moves to another
  now and then; its TOOL_USED and HEARTBEAT events name that issue (so observability events land
  on issue streams, as they do in production).
- 1,000 issues spread over four repos. ``seed_bodies()`` approves every one of them
  (ISSUE_APPROVED) before anything is timed, so no lifecycle event ever reaches an issue that was
  not approved first, whatever order concurrent connections deliver them in.
- Lifecycle events walk each issue through the normal flow (work started, branch, PR, CI, review,
  merge, deploys, done), one step per event, on an issue chosen at random; an issue that reached
  ISSUE_DONE is approved again and starts over. No event here triggers a recovery rule, so the
  service appends exactly one event per request.

Bodies are JSON text, one per line in the file the load generators read (wrk's Lua script and the
Python fallback client read the same file), and their size is about what agents send: 150-350 bytes.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

AGENT_COUNT = 20
ISSUE_COUNT = 1_000
REPOS = ("acme/app", "acme/api", "acme/web", "acme/infra")

# (toolName, isMcp, target previews)
_TOOLS: tuple[tuple[str, bool, tuple[str, ...]], ...] = (
    ("Bash", False, (
        "pytest -q tests/unit/test_issue_status.py -k 'not slow' --maxfail=1",
        "git status --porcelain && git diff --stat origin/main...HEAD",
        "npm run build -- --mode production 2>&1 | tail -n 40",
        "ruff check src/ tests/ --output-format=concise",
        "docker compose -f deploy/staging.yml ps --format json",
    )),
    ("Read", False, (
        "src/conductor/projections/issue_status.py",
        "services/api/handlers/webhooks/github_pull_request.ts",
        "docs/architecture/adr-0042-event-store-batching.md",
    )),
    ("Edit", False, (
        "src/conductor/http/events_routes.py: replace the body parser with the shared one",
        "web/src/components/IssueBoard/IssueCard.tsx: show the CI badge next to the PR link",
    )),
    ("Grep", False, ("def evolve\\(|class .*Status\\(BaseModel\\)", "TODO|FIXME|XXX")),
    ("Glob", False, ("**/*.py", "services/**/migrations/*.sql")),
    ("mcp__github__create_pull_request", True, ("acme/app: feat: batch appends in one transaction",)),
    ("mcp__memory__search", True, ("how did we fix the flaky smoke test on staging last time",)),
)
_TOOL_WEIGHTS = (40, 25, 15, 8, 5, 3, 4)

# One issue's flow after its approval; CI_FAILED now and then, then the rest.
_FLOW = (
    "WORK_STARTED", "BRANCH_CREATED", "PR_CREATED", "CI_PASSED", "REVIEW_PASSED", "MERGED",
    "DEPLOYED_STAGING", "SMOKE_PASSED", "DEPLOYED_PRODUCTION", "VERIFIED", "ISSUE_DONE",
)

_PROVIDERS = (
    {"name": "anthropic", "status": "ready", "details": None, "active": True},
    {"name": "openai", "status": "ready", "details": None, "active": False},
)
_INTEGRATIONS = (
    {"name": "github", "status": "connected", "details": None},
    {"name": "memory", "status": "connected", "details": "mcp, 1,204 entries"},
)


def issue_ref(index: int) -> tuple[str, int]:
    """Issue ``index`` (0..ISSUE_COUNT-1) as (repo, issue number)."""
    return REPOS[index % len(REPOS)], 100 + index


def agent_id(index: int) -> str:
    return f"dev-e-{index + 1}"


def _dumps(body: dict) -> str:
    return json.dumps(body, separators=(",", ":"))


def seed_bodies() -> list[str]:
    """ISSUE_APPROVED for every issue: sent once, untimed, before any measured traffic."""
    bodies = []
    priorities = ("normal", "normal", "high", "low", "critical")
    for i in range(ISSUE_COUNT):
        repo, number = issue_ref(i)
        bodies.append(_dumps({
            "type": "ISSUE_APPROVED", "repo": repo, "issueNumber": number,
            "title": f"feat: issue {number} of {repo}, approved for the benchmark",
            "priority": priorities[i % len(priorities)],
        }))
    return bodies


@dataclass
class _Issue:
    step: int = 0  # index into _FLOW of the next lifecycle event
    pr: int | None = None


class Workload:
    """A deterministic generator of request bodies (same seed, same bodies)."""

    def __init__(self, seed: int = 417) -> None:
        self._rng = random.Random(seed)
        self._issues = [_Issue() for _ in range(ISSUE_COUNT)]
        self._agent_issue = [self._rng.randrange(ISSUE_COUNT) for _ in range(AGENT_COUNT)]
        self._turns = [0] * AGENT_COUNT
        self._next_pr = 1

    def bodies(self) -> Iterator[str]:
        rng = self._rng
        while True:
            roll = rng.random()
            if roll < 0.80:
                yield self._tool_used()
            elif roll < 0.90:
                yield self._heartbeat()
            else:
                yield self._lifecycle()

    def _agent(self) -> int:
        a = self._rng.randrange(AGENT_COUNT)
        if self._rng.random() < 1 / 150:  # the agent finished its issue and took another
            self._agent_issue[a] = self._rng.randrange(ISSUE_COUNT)
            self._turns[a] = 0
        return a

    def _tool_used(self) -> str:
        rng = self._rng
        a = self._agent()
        repo, number = issue_ref(self._agent_issue[a])
        name, is_mcp, previews = rng.choices(_TOOLS, weights=_TOOL_WEIGHTS)[0]
        self._turns[a] += 1
        return _dumps({
            "type": "TOOL_USED", "agentId": agent_id(a), "repo": repo, "issueNumber": number,
            "toolName": name, "turn": self._turns[a], "targetPreview": rng.choice(previews),
            "durationMs": int(rng.lognormvariate(6, 1.2)), "isMcp": is_mcp,
        })

    def _heartbeat(self) -> str:
        a = self._agent()
        repo, number = issue_ref(self._agent_issue[a])
        return _dumps({
            "type": "HEARTBEAT", "agentId": agent_id(a), "status": "working",
            "currentIssue": number, "currentRepo": repo, "activeProvider": "anthropic",
            "availableProviders": ["anthropic", "openai"], "providers": list(_PROVIDERS),
            "integrations": list(_INTEGRATIONS),
        })

    def _lifecycle(self) -> str:
        rng = self._rng
        i = rng.randrange(ISSUE_COUNT)
        issue = self._issues[i]
        repo, number = issue_ref(i)
        base = {"repo": repo, "issueNumber": number}
        if issue.step >= len(_FLOW):  # done: approved again, and round it goes
            issue.step, issue.pr = 0, None
            return _dumps({"type": "ISSUE_APPROVED", **base, "title": f"feat: issue {number}, again",
                           "priority": "normal"})
        kind = _FLOW[issue.step]
        agent = agent_id(i % AGENT_COUNT)
        if kind == "CI_PASSED" and rng.random() < 0.25:
            # a failed run first; the step is not advanced, so CI_PASSED follows later
            return _dumps({"type": "CI_FAILED", **base, "prNumber": issue.pr,
                           "failedChecks": ["test (3.11)", "lint"]})
        issue.step += 1
        if kind == "WORK_STARTED":
            body = {"agentId": agent, "branch": f"feat/{number}-batch-appends"}
        elif kind == "BRANCH_CREATED":
            body = {"agentId": agent, "branch": f"feat/{number}-batch-appends"}
        elif kind == "PR_CREATED":
            issue.pr = self._next_pr
            self._next_pr += 1
            body = {"agentId": agent, "prNumber": issue.pr, "branch": f"feat/{number}-batch-appends",
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


def write_bodies(path: Path, count: int, seed: int = 417) -> dict[str, float]:
    """Write ``count`` bodies, one per line; returns the mix actually written (share per type)."""
    counts: dict[str, int] = {}
    size = 0
    gen = Workload(seed).bodies()
    with path.open("w", encoding="utf-8") as out:
        for _ in range(count):
            body = next(gen)
            kind = body[9:body.index('"', 9)]  # bodies start with {"type":"
            counts[kind] = counts.get(kind, 0) + 1
            size += len(body)
            out.write(body)
            out.write("\n")
    mix = {k: round(v / count, 4) for k, v in sorted(counts.items(), key=lambda kv: -kv[1])}
    mix["_mean_body_bytes"] = round(size / count, 1)
    return mix


def write_lines(path: Path, bodies: list[str]) -> None:
    path.write_text("".join(b + "\n" for b in bodies), encoding="utf-8")
