#!/usr/bin/env python3
"""A webhook receiver for the push-delivery tests (tests/it/push.rs).

Usage: push-receiver.py SECRET ANSWERS_JSON [CERT_PEM KEY_PEM]

It listens on 127.0.0.1 at a free port, prints the port on the first line of stdout,
then one JSON line per request it receives: method, path, headers, body, the time it
arrived (Unix seconds, float) and whether its Standard Webhooks signature verifies with
SECRET, checked by the reference implementation (`standardwebhooks` from PyPI).

ANSWERS_JSON maps a path to the answers it gives, in order; the last one repeats. An
answer is {"status": n, "headers": {...}, "json": any, "text": s}; "{port}" in a header
value becomes the receiver's port. A path not in the map answers 404. With CERT_PEM and
KEY_PEM it serves HTTPS.
"""

import json
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

SECRET, ANSWERS = sys.argv[1], json.loads(sys.argv[2])
counts = {}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def handle_any(self):
        arrived = time.time()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            Webhook(SECRET).verify(body, headers, json_parse=False)
            verified, error = True, None
        except Exception as e:  # noqa: BLE001 - any failure is recorded, not raised
            verified, error = False, f"{type(e).__name__}: {e}"
        path = self.path.split("?")[0]
        with lock:
            n = counts.get(path, 0)
            counts[path] = n + 1
            record = {"method": self.command, "path": self.path, "headers": headers,
                      "body": body.decode("utf-8", "replace"), "arrived": arrived,
                      "verified": verified, "error": error}
            print(json.dumps(record), flush=True)
        answers = ANSWERS.get(path) or [{"status": 404, "text": "no such hook"}]
        self.answer(answers[min(n, len(answers) - 1)])

    def answer(self, answer):
        if "json" in answer:
            payload, content_type = json.dumps(answer["json"]).encode(), "application/json"
        else:
            payload, content_type = answer.get("text", "").encode(), "text/plain; charset=utf-8"
        self.send_response(answer["status"])
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        port = str(self.server.server_address[1])
        for name, value in answer.get("headers", {}).items():
            self.send_header(name, value.replace("{port}", port))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
if len(sys.argv) > 4:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[3], sys.argv[4])
    server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
