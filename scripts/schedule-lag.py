#!/usr/bin/env python3
"""Fire lag of many interval schedules fired by several ttp processes together.

  TTP_BIN=target/debug/ttp TTP_REDIS_URL=redis://127.0.0.1:6390 \\
    scripts/schedule-lag.py SCHEDULES PROCESSES SECONDS

Starts PROCESSES `ttp serve` processes (ports 8720…) against an empty Redis, creates
SCHEDULES schedules of `every_ms: 1000` into queue `sched` (which no worker serves),
waits 3 s, then reads `ttp_schedule_lag_seconds` and `ttp_schedule_ticks_total` from every
process before and after SECONDS and prints the merged p50/p99 bucket bounds (tick → task
stored, by Redis' clock) and the ticks by outcome. It then reads every task of the window
from Redis (with redis-cli: its tick is the time in its id, its creation time is when the
fire script stored it, both by Redis' clock) and prints the exact p50/p99/max of the same
lag, and the CPU time per fired tick of Redis (INFO cpu) and of the processes together
(/proc) over the window. Stops the processes with SIGTERM.
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
    for i in range(count):
        ready(BASE_PORT + i)
    return processes


def ready(port: int) -> None:
    """Waits (at most 30 s) until the process on `port` answers /readyz with 200."""
    deadline = time.time() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2).read()
            return
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)


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


# Every task of queue `sched` (waiting: no worker serves it) as "<id> <created ms>"; the body
# format is src/queue/body.rs's (`<prio> <max> <timeout> <ttl> <created> <kind> <payload>`).
TASKS_LUA = """
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local body = redis.call('HGET', ARGV[1] .. id, 'b')
  if body then out[#out + 1] = id .. ' ' .. string.match(body, '^%S+ %S+ %S+ %S+ (%S+)') end
end
return out
"""
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def redis_cli(*args: str) -> list[str]:
    url = os.environ["TTP_REDIS_URL"]
    host, port = url.split("://", 1)[1].rsplit(":", 1)
    out = subprocess.run(["redis-cli", "-h", host, "-p", port.split("/")[0], "--raw", *args],
                         check=True, capture_output=True, text=True).stdout
    return out.split()


def redis_ms() -> int:
    seconds, micros = redis_cli("TIME")
    return int(seconds) * 1000 + int(micros) // 1000


def exact_lags(since_ms: int, until_ms: int) -> list[int]:
    """Tick → task stored (ms) of every task whose tick lies in [since_ms, until_ms)."""
    prefix = os.environ.get("TTP_KEY_PREFIX", "ttp")
    fields = redis_cli("EVAL", TASKS_LUA, "1", f"{prefix}:{{sched}}:pending",
                       f"{prefix}:{{sched}}:task:")
    lags = []
    for task_id, created in zip(fields[0::2], fields[1::2]):
        tick = 0
        for char in task_id[:10]:
            tick = tick * 32 + CROCKFORD.index(char)
        if since_ms <= tick < until_ms:
            lags.append(int(created) - tick)
    return sorted(lags)


def redis_cpu_s() -> float:
    """Redis' CPU time so far (user + system, s), from INFO cpu."""
    info = dict(line.split(":", 1) for line in redis_cli("INFO", "cpu") if ":" in line)
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def processes_cpu_s(processes: list[subprocess.Popen]) -> float:
    """CPU time so far (user + system, s) of `processes`, from /proc."""
    total = 0
    for process in processes:
        with open(f"/proc/{process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


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
        before, since = scrape(count), redis_ms()
        cpu_before = redis_cpu_s(), processes_cpu_s(processes)
        time.sleep(seconds)
        cpu_after = redis_cpu_s(), processes_cpu_s(processes)
        after, until = scrape(count), redis_ms()
        diff = {k: v - before.get(k, 0.0) for k, v in after.items()}
        buckets = sorted((float("inf") if k == "+Inf" else float(k), v)
                         for k, v in diff.items() if not k.startswith("ticks "))
        print(f"{buckets[-1][1]:.0f} ticks in {seconds} s; lag p50 <= {quantile(buckets, 0.5) * 1000:.1f} ms,"
              f" p99 <= {quantile(buckets, 0.99) * 1000:.1f} ms")
        print({k: v for k, v in diff.items() if k.startswith("ticks ")})
        fired = max(1.0, sum(v for k, v in diff.items() if k.startswith("ticks ") and "fired" in k))
        redis_us, ttp_us = ((a - b) * 1e6 / fired for a, b in zip(cpu_after, cpu_before))
        print(f"CPU per fired tick: Redis {redis_us:.1f} us, ttp {ttp_us:.1f} us"
              f" ({count} processes together)")
        lags = exact_lags(since, until - 1000)
        if lags:
            pick = lambda q: lags[min(len(lags) - 1, int(q * len(lags)))]
            print(f"exact, {len(lags)} tasks of ticks in the window: lag p50 {pick(0.5)} ms,"
                  f" p99 {pick(0.99)} ms, max {lags[-1]} ms", flush=True)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=60)


if __name__ == "__main__":
    main()
