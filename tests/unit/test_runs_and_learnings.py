"""The ExecutionLog and RepoLearnings folds, pure."""

from __future__ import annotations

from eventstore.projections import execution_log, repo_learnings

from .helpers import rec

RUN = "0190b7e0-0000-7000-8000-000000000001"


def test_a_run_from_start_to_completion() -> None:
    started = rec("EXECUTION_STARTED", 0, executionId=RUN, agentId="dev-e-1/abc12", repo="o/r", issueNumber=3,
                  model="m", steps=[{"type": "setup", "status": "ok"}])
    doc = execution_log.evolve(None, started)
    assert doc is not None and (doc.agent, doc.status, doc.completed, doc.cost_usd, doc.turns) == \
        ("dev-e-1", "running", False, 0.0, 0)
    doc = execution_log.evolve(doc, rec("EXECUTION_STEP_RECORDED", 1, executionId=RUN,
                                        step={"type": "llm", "costUsd": 0.25, "turns": 4}))
    doc = execution_log.evolve(doc, rec("EXECUTION_STEP_RECORDED", 2, executionId=RUN,
                                        step={"type": "llm", "costUsd": 0.5, "turns": 6}))
    assert doc is not None and (doc.cost_usd, doc.turns, len(doc.steps)) == (0.75, 10, 3)  # so far: the steps'
    doc = execution_log.evolve(doc, rec("EXECUTION_COMPLETED", 3, executionId=RUN, status="completed",
                                        totalCostUsd=1.5, totalTurns=12, prNumber=0))
    assert doc is not None and (doc.status, doc.cost_usd, doc.turns, doc.pr_number) == ("completed", 1.5, 12, None)
    assert doc.completed and doc.completed_at == doc.updated_at and doc.started_at < doc.completed_at
    assert doc.completion()["total_turns"] == 12


def test_the_document_keeps_the_latest_lines_and_counts_them_all() -> None:
    doc = execution_log.evolve(None, rec("EXECUTION_STARTED", executionId=RUN, agentId="dev-e-1"))
    batch = [{"message": f"m{n}"} for n in range(400)]
    for _ in range(2):
        doc = execution_log.evolve(doc, rec("EXECUTION_LOGS_APPENDED", executionId=RUN, lines=batch))
    assert doc is not None and doc.log_lines == 800 and len(doc.logs) == execution_log.KEPT_LOG_LINES
    assert doc.logs[-1].message == "m399" and doc.logs[0].message == "m300"
    assert execution_log.evolve(None, rec("EXECUTION_STEP_RECORDED", executionId=RUN, step={})) is None


def test_learnings_keep_the_latest_value_per_key_in_key_order() -> None:
    doc = None
    for minutes, key, value, by in ((0, "test-command", "npm test", "dev-e-1"), (1, "build-system", "Node.js", None),
                                    (2, "test-command", "pnpm test", "dev-e-2")):
        doc = repo_learnings.evolve(doc, rec("REPO_LEARNING_RECORDED", minutes, repo="o/r", key=key, value=value,
                                             setBy=by))
    assert doc is not None and doc.id == "o/r"
    assert [(i.key, i.value, i.set_by) for i in doc.learnings] == [("build-system", "Node.js", None),
                                                                   ("test-command", "pnpm test", "dev-e-2")]
    latest = doc.get("test-command")
    assert latest is not None and latest.updated_at == doc.updated_at
