#!/usr/bin/env python3
"""Fire lag of many interval schedules fired by several ttp processes together.

  TTP_BIN=target/debug/ttp TTP_REDIS_URL=redis://127.0.0.1:6390 \\
    scripts/schedule-lag.py SCHEDULES PROCESSES SECONDS

Starts PROCESSES `ttp serve` processes (ports 8720…) against an empty Redis, creates
SCHEDULES schedules of `every_ms: 1000` into queue `sched` (which no worker serves),
waits 3 s, then reads `ttp_schedule_lag_seconds` and `ttp_schedule_ticks_total` from every
process before and after SECONDS and prints the merged p50/p99 bucket bounds (tick → task
stored, by Redis' clock) and the ticks by outcome. Stops the processes with SIGTERM.
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

BASE_PORT = 8720


def start(count: int) -> list[subprocess.Popen]:
    binary = os.environ.get("TTP_BIN", "target/debug/ttp")
    processes = []
    for i in range(count):
        env = {k: v for k, v in os.environ.items() if k != "TTP_BIN"}
        env.update(TTP_LISTEN=f"127.0.0.1:{BASE_PORT + i}", TTP_LOG="warn")
        processes.append(subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL))
    time.sleep(2)
    return processes


def put(port: int, name: str) -> None:
    body = json.dumps({"every_ms": 1000, "overlap": "allow",
                       "task": {"kind": "noop", "queue": "sched"}}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/schedules/{name}", data=body,
                                     method="PUT", headers={"content-type": "application/json"})
    urllib.request.urlopen(request, timeout=10).read()


def scrape(count: int) -> dict[str, float]:
    """Lag buckets (by `le`) and tick counters (by labels), summed over the processes."""
    merged: dict[str, float] = {}
    for i in range(count):
        url = f"http://127.0.0.1:{BASE_PORT + i}/metrics"
        for line in urllib.request.urlopen(url, timeout=10).read().decode().splitlines():
            if line.startswith("ttp_schedule_lag_seconds_bucket"):
                key = line.split('le="')[1].split('"')[0]
            elif line.startswith("ttp_schedule_ticks_total"):
                key = "ticks " + line.split("{")[1].split("}")[0]
            else:
                continue
            merged[key] = merged.get(key, 0.0) + float(line.rsplit(" ", 1)[1])
    return merged


def quantile(buckets: list[tuple[float, float]], q: float) -> float:
    total = buckets[-1][1]
    return next(le for le, count in buckets if count >= q * total)


def main() -> None:
    schedules, count, seconds = (int(a) for a in sys.argv[1:4])
    processes = start(count)
    try:
        started = time.time()
        for i in range(schedules):
            put(BASE_PORT + i % count, f"lag-{i}")
        print(f"created {schedules} schedules in {time.time() - started:.1f} s", flush=True)
        time.sleep(3)
        before = scrape(count)
        time.sleep(seconds)
        after = scrape(count)
        diff = {k: v - before.get(k, 0.0) for k, v in after.items()}
        buckets = sorted((float("inf") if k == "+Inf" else float(k), v)
                         for k, v in diff.items() if not k.startswith("ticks "))
        print(f"{buckets[-1][1]:.0f} ticks in {seconds} s; lag p50 <= {quantile(buckets, 0.5) * 1000:.1f} ms,"
              f" p99 <= {quantile(buckets, 0.99) * 1000:.1f} ms")
        print({k: v for k, v in diff.items() if k.startswith("ticks ")})
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=60)


if __name__ == "__main__":
    main()
