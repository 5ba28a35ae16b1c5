"""Scenario-independent machinery: PostgreSQL, the service process, load generators, CPU
accounting, statistics, profiling, the runner and the reports."""
