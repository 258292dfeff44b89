#!/usr/bin/env python3
"""A ttp worker in Python, standard library only: the lease API end to end.

    python3 examples/worker.py --url http://127.0.0.1:8080 --queue py --declare

It takes tasks of one queue (`POST /queues/{queue}/claim`, long-polling, up to --batch at
a time), runs each with the function registered for its kind below, and ends each
attempt with `complete` or `fail`. A thread renews the leases of every task it holds
every third of the lease (`heartbeat`). On SIGTERM or SIGINT it stops claiming, hands
back every task it has not finished (`release`: the attempt is not counted) and exits 0.

What makes it safe to kill at any moment:
- every claim carries a fresh `claim_id`; when a claim's reply is lost (timeout, reset,
  503) the same claim is sent again and answers the same tasks, so no attempt is lost;
- a task whose lease ended (the worker stalled, or was SIGKILLed) goes back to the
  queue and another worker runs it: the call of the late holder gets 409 and changes
  nothing, so exactly one result stands. Handlers see `attempt` > 1 and should be
  idempotent;
- `fail` with `retryable: false` (a `Permanent` error) goes straight to the dead letters;
  any other exception is retried with backoff while attempts remain.

--declare declares the kinds below with `PUT /kinds/{kind}` (their payload JSON Schema),
so ttp validates submissions of them; it needs the `admin` scope. --api-key (or
TTP_API_KEY) is sent as a Bearer token. It prints one line per finished attempt:
`completed <task id> <attempt>` or `failed <task id> <attempt> <error>`.
"""

import argparse
import hashlib
import json
import os
import signal
import socket
import sys
import threading
import time
import http.client
import urllib.parse
import uuid


class Permanent(Exception):
    """An error no retry can fix: the task goes to the dead letters at once."""


def sha256(payload, task):
    """`py.sha256`: the SHA-256 of a text."""
    text = payload["text"].encode()
    return {"sha256": hashlib.sha256(text).hexdigest(), "bytes": len(text)}


def sleep(payload, task):
    """`py.sleep`: sleeps `ms` milliseconds (for demos and crash tests); `fail` fails."""
    time.sleep(payload.get("ms", 0) / 1000)
    if payload.get("fail") == "permanent":
        raise Permanent("asked to fail permanently")
    if payload.get("fail") == "retryable":
        raise RuntimeError("asked to fail, attempt %d" % task["attempt"])
    return {"slept_ms": payload.get("ms", 0), "attempt": task["attempt"]}


# kind -> (function, description, payload JSON Schema)
KINDS = {
    "py.sha256": (sha256, "SHA-256 of a text, in Python", {
        "type": "object", "required": ["text"], "additionalProperties": False,
        "properties": {"text": {"type": "string", "maxLength": 1048576}},
    }),
    "py.sleep": (sleep, "sleeps ms milliseconds, in Python", {
        "type": "object", "additionalProperties": False,
        "properties": {
            "ms": {"type": "integer", "minimum": 0, "maximum": 600000},
            "fail": {"enum": ["retryable", "permanent"]},
        },
    }),
}


class Api:
    """The few HTTP calls of the lease API (JSON in, JSON out), over one kept-alive
    connection per thread (the claim loop and the heartbeat thread each have theirs)."""

    def __init__(self, url, api_key):
        parts = urllib.parse.urlsplit(url)
        self.https = parts.scheme == "https"
        self.netloc = parts.netloc
        self.prefix = parts.path.rstrip("/")
        self.headers = {"content-type": "application/json"}
        if api_key:
            self.headers["authorization"] = "Bearer " + api_key
        self.local = threading.local()

    def connection(self, timeout):
        conn = getattr(self.local, "conn", None)
        if conn is None:
            kind = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
            conn = self.local.conn = kind(self.netloc, timeout=timeout)
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn

    def call(self, method, path, body=None, timeout=10.0):
        """Returns (status, decoded body); raises OSError when no answer came back."""
        data = None if body is None else json.dumps(body).encode()
        conn = self.connection(timeout)
        try:
            conn.request(method, self.prefix + path, data, self.headers)
            response = conn.getresponse()
            text = response.read()
        except (OSError, http.client.HTTPException) as error:
            conn.close()  # a fresh connection next time (ttp closes idle ones)
            self.local.conn = None
            raise OSError(str(error) or type(error).__name__) from error
        try:
            return response.status, json.loads(text or b"null")
        except ValueError:
            return response.status, {"detail": text.decode(errors="replace")}


class Worker:
    def __init__(self, args):
        self.args = args
        self.api = Api(args.url, args.api_key)
        self.stopping = threading.Event()
        self.held = {}  # task id -> lease token, for the heartbeat thread and release
        self.lock = threading.Lock()
        self.done = 0
        self.in_task = False  # a signal interrupts a running task, never a claim

    def run(self):
        heartbeat = threading.Thread(target=self.heartbeats, daemon=True)
        heartbeat.start()
        try:
            while not self.stopping.is_set() and not self.finished():
                for task in self.claim():
                    if self.stopping.is_set():
                        break
                    self.execute(task)
        finally:
            self.release_all()

    def finished(self):
        return self.args.max_tasks and self.done >= self.args.max_tasks

    def claim(self):
        """One claim, sent again with the same claim_id until an answer arrives."""
        body = {
            "max": self.args.batch, "wait_ms": self.args.wait_ms,
            "lease_ms": self.args.lease_ms, "claim_id": str(uuid.uuid4()),
            "worker_id": self.args.worker_id,
        }
        path = "/queues/%s/claim" % self.args.queue
        for pause in backoff():
            if self.stopping.is_set():
                return []
            try:
                status, answer = self.api.call("POST", path, body, self.args.wait_ms / 1000 + 10)
            except OSError as error:  # the reply was lost: the same claim_id again
                log("claim: %s; sending the same claim again" % error)
            else:
                if status == 200:
                    tasks = answer["tasks"]
                    with self.lock:
                        self.held.update((t["id"], t["lease_token"]) for t in tasks)
                    return tasks
                if status < 500 and status != 429:
                    sys.exit("claim refused: %d %s" % (status, answer.get("detail")))
                log("claim: %d %s; sending the same claim again" % (status, answer.get("detail")))
            self.stopping.wait(pause)
        return []

    def execute(self, task):
        function = KINDS.get(task["kind"], (None,))[0]
        try:
            if function is None:
                raise Permanent("this worker has no function for kind %s" % task["kind"])
            self.in_task = True
            try:
                result = function(task["payload"], task)
            finally:
                self.in_task = False
        except Permanent as error:
            self.end(task, "fail", {"error": str(error), "retryable": False})
        except Exception as error:  # noqa: BLE001 - any other failure is retryable
            self.end(task, "fail", {"error": "%s: %s" % (type(error).__name__, error)})
        else:
            self.end(task, "complete", {"result": result})

    def end(self, task, action, body):
        """complete or fail, sent again on a lost reply while the lease may last."""
        body["lease_token"] = task["lease_token"]
        path = "/tasks/%s/%s" % (task["id"], action)
        deadline = time.monotonic() + self.args.lease_ms / 1000
        status, answer = None, {}
        for pause in backoff():
            try:
                status, answer = self.api.call("POST", path, body)
            except OSError as error:
                answer = {"detail": str(error)}
            else:
                if status < 500:
                    break
            if time.monotonic() + pause > deadline:
                break
            time.sleep(pause)
        with self.lock:
            self.held.pop(task["id"], None)
        self.done += 1
        if status == 200:
            word = "completed" if action == "complete" else "failed"
            extra = "" if action == "complete" else " " + body["error"]
            say("%s %s %d%s" % (word, task["id"], task["attempt"], extra))
        elif status == 413:  # too large a result: the lease is intact, fail it instead
            self.end(task, "fail", {"error": "result over the body limit", "retryable": False})
        else:  # 409: the lease ended (another worker has the task) or it was cancelled
            log("%s %s: %s %s" % (action, task["id"], status, answer.get("detail")))

    def heartbeats(self):
        """Renews every held lease each third of the lease."""
        while not self.stopping.wait(self.args.lease_ms / 3000):
            with self.lock:
                held = list(self.held.items())
            for task_id, token in held:
                try:
                    status, answer = self.api.call(
                        "POST", "/tasks/%s/heartbeat" % task_id, {"lease_token": token})
                except OSError as error:
                    log("heartbeat %s: %s" % (task_id, error))
                    continue
                if status in (404, 409):  # lost: the complete or fail will say so too
                    log("heartbeat %s: %d %s" % (task_id, status, answer.get("detail")))

    def release_all(self):
        """Hands back every task held and not finished; the attempt is not counted."""
        with self.lock:
            held = list(self.held.items())
            self.held.clear()
        for task_id, token in held:
            try:
                status, _ = self.api.call(
                    "POST", "/tasks/%s/release" % task_id, {"lease_token": token})
                log("released %s: %d" % (task_id, status))
            except OSError as error:
                log("release %s: %s (its lease will expire)" % (task_id, error))


def declare(api, queue):
    for kind, (_, description, schema) in KINDS.items():
        body = {"queue": queue, "description": description, "payload_schema": schema}
        status, answer = api.call("PUT", "/kinds/" + kind, body)
        if status not in (200, 201):
            sys.exit("PUT /kinds/%s: %d %s" % (kind, status, answer.get("detail")))


def backoff():
    """Pauses between tries: 0.1 s doubling up to 5 s, forever (callers bound it)."""
    pause = 0.1
    while True:
        yield pause
        pause = min(pause * 2, 5.0)


def say(line):
    print(line, flush=True)


def log(line):
    print("worker.py: " + line, file=sys.stderr, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=os.environ.get("TTP_URL", "http://127.0.0.1:8080"))
    parser.add_argument("--queue", default="py")
    parser.add_argument("--batch", type=int, default=10, help="tasks per claim, 1..100")
    parser.add_argument("--wait-ms", type=int, default=20000, help="long-poll, 0..30000")
    parser.add_argument("--lease-ms", type=int, default=30000,
                        help="lease per claim: a few times the longest expected task")
    parser.add_argument("--worker-id", default="%s-%d" % (socket.gethostname(), os.getpid()))
    parser.add_argument("--api-key", default=os.environ.get("TTP_API_KEY"))
    parser.add_argument("--declare", action="store_true",
                        help="declare this worker's kinds first (admin scope)")
    parser.add_argument("--max-tasks", type=int, default=0, help="exit after this many")
    args = parser.parse_args()

    worker = Worker(args)
    if args.declare:
        declare(worker.api, args.queue)

    def stop(signum, _frame):
        log("signal %d: releasing held tasks and stopping" % signum)
        worker.stopping.set()
        # A running task is interrupted (run() releases it); a claim in flight is let
        # finish (at most --wait-ms), so that the tasks it took are released too.
        if worker.in_task:
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        worker.run()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
