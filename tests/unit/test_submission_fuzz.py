"""Any JSON body either becomes a storable event or is refused with InvalidSubmission."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventstore.authorization import ANONYMOUS, Caller, NotPermitted, Role
from eventstore.events import KNOWN_TYPES
from eventstore.submission import InvalidSubmission, parse_submission

CALLERS = [ANONYMOUS, Caller(Role.AGENT, "dev-e-1"), Caller(Role.OPERATOR, "carol")]

FIELDS = ["repo", "issueNumber", "IssueNumber", "agentId", "AgentId", "toolName", "title", "priority", "dependsOn",
          "prNumber", "reason", "providers", "integrations", "costUsd", "durationMinutes", "usedInOutput",
          "memoryId", "decidedBy", "milestone", "eventId", "expectedVersion", "targetPreview", "failedChecks"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
                    st.sampled_from(["acme/app", "dev-e-1", "high", "", "a#b", "x/y/z"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                      max_leaves=12)
bodies = st.fixed_dictionaries({"type": st.one_of(st.sampled_from(KNOWN_TYPES), st.text(max_size=10))},
                               optional={name: values for name in FIELDS})


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.one_of(bodies, values), caller=st.sampled_from(CALLERS))
def test_parse_submission_accepts_storable_events_or_refuses_clearly(body: object, caller: Caller) -> None:
    try:
        pending = parse_submission(body, caller=caller)
    except (InvalidSubmission, NotPermitted) as exc:
        assert exc.code and str(exc)
        return
    # What is accepted must be JSON PostgreSQL can store: no NaN/Infinity, no NUL, valid UTF-8.
    text = json.dumps(pending.event.stored_data(), allow_nan=False, ensure_ascii=False)
    text.encode("utf-8")
    assert "\x00" not in text
    assert not pending.stream.id.endswith("#0") and pending.stream.id
