"""A tiny scriptable HTTP server for the download tests (test_data, test_cifar10, test_shakespeare).

It listens on 127.0.0.1 with a port the OS picks, so no test leaves this machine. The ``server``
fixture in tests/conftest.py starts one per test, with the proxy variables and
TINYTORCH_OFFLINE removed from the environment.
"""

from __future__ import annotations

import hashlib
import http.server
import threading
import time
from collections import Counter

PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")
JOIN_TIMEOUT = 5.0  # seconds to wait for the serving thread when the test is over
MAX_STREAM_SECONDS = 60.0  # a slow, endless or hanging answer gives up after this long anyway


class Server:
    """Serves ``routes[path]``: a list of behaviours used in turn, one per request (the last one repeats).

    Behaviours: ``("ok", body)``, ``("status", code)``, ``("drop", body)`` — announces
    ``len(body)`` bytes, sends half of them and closes the connection; ``("slow", (body, delay))``
    — announces ``len(body)`` and sends one byte every ``delay`` seconds; ``("endless", chunk)`` —
    no Content-Length, ``chunk`` after ``chunk`` until the client hangs up; ``("hang", None)`` —
    accepts the request and never answers. The last three end when the server stops (or after
    MAX_STREAM_SECONDS), so no test can hang on them. A path without a route is a 404. ``hits`` counts the requests per path; ``requests`` lists the paths in the order
    they were asked for.
    """

    def __init__(self):
        self.routes, self.hits, self.requests = {}, Counter(), []
        self.stopping = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.hits[self.path] += 1
                server.requests.append(self.path)
                plan = server.routes.get(self.path, [("status", 404)])
                kind, value = plan[min(server.hits[self.path], len(plan)) - 1]
                if kind == "status":
                    self.send_error(value)
                    return
                if kind == "hang":
                    server.stopping.wait(MAX_STREAM_SECONDS)
                    self.close_connection = True
                    return
                if kind in ("slow", "endless"):
                    self._stream(kind, value)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(value)))
                self.end_headers()
                self.wfile.write(value if kind == "ok" else value[: len(value) // 2])
                self.wfile.flush()
                self.close_connection = True

            def _stream(self, kind, value):
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                if kind == "slow":
                    self.send_header("Content-Length", str(len(value[0])))
                self.end_headers()
                body, delay = value if kind == "slow" else (None, 0.0)
                sent, started = 0, time.monotonic()
                try:
                    while not server.stopping.is_set() and time.monotonic() - started < MAX_STREAM_SECONDS:
                        if kind == "slow":
                            if sent >= len(body):
                                break
                            self.wfile.write(body[sent : sent + 1])
                            sent += 1
                            self.wfile.flush()
                            server.stopping.wait(delay)
                        else:
                            self.wfile.write(value)
                except OSError:  # the client hung up: what an endless stream waits for
                    pass
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def serve(self, path, body, kind="ok"):
        """Answer every request for ``path`` alike: ``kind`` ("ok" or "drop") with ``body``."""
        self.routes[path] = [(kind, body)]

    def url(self, path):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def start(self):
        self.thread.start()

    def stop(self):
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(JOIN_TIMEOUT)


def sha(body: bytes) -> str:
    """The SHA-256 of ``body`` as 64 lowercase hex digits."""
    return hashlib.sha256(body).hexdigest()
