"""A lean closed-loop HTTP/1.1 load client (stdlib only), the fallback when ``wrk`` is missing.

Run as its own process so it never shares an interpreter with the code it measures:

    python httpload.py --port 8080 --clients 16 --duration 10 --bodies bodies.txt

Each client holds one keep-alive connection and sends the next POST as soon as the previous answer
is read (like wrk). Requests are pre-built bytes; an answer is read as its head up to the blank
line plus ``Content-Length`` bytes. Prints one line ``BENCH_RESULT {json}`` in the same shape as
the wrk script's. ``--once`` sends every body exactly once (used to seed) instead of looping for a
duration.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from array import array


def build_requests(host: str, port: int, path: str, bodies: list[bytes]) -> list[bytes]:
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            "Connection: keep-alive\r\n").encode()
    return [head + b"Content-Length: %d\r\n\r\n" % len(b) + b for b in bodies]


def percentile(sorted_values: array | list, p: float) -> float:
    if not sorted_values:
        return 0.0
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, req: bytes) -> int:
    """Send one keep-alive request and read its whole answer; returns the status code."""
    writer.write(req)
    head = await reader.readuntil(b"\r\n\r\n")
    lower = head.lower()
    at = lower.find(b"content-length:")
    length = int(lower[at + 15:lower.index(b"\r\n", at)]) if at >= 0 else 0
    if length:
        await reader.readexactly(length)
    return int(head[9:12])


async def _client(host: str, port: int, requests: list[bytes], start: int, step: int,
                  deadline: float, limit: int | None, lat: array, status: dict[int, int],
                  errors: dict[str, int]) -> None:
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        errors["connect"] += 1
        return
    n = len(requests)
    i = start
    sent = 0
    clock = time.perf_counter
    try:
        while clock() < deadline and (limit is None or sent < limit):
            req = requests[i % n]
            i += step
            sent += 1
            t0 = clock()
            code = await exchange(reader, writer, req)
            lat.append(clock() - t0)
            status[code] = status.get(code, 0) + 1
    except (OSError, asyncio.IncompleteReadError, ValueError):
        errors["read"] += 1
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass


async def run(host: str, port: int, path: str, bodies: list[bytes], clients: int, duration: float,
              offset: int, once: bool) -> dict:
    requests = build_requests(host, port, path, bodies)
    lat: array = array("d")
    status: dict[int, int] = {}
    errors = {"connect": 0, "read": 0}
    t0 = time.perf_counter()
    if once:
        deadline = t0 + 3600
        tasks = [_client(host, port, requests, c, clients, deadline, len(range(c, len(requests), clients)),
                         lat, status, errors)
                 for c in range(clients)]
    else:
        deadline = t0 + duration
        tasks = [_client(host, port, requests, offset + c, clients, deadline, None, lat, status, errors)
                 for c in range(clients)]
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    ordered = array("d", sorted(lat))
    ok = sum(v for k, v in status.items() if 200 <= k < 300)
    return {
        "requests": len(lat),
        "ok": ok,
        "duration_us": int(elapsed * 1e6),
        "status": {str(k): v for k, v in sorted(status.items())},
        "err_connect": errors["connect"],
        "err_read": errors["read"],
        "err_status": len(lat) - ok,
        "err_timeout": 0,
        "p50_us": percentile(ordered, 50) * 1e6,
        "p90_us": percentile(ordered, 90) * 1e6,
        "p99_us": percentile(ordered, 99) * 1e6,
        "p999_us": percentile(ordered, 99.9) * 1e6,
        "max_us": (ordered[-1] if ordered else 0.0) * 1e6,
        "mean_us": (sum(ordered) / len(ordered) if ordered else 0.0) * 1e6,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/api/events")
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--bodies", required=True, help="file with one request body per line")
    parser.add_argument("--offset", type=int, default=0, help="start at this line")
    parser.add_argument("--once", action="store_true", help="send every body once, then stop")
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("this load client only targets the loopback interface")
    with open(args.bodies, "rb") as f:
        bodies = [line.rstrip(b"\n") for line in f if line.strip()]
    result = asyncio.run(run(args.host, args.port, args.path, bodies, args.clients, args.duration,
                             args.offset, args.once))
    sys.stdout.write("BENCH_RESULT " + json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
