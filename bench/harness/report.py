"""Reports: a table on the console, and the same as JSON and Markdown in bench/results/.

The Markdown file is meant to be pasted into BENCHMARKS.md as it is: a header with the machine,
the server settings and the method, the table of medians, the verdict, every repetition, and the
profile when one was taken.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class ScenarioReport:
    scenario: str
    title: str
    headers: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)
    verdict: dict[str, Any] = field(default_factory=dict)
    extra_tables: list[tuple[str, list[str], list[list[str]]]] = field(default_factory=list)
    detail_headers: list[str] = field(default_factory=list)
    detail_rows: list[list[str]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    profile: dict[str, Any] | None = None
    profile_markdown: str = ""
    appendix_markdown: str = ""  # written last (e.g. query plans)
    elapsed_s: float = 0.0
    # How the cells were measured, for the Markdown header (default: the append scenario's timed cells)
    method: str = ""
    uses_loadgen: bool = True

    def console(self) -> str:
        lines = [f"== {self.title} (medians) =="]
        lines += text_table(self.headers, self.rows)
        if self.verdict:
            lines.append("")
            lines.append(f"target: {self.verdict.get('target', '')}")
            lines.append(f"result: {self.verdict.get('text', '')}")
        for title, headers, rows in self.extra_tables:
            lines += ["", f"-- {title} --", *text_table(headers, rows)]
        for note in self.notes:
            lines.append(f"note: {note}")
        return "\n".join(lines)

    def markdown(self, env: dict[str, Any]) -> str:
        pg = env.get("postgres_settings", {})
        out = [f"## {self.title}", ""]
        out.append(
            f"{env.get('date')} · commit `{env.get('commit')}`{' (dirty tree)' if env.get('worktree_dirty') else ''} "
            f"(service sources `{env.get('source_fingerprint')}`) · "
            f"{env.get('host_cpus')} CPUs ({env.get('cpu_model')}) · load average at start "
            f"{', '.join(str(x) for x in env.get('load_average_at_start', []))} · Python {env.get('python')}")
        out.append("")
        out.append(
            f"PostgreSQL {pg.get('server_version', '?')} ({env.get('postgres')}): fsync={pg.get('fsync')}, "
            f"synchronous_commit={pg.get('synchronous_commit')}, wal_sync_method={pg.get('wal_sync_method')}, "
            f"shared_buffers={pg.get('shared_buffers')}."
            + (f" Load generator: {env.get('loadgen')}." if self.uses_loadgen else ""))
        out.append("")
        out.append(self.method or (
            f"Each cell: {env.get('warmup_s'):g} s warm-up, then {env.get('duration_s'):g} s measured; "
            f"{env.get('repetitions')} repetitions, interleaved; medians below."
            + (" Diagnostic run: the service's database was ANALYZEd after seeding (--analyze-after-seed)."
               if env.get("analyze_after_seed") else "")))
        out.append("")
        out += md_table(self.headers, self.rows)
        if self.verdict:
            out += ["", f"**Target:** {self.verdict.get('target', '')}  ",
                    f"**Result:** {self.verdict.get('text', '')}"]
        for title, headers, rows in self.extra_tables:
            out += ["", f"{title}:", ""]
            out += md_table(headers, rows)
        if self.notes:
            out.append("")
            out += [f"- {n}" for n in self.notes]
        if self.detail_rows:
            out += ["", "<details><summary>Every repetition</summary>", ""]
            out += md_table(self.detail_headers, self.detail_rows)
            out += ["", "</details>"]
        if self.profile_markdown:
            out += ["", self.profile_markdown]
        if self.appendix_markdown:
            out += ["", self.appendix_markdown]
        return "\n".join(out) + "\n"


def text_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    fmt = lambda r: "  ".join(str(v).rjust(w) for v, w in zip(r, widths, strict=False))  # noqa: E731
    return [fmt(headers), "  ".join("-" * w for w in widths), *(fmt(r) for r in rows)]


def md_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(headers) + " |", "|" + "|".join("---:" for _ in headers) + "|",
            *("| " + " | ".join(str(v) for v in r) + " |" for r in rows)]


def write_results(directory: Path, stamp: str, scenario: str, env: dict[str, Any], report: ScenarioReport,
                  runs: dict[str, list[dict[str, Any]]], medians: dict[str, dict[str, Any]]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    base = directory / f"{stamp}-{scenario}"
    doc = {
        "scenario": scenario,
        "title": report.title,
        "environment": env,
        "elapsed_s": round(report.elapsed_s, 1),
        "verdict": report.verdict,
        "summary": report.summary,
        "medians": medians,
        "runs": runs,
        "notes": report.notes,
        "profile": report.profile,
    }
    json_path = base.with_suffix(".json")
    json_path.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    md_path = base.with_suffix(".md")
    md_path.write_text(report.markdown(env), encoding="utf-8")
    return [json_path, md_path]
