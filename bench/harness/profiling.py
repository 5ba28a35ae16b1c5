"""Sampling the service with py-spy while it is under load, and summarising where its CPU goes.

``record`` attaches ``py-spy record`` to the service's pid and writes collapsed stacks (one
``frame;frame;... count`` line per stack; open them in speedscope or flamegraph.pl).
``summarize`` reads them back: the share of samples by leaf function (self time), by function
anywhere on the stack (inclusive time), by library of the leaf frame, and for a list of the
service's own functions. py-spy samples only threads that are running, so shares are of the
service's busy CPU time. With asyncio's own loop a share of samples lands in epoll_wait (reported
apart); with uvloop (the service's loop where available) the loop's C code, its socket calls
included, shows as the self time of ``Runner.run``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

log = logging.getLogger("bench")

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")

# Where a leaf frame's file lives -> the library it is counted under.
_LIBRARIES = (
    ("aiohttp", "aiohttp"), ("multidict", "aiohttp"), ("yarl", "aiohttp"),
    ("asyncpg", "asyncpg"), ("pydantic", "pydantic"), ("/json/", "json (stdlib)"),
    ("asyncio", "asyncio event loop"), ("selectors", "asyncio event loop"),
    ("eventstore/", "eventstore (ours)"), ("bot/", "bot (ours)"),
    ("uuid", "uuid (stdlib)"), ("dataclasses", "dataclasses (stdlib)"), ("enum", "enum (stdlib)"),
    ("logging", "logging (stdlib)"), ("re/", "re (stdlib)"), ("/re.py", "re (stdlib)"),
)

# The service's own steps, reported inclusively (their callees counted in): (file part, qualified
# function name or "*" for any function of that file, label).
KEY_FUNCTIONS = (
    ("aiohttp/web_protocol.py", "*", "aiohttp request handling (parse request, run handler, write answer)"),
    ("aiohttp/web_protocol.py", "RequestHandler.data_received", "  HTTP parsing (RequestHandler.data_received)"),
    ("bot/http/events_routes.py", "post_event", "  POST /api/events handler (whole, excl. the wait for commit)"),
    ("eventstore/submission.py", "parse_submission", "    parse_submission (body -> PendingEvent)"),
    ("pydantic/main.py", "BaseModel.model_validate", "      model_validate (pydantic validation), anywhere"),
    ("eventstore/submission.py", "_ensure_storable", "      _ensure_storable (stored body encoded; NUL/surrogate check)"),
    ("bot/http/errors.py", "json_response", "    json_response (answer JSON)"),
    ("aiohttp/web_response.py", "*", "  aiohttp response building/writing (web_response.py)"),
    ("eventstore/postgres/store.py", "PostgresEventStore._run_writer", "event-store writer task (whole)"),
    ("eventstore/postgres/store.py", "PostgresEventStore._append_batch", "  _append_batch (one batch)"),
    ("eventstore/postgres/unit_of_work.py", "PostgresUnitOfWork.load", "    PostgresUnitOfWork.load (reads, when the cache cannot serve)"),
    ("eventstore/postgres/documents.py", "load_doc", "      load_doc (JSON -> pydantic document)"),
    ("eventstore/postgres/store.py", "PostgresEventStore._stage", "    _stage (checks, staging, projections)"),
    ("eventstore/projections/projector.py", "RigProjector.apply", "      RigProjector.apply (projections)"),
    ("eventstore/postgres/unit_of_work.py", "PostgresUnitOfWork.flush", "    PostgresUnitOfWork.flush (one ce_append_batch call)"),
    ("asyncpg/", "*", "asyncpg, anywhere (Python side of the driver)"),
    ("eventstore/events.py", "Event.stored_data", "Event.stored_data (model_dump by PascalCase alias), anywhere"),
    ("eventstore/store.py", "RecordedEvent.event", "RecordedEvent.event / load_stored, anywhere"),
)


def ensure_py_spy(install: bool = True) -> str | None:
    candidate = Path(sys.executable).parent / "py-spy"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("py-spy")
    if found or not install:
        return found
    log.info("installing py-spy into %s", sys.prefix)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "py-spy"], check=False)
    return str(candidate) if candidate.exists() else shutil.which("py-spy")


async def record(py_spy: str, pid: int, duration: float, out: Path, rate: int = 200,
                 nonblocking: bool = False) -> asyncio.subprocess.Process:
    """Start recording (returns at once; await ``.communicate()`` on the result).

    Blocking mode (py-spy's default) pauses the process for each sample, a few microseconds, and
    gives whole stacks; ``nonblocking`` does not pause it but yields torn stacks now and then.
    """
    cmd = [py_spy, "record", "--pid", str(pid), "--duration", str(max(1, int(round(duration)))),
           "--rate", str(rate), "--format", "raw", "--function", "--output", str(out)]
    if nonblocking:
        cmd.append("--nonblocking")
    return await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)


def _parse_frame(frame: str) -> tuple[str, str]:
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip(), ""
    return m.group("func"), m.group("file")


_REPO_ROOT = str(Path(__file__).resolve().parents[2]) + "/"


def _short(file: str) -> str:
    for marker in ("site-packages/", "/lib/python3", _REPO_ROOT):
        at = file.find(marker)
        if at >= 0:
            tail = file[at + len(marker):]
            if marker == "/lib/python3":
                tail = "stdlib/" + tail.split("/", 1)[-1]
            return tail
    return file


def _library(file: str) -> str:
    for needle, name in _LIBRARIES:
        if needle in file:
            return name
    return "other (C code called from Python is counted in its caller)" if not file else "other"


def summarize(collapsed: Path, top: int = 25) -> dict[str, Any]:
    stacks: list[tuple[list[tuple[str, str]], int]] = []
    for line in collapsed.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        stack, _, count = line.rpartition(" ")
        try:
            n = int(count)
        except ValueError:
            continue
        frames = [_parse_frame(f) for f in stack.split(";")]
        frames = [f for f in frames if f[1] or not f[0].startswith(("process ", "thread "))]
        stacks.append((frames, n))
    total = sum(n for _, n in stacks) or 1

    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    libraries: Counter[str] = Counter()
    key: Counter[str] = Counter()
    for frames, n in stacks:
        if not frames:
            continue
        func, file = frames[-1]
        self_time[f"{func} ({_short(file)})"] += n
        libraries[_library(file)] += n
        seen: set[str] = set()
        for f, fl in frames:
            name = f"{f} ({_short(fl)})"
            if name not in seen:
                seen.add(name)
                inclusive[name] += n
        for file_part, func_name, label in KEY_FUNCTIONS:
            if any(file_part in fl and (func_name == "*" or f == func_name) for f, fl in frames):
                key[label] += n

    def pct(counter: Counter[str], limit: int | None = top) -> list[dict[str, Any]]:
        return [{"name": k, "samples": v, "pct": round(100 * v / total, 1)} for k, v in counter.most_common(limit)]

    poll = sum(n for frames, n in stacks if frames and frames[-1][0] == "EpollSelector.select")
    return {
        "samples": total,
        "poll_pct": round(100 * poll / total, 1),
        "self": pct(self_time),
        "inclusive": pct(inclusive, top + 15),
        "by_library_self": pct(libraries, None),
        "key_functions_inclusive": [
            {"name": label, "samples": key[label], "pct": round(100 * key[label] / total, 1)}
            for _, _, label in KEY_FUNCTIONS
        ],
    }


def markdown(summary: dict[str, Any], head: str) -> str:
    lines = [head, "", f"{summary['samples']} samples of the service's busy CPU time; "
             f"{summary.get('poll_pct', 0)} % of them sit in asyncio's epoll_wait (`EpollSelector.select`), "
             "which is mostly the loop waiting for sockets. Under uvloop that wait is not sampled, and the "
             "loop's own C work (socket reads and writes included) is the self time of `Runner.run`.", ""]
    lines += ["Inclusive share of the service's own steps:", "", "| step | % of CPU |", "|---|---|"]
    lines += [f"| {r['name'].replace('  ', '&nbsp;&nbsp;')} | {r['pct']} |" for r in summary["key_functions_inclusive"]]
    lines += ["", "Self time by library of the leaf frame:", "", "| library | % |", "|---|---|"]
    lines += [f"| {r['name']} | {r['pct']} |" for r in summary["by_library_self"]]
    lines += ["", "Top functions by self time:", "", "| function | % |", "|---|---|"]
    lines += [f"| `{r['name']}` | {r['pct']} |" for r in summary["self"]]
    lines += ["", "Top functions by inclusive time:", "", "| function | % |", "|---|---|"]
    lines += [f"| `{r['name']}` | {r['pct']} |" for r in summary["inclusive"]]
    return "\n".join(lines) + "\n"
