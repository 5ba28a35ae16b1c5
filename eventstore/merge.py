"""The merge use case: a pull request merged at an agent's request, guarded by the human gate.

A review agent asks the conductor to merge a PR it approved (``POST /api/merge``). The PR belongs
to the issues that recorded it (PR_CREATED). While the human gate of one of them is open or was
rejected, its last CI result is a failure, or a human has closed it or must decide on its
escalation, the merge is refused and nothing is called: the gate exists so that no agent merges a
sensitive change on its own. Otherwise the ``Merger`` (GitHub's REST API, at the edge) merges it
and MERGED is appended to each issue with the sha it returns and who asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import AliasGenerator, BaseModel, ConfigDict, ValidationError

from . import events as ev
from .agents import agent_of
from .authorization import Caller, NotPermitted, Role
from .ids import derived_event_id
from .naming import accepted_names
from .projections.issue_status import IssueState, IssueStatus
from .read_models import ReadModels
from .store import AppendResult, EventStore, PendingEvent, StoreError
from .submission import InvalidSubmission, Problem


class MergeRequest(BaseModel):
    """The body of ``POST /api/merge``, in any casing; ``agentId`` (optional) says who asks."""

    model_config = ConfigDict(frozen=True, extra="ignore",
                              alias_generator=AliasGenerator(validation_alias=accepted_names))

    repo: ev.Repo
    pr_number: ev.IssueNumber
    agent_id: ev.AgentId | None = None


def parse_merge_request(body: Any) -> MergeRequest:
    """``body`` as a MergeRequest; InvalidSubmission naming each field that is wrong."""
    if type(body) is not dict:
        raise InvalidSubmission("invalid_body", "the body must be a JSON object: {\"repo\": \"owner/name\", "
                                "\"prNumber\": 7}")
    try:
        return MergeRequest.model_validate(body)
    except ValidationError as exc:
        problems = [Problem(".".join(str(p) for p in err["loc"]) or None,
                            "required" if err["type"] == "missing" else err["msg"])
                    for err in exc.errors(include_url=False, include_input=False)]
        summary = "; ".join(f"{p.field}: {p.message}" for p in problems)
        raise InvalidSubmission("invalid_fields", f"invalid merge request: {summary}", problems) from None


def requester(caller: Caller, agent_id: str | None) -> str:
    """Who asks for the merge, as MERGED records it: the agent the body names (an agent's token may
    name only itself or one of its pods), else the credential's name, else ``anonymous`` (the open
    mode, where nothing vouches for a name either way)."""
    if caller.role is Role.AGENT and agent_id is not None and agent_of(agent_id) != caller.name:
        raise NotPermitted("wrong_agent", f"this token speaks for the agent {caller.name!r} and its pods, "
                           f"not for {agent_id!r}", needs_credential=False)
    if caller.role is Role.OPERATOR:
        return caller.name
    return agent_id or caller.name or "anonymous"


class UnknownPullRequest(Exception):
    """No issue recorded that pull request."""


class MergeBlocked(Exception):
    """The rig's rules forbid the merge now; ``code`` says which (``gate_open``, ``gate_rejected``,
    ``ci_failed``, ``issue_closed``, ``issue_escalated``)."""

    def __init__(self, code: str, message: str, stream_id: str) -> None:
        super().__init__(message)
        self.code, self.message, self.stream_id = code, message, stream_id


class MergeRefused(Exception):
    """The forge refused the merge itself (not mergeable, a conflict, a failed requirement);
    ``message`` is its own words."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class MergerFailed(Exception):
    """The forge answered something other than a merge or a refusal (a bad credential, an error)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class MergerUnavailable(Exception):
    """The forge could not be reached, or did not answer in time: nothing is known to be merged."""


class MergeNotRecorded(Exception):
    """The PR was merged, but MERGED could not be stored (the database failed); ``sha`` says what."""

    def __init__(self, sha: str, cause: StoreError) -> None:
        super().__init__(f"merged as {sha}, but not recorded: {cause}")
        self.sha = sha


class Merger(Protocol):
    async def merge(self, repo: str, pr_number: int) -> str:
        """Merge the pull request; returns the merge commit's sha. Raises MergeRefused,
        MergerFailed or MergerUnavailable."""
        ...


@dataclass(frozen=True)
class MergeOutcome:
    sha: str
    appended: list[AppendResult]  # MERGED, one per issue holding the PR


def merge_refusal(issue: IssueStatus) -> MergeBlocked | None:
    """Why ``issue``'s PR may not be merged now, or None."""
    gate = issue.gate
    pr = f"PR #{issue.pr_number}" if issue.pr_number else "the PR"
    if gate is not None and gate.open:
        return MergeBlocked("gate_open", f"the human gate on {issue.id} is open ({gate.reason}): a human decides "
                            f"before {pr} is merged", issue.id)
    if gate is not None and gate.decision == "rejected":
        by = f" by {gate.decided_by}" if gate.decided_by else ""
        return MergeBlocked("gate_rejected", f"the human gate on {issue.id} was rejected{by}", issue.id)
    if issue.ci_status == "failed":
        checks = f" ({', '.join(issue.failed_checks)})" if issue.failed_checks else ""
        return MergeBlocked("ci_failed", f"the last CI result of {issue.id} is a failure{checks}", issue.id)
    if issue.state is IssueState.CLOSED:
        return MergeBlocked("issue_closed", f"{issue.id} was closed by a human", issue.id)
    if issue.state is IssueState.FAILED:
        return MergeBlocked("issue_escalated", f"{issue.id} is escalated: a human decides", issue.id)
    return None


async def merge_pull_request(store: EventStore, read_models: ReadModels, merger: Merger,
                             request: MergeRequest, requested_by: str) -> MergeOutcome:
    """Merge ``request``'s PR unless a rule forbids it, and record MERGED. Raises
    UnknownPullRequest or MergeBlocked (nothing called), the Merger's errors (nothing stored), or
    MergeNotRecorded. MERGED's id derives from the issue, the PR and the sha, so it is stored once
    even if two requests both see the merge succeed."""
    issues = await read_models.issues_with_pr(request.repo, request.pr_number)
    if not issues:
        raise UnknownPullRequest(f"no issue of {request.repo} has PR #{request.pr_number}")
    for issue in issues:
        refusal = merge_refusal(issue)
        if refusal is not None:
            raise refusal
    sha = await merger.merge(request.repo, request.pr_number)
    appended: list[AppendResult] = []
    try:
        for issue in issues:
            appended.append(await store.append(PendingEvent.of(
                ev.Merged(repo=issue.repo, issue_number=issue.issue_number, pr_number=request.pr_number,
                          merge_sha=sha, requested_by=requested_by),
                event_id=derived_event_id("merge", issue.id, request.pr_number, sha))))
    except StoreError as exc:
        raise MergeNotRecorded(sha, exc) from exc
    return MergeOutcome(sha, appended)
