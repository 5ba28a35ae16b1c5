"""Assignments pushed to Valkey (or Redis) for agent runtimes that wait on a stream instead of
polling: ``streams`` writes what the runtime reads, ``publisher`` follows the store and calls it."""
