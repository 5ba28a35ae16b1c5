"""Benchmark scenarios, one module each; ``SCENARIOS`` maps the name given on the command line to a
factory. To add one: subclass ``bench.harness.runner.Scenario`` in a new module and list it here."""

from __future__ import annotations

from collections.abc import Callable

from ..harness.runner import Scenario
from .append import AppendScenario
from .claims import ClaimsScenario
from .discord_latency import DiscordLatencyScenario
from .faults import FaultsScenario
from .scale import ScaleScenario

# In the order "all" (the default) runs them: discord_latency first, while the machine is idle (its
# target is stated for an idle machine; append leaves large tables behind for autovacuum).
SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "discord_latency": DiscordLatencyScenario,
    "append": AppendScenario,
    "faults": FaultsScenario,
    "claims": ClaimsScenario,
    "scale": ScaleScenario,  # only when named (harness.runner.ON_REQUEST)
}
