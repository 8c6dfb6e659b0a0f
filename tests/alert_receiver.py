"""A real webhook receiver on loopback for the alert tests (http.server in a thread)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Receiver:
    """What the receiver got; ``fail_next`` statuses are answered first, then 200."""

    port: int = 0
    fail_next: list[int] = field(default_factory=list)
    posts: list[tuple[int, dict[str, object]]] = field(default_factory=list)
    """Every POST: the status answered and the JSON body."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    open: threading.Event = field(default_factory=threading.Event)
    """Cleared: every POST waits (a dead webhook) until it is set again."""
    arrived: threading.Event = field(default_factory=threading.Event)
    """Set when a POST arrived (before it is answered)."""

    def __post_init__(self) -> None:
        self.open.set()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"

    @property
    def accepted(self) -> list[dict[str, object]]:
        """Bodies answered with 200 (the messages delivered)."""
        with self.lock:
            return [body for status, body in self.posts if status == 200]

    def titles(self) -> list[str]:
        return [str(body.get("title", "")) for body in self.accepted]


@contextmanager
def receiver() -> Iterator[Receiver]:
    got = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            size = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(size) or b"{}")
            got.arrived.set()
            got.open.wait(30)
            with got.lock:
                status = got.fail_next.pop(0) if got.fail_next else 200
                got.posts.append((status, body))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    got.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield got
    finally:
        got.open.set()  # let a held POST go
        server.shutdown()
        server.server_close()
        thread.join(5)
