"""A real HTTP server on loopback that answers from a script, for provider tests that need the wire itself: urllib3's
retries, pooled keep-alive connections, redirects and broken answers happen for real, as they would against Clumio.

``server.answer("GET", "/connections/aws", json=page)`` queues an answer for that method and path (the query is not
part of the match); answers are given in the order queued and the last one repeats. ``drop=True`` closes the
connection without answering; ``truncate=True`` sends the headers and part of the body, then closes. Every request
is recorded in ``server.calls`` (method, path, parsed query, headers, body). An unscripted request gets a 501.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    drop: bool = False
    truncate: bool = False


@dataclass(frozen=True)
class Seen:
    """One request as the server received it; ``headers`` is case-insensitive (``headers["accept"]``)."""

    method: str
    path: str
    raw_query: str
    headers: Message
    body: bytes

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.raw_query)


@dataclass
class ScriptedServer:
    url: str = ""
    calls: list[Seen] = field(default_factory=list)
    _script: dict[tuple[str, str], list[Answer]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, method: str, path: str, *, status: int = 200, json_body: Any = None, body: str | bytes = b"",
               content_type: str | None = None, headers: dict[str, str] | None = None, drop: bool = False,
               truncate: bool = False) -> None:
        data = json.dumps(json_body).encode() if json_body is not None else (
            body.encode() if isinstance(body, str) else body)
        kind = content_type or ("application/json" if json_body is not None else "text/plain")
        with self._lock:
            self._script.setdefault((method, path), []).append(
                Answer(status, data, (("Content-Type", kind), *(headers or {}).items()), drop, truncate))

    def _next(self, method: str, path: str) -> Answer | None:
        with self._lock:
            queued = self._script.get((method, path))
            if not queued:
                return None
            return queued.pop(0) if len(queued) > 1 else queued[0]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Clumio: the client's pooled connections are reused
    server: _Server

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        script = self.server.script
        script.calls.append(Seen(self.command, parts.path, parts.query, self.headers, body))
        answer = script._next(self.command, parts.path) or Answer(501, b"not scripted")
        if answer.drop:
            self.close_connection = True
            return
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body[:len(answer.body) // 2] if answer.truncate else answer.body)
        self.close_connection = answer.truncate

    do_GET = do_PUT = do_POST = do_DELETE = _serve  # noqa: N815 (http.server's names)

    def log_message(self, *_: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    script: ScriptedServer


@contextmanager
def scripted_server() -> Iterator[ScriptedServer]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.script = ScriptedServer(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.script
    finally:
        server.shutdown()
        server.server_close()
