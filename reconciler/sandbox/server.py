"""The sandbox's HTTP front door: one loopback port for AWS, the Clumio API and the sandbox's own control API.

Routing: ``/clumio/...`` goes to the world's Clumio API, ``/_sandbox/...`` to the control API (status, events,
shutdown), a request with ``X-Amz-Target`` to the AWS JSON protocol, and any other request to the AWS service named
by its SigV4 credential scope (S3 by REST path, the rest by the query/ec2 protocols). An unsigned ``GET /bucket/key``
is an anonymous S3 read, so Clumio template URLs served by the sandbox can be fetched by anyone.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from reconciler.sandbox import control, controltower, protocols, s3
from reconciler.sandbox.api import ClumioRequest, SandboxWorld
from reconciler.sandbox.protocols import WireRequest, WireResponse

log = logging.getLogger(__name__)

SANDBOX_ACCESS_KEY = "sandbox"
SANDBOX_SECRET_KEY = "sandbox-secret"
DEFAULT_REGION = "us-east-1"
DEFAULT_CLUMIO_TOKEN = "sandbox-api-token"

_boto_session: Any = None
_client_lock = threading.Lock()


def clumio_api_token(world: SandboxWorld) -> str:
    """The bearer token the world's Clumio API accepts (the world file's ``clumio.api_token``)."""
    for holder in (world, getattr(world, "clumio", None)):
        token = getattr(holder, "api_token", None)
        if isinstance(token, str) and token:
            return token
    return DEFAULT_CLUMIO_TOKEN


class SandboxHTTPServer(ThreadingHTTPServer):
    """A threading server that carries the world it serves."""

    daemon_threads = True
    # Lets a restarted sandbox reuse its port while old sockets sit in TIME_WAIT; a live listener still conflicts.
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], world: SandboxWorld) -> None:
        super().__init__(address, _Handler)
        self.world = world
        self.env: dict[str, str] = {}
        self.on_shutdown: list[Any] = []
        self._connections: set[Any] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Reset every open (keep-alive) connection, as a server process that dies does."""
        import contextlib
        import socket

        with self._connections_lock:
            open_now = list(self._connections)
        for connection in open_now:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)

    def request_shutdown(self) -> None:
        """Stop serving from inside a request (``POST /_sandbox/shutdown``): shutdown() must run on another thread."""
        def _stop() -> None:
            self.shutdown()
            self.server_close()  # release the port at once, so nothing connects to a listener nobody serves
            for callback in self.on_shutdown:
                callback()

        threading.Thread(target=_stop, name="sandbox-shutdown", daemon=True).start()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: boto3 reuses connections, which keeps per-call latency low
    # Headers and body leave in one write (flushed per response), and without Nagle: otherwise the client's
    # delayed ACK stalls every keep-alive response by ~40 ms.
    wbufsize = -1
    disable_nagle_algorithm = True
    server_version = "clumio-org-sandbox"
    server: SandboxHTTPServer

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature fixed by the base class
        log.debug("%s " + format, self.address_string(), *args)

    def handle_expect_100(self) -> bool:
        # With a buffered wfile the "100 Continue" would wait in the buffer, and boto3 (which sends
        # Expect: 100-continue on every S3 PUT) would stall ~1 s before sending the body.
        accepted = super().handle_expect_100()
        self.wfile.flush()
        return bool(accepted)

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        request = WireRequest(
            method=self.command,
            path=parsed.path,
            query=urllib.parse.parse_qs(parsed.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self._read_body(),
        )
        try:
            response = route(self.server, request)
        except Exception:  # a sandbox bug must not hang the client: answer 500 and log it
            log.exception("sandbox failed on %s %s", self.command, self.path)
            response = WireResponse(500, b'{"message": "internal sandbox error"}',
                                    {"Content-Type": "application/json"})
        self.send_response(response.status)
        headers = dict(response.headers)
        headers.setdefault("Content-Length", str(len(response.body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD" and response.body:
            self.wfile.write(response.body)


def route(server: SandboxHTTPServer, request: WireRequest) -> WireResponse:
    """Send one request to the part of the sandbox that answers it."""
    world = server.world
    path = request.path
    if path.startswith("/_sandbox/"):
        return control.handle(server, request)
    # The world's per-call latency delays every AWS and Clumio call alike (never the control API).
    latency = world.call_latency_seconds()
    if latency > 0:
        time.sleep(latency)
    if path == "/clumio" or path.startswith("/clumio/"):
        reply = world.handle_clumio(ClumioRequest(
            method=request.method,
            path=path[len("/clumio"):] or "/",
            query=request.query,
            headers=request.headers,
            body=request.body,
        ))
        return WireResponse(reply.status, reply.body, dict(reply.headers))
    if "x-amz-target" in request.headers:
        return protocols.handle_json(world, request)
    scope = protocols.credential_scope(request)
    if scope is None:
        if request.method in ("GET", "HEAD") and path.strip("/"):
            return s3.handle(world, request, access_key="", region=DEFAULT_REGION)
        return protocols.handle_unsigned_query(world, request)
    if scope.service == "s3":
        return s3.handle(world, request, access_key=scope.access_key, region=scope.region)
    if scope.service == "controltower":  # REST-JSON (docs/reference/guardrails.md §4)
        status, body, headers = controltower.handle_wire(world, path, request.body, access_key=scope.access_key,
                                                         region=scope.region)
        return WireResponse(status, body, headers)
    return protocols.handle_query(world, scope.service, request, access_key=scope.access_key, region=scope.region)


class RunningSandbox:
    """A sandbox serving on a loopback port from a background thread (tests, benchmarks, ``sandbox start``)."""

    def __init__(self, server: SandboxHTTPServer, thread: threading.Thread | None) -> None:
        self._server = server
        self._thread = thread
        self._serving = thread is not None
        self._stopped = False
        self.world = server.world
        self.host, self.port = str(server.server_address[0]), int(server.server_address[1])
        # A sandbox listening on every interface is still reached through loopback.
        reachable = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        self.aws_url = f"http://{reachable}:{self.port}"
        self.clumio_url = f"{self.aws_url}/clumio"
        server.env = self.env()

    def env(self) -> dict[str, str]:
        """The environment that points boto3, the AWS CLI and clumio-org at this sandbox."""
        return {
            "AWS_ENDPOINT_URL": self.aws_url,
            "AWS_ACCESS_KEY_ID": SANDBOX_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SANDBOX_SECRET_KEY,
            "AWS_REGION": DEFAULT_REGION,
            "AWS_DEFAULT_REGION": DEFAULT_REGION,
            "CLUMIO_API_URL": self.clumio_url,
            "CLUMIO_API_TOKEN": clumio_api_token(self.world),
        }

    def client(self, service: str, account: str | None = None, region: str | None = None, **kwargs: Any) -> Any:
        """A boto3 client pointed at the sandbox. ``account=None`` acts as the management account; an account id
        acts as that account. Retries are off unless ``config`` says otherwise, so tests see every fault."""
        import boto3
        from botocore.config import Config

        key = SANDBOX_ACCESS_KEY if account is None else f"AKIASBX{account}"
        config = Config(retries={"total_max_attempts": 1}, s3={"addressing_style": "path"})
        if "config" in kwargs:
            config = config.merge(kwargs.pop("config"))
        global _boto_session
        with _client_lock:  # botocore sessions are not safe to create clients from concurrently
            if _boto_session is None:  # one session for every sandbox: its loaders cache the service models
                _boto_session = boto3.session.Session()
            return _boto_session.client(
                service,
                endpoint_url=self.aws_url,
                region_name=region or DEFAULT_REGION,
                aws_access_key_id=key,
                aws_secret_access_key=SANDBOX_SECRET_KEY,
                config=config,
                **kwargs,
            )

    def serve_forever(self) -> None:
        """Serve on the calling thread until :meth:`stop` or ``POST /_sandbox/shutdown``."""
        self._serving = True
        self._server.serve_forever(poll_interval=0.05)

    def on_shutdown(self, callback: Any) -> None:
        self._server.on_shutdown.append(callback)

    def stop(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        if self._serving:  # shutdown() waits for serve_forever to notice, so only call it when serving
            self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def kill(self) -> None:
        """Go away like a killed server process: stop listening and reset every open connection (reliability
        tests: the endpoint vanishes mid-apply)."""
        self.stop()
        self._server.drop_connections()

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def bind(world: SandboxWorld, host: str = "127.0.0.1", port: int = 0) -> RunningSandbox:
    """Bind the port (OSError if taken) without serving yet; call ``serve_forever`` to serve."""
    protocols.warm_models()
    return RunningSandbox(SandboxHTTPServer((host, port), world), None)


def start_in_thread(world: SandboxWorld, host: str = "127.0.0.1", port: int = 0) -> RunningSandbox:
    """Serve ``world`` on ``host:port`` (0 = any free port) from a daemon thread and return at once."""
    protocols.warm_models()
    server = SandboxHTTPServer((host, port), world)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name=f"sandbox-{server.server_address[1]}", daemon=True)
    thread.start()
    return RunningSandbox(server, thread)
