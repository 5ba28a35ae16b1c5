"""Background HTTP load at a fixed rate (stdlib only), run as its own process until its stdin closes.

    python paced_load.py --port 8080 --rate 200 --connections 4 --bodies bodies.txt

Unlike ``httpload.py`` (closed loop, as fast as possible) this paces: connection c of k sends its
n-th request at ``start + (n * k + c) / rate``, so the k connections together send ``rate``
requests per second, evenly spread. A connection that falls behind (its previous answer came late)
sends at once, without bursting to catch up, so the rate achieved is reported rather than assumed.

Prints ``READY`` once every connection has had its first answer (so the caller starts measuring
under load, not during connection set-up), and ``BENCH_RESULT {json}`` when stdin reaches EOF (the
caller closes it to stop the load). Bodies are read one per line and cycled. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time

from httpload import build_requests, exchange, percentile


async def _connection(host: str, port: int, requests: list[bytes], c: int, k: int, rate: float,
                      start: float, stop: asyncio.Event, first: asyncio.Event, stats: dict) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    clock = time.perf_counter
    n = 0
    try:
        while not stop.is_set():
            due = start + (n * k + c) / rate
            delay = due - clock()
            if delay > 0:
                try:
                    await asyncio.wait_for(stop.wait(), delay)  # pacing; returns early when stopped
                    break
                except TimeoutError:
                    pass
            else:
                stats["behind_max_s"] = max(stats["behind_max_s"], -delay)
            req = requests[(n * k + c) % len(requests)]
            n += 1
            t0 = clock()
            code = await exchange(reader, writer, req)
            stats["lat"].append(clock() - t0)
            stats["ok" if 200 <= code < 300 else "bad"] += 1
            if n == 1:  # this connection's first answer
                stats["first_answers"] += 1
                if stats["first_answers"] >= k:
                    first.set()
    except (OSError, asyncio.IncompleteReadError, ValueError):
        stats["errors"] += 1
    finally:
        writer.close()


async def run(host: str, port: int, bodies: list[bytes], rate: float, connections: int) -> dict:
    requests = build_requests(host, port, "/api/events", bodies)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    first = asyncio.Event()

    def watch_stdin() -> None:
        sys.stdin.buffer.read()  # until EOF: the caller closed our stdin
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch_stdin, daemon=True).start()
    stats = {"lat": [], "ok": 0, "bad": 0, "errors": 0, "behind_max_s": 0.0, "first_answers": 0}
    start = time.perf_counter()
    tasks = [asyncio.create_task(_connection(host, port, requests, c, connections, rate, start, stop, first, stats))
             for c in range(connections)]
    waiter = asyncio.create_task(first.wait())
    await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
    if first.is_set():
        sys.stdout.write("READY\n")
        sys.stdout.flush()
    ready_at = time.perf_counter()
    counted_from = stats["ok"] + stats["bad"]
    await asyncio.gather(*tasks, return_exceptions=True)
    waiter.cancel()
    elapsed = time.perf_counter() - ready_at
    lat = sorted(stats["lat"])
    sent_after_ready = stats["ok"] + stats["bad"] - counted_from
    return {
        "requests": len(lat), "ok": stats["ok"], "non_2xx": stats["bad"], "socket_errors": stats["errors"],
        "target_rate": rate, "connections": connections,
        "achieved_rate": sent_after_ready / elapsed if elapsed > 0 else 0.0,
        "seconds_after_ready": elapsed,
        "behind_max_ms": stats["behind_max_s"] * 1e3,
        "p50_ms": percentile(lat, 50) * 1e3, "p99_ms": percentile(lat, 99) * 1e3,
        "max_ms": (lat[-1] if lat else 0.0) * 1e3,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True, help="requests per second, all connections together")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--bodies", required=True, help="file with one request body per line")
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("this load client only targets the loopback interface")
    if args.rate <= 0 or args.connections < 1:
        parser.error("--rate and --connections must be positive")
    with open(args.bodies, "rb") as f:
        bodies = [line.rstrip(b"\n") for line in f if line.strip()]
    result = asyncio.run(run(args.host, args.port, bodies, args.rate, args.connections))
    sys.stdout.write("BENCH_RESULT " + json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
