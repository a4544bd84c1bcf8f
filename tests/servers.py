"""Real local servers for tests: an HTTP site with programmable routes, an SMTP sink, and a TCP
proxy that can be cut and restored (a database outage that disturbs no other test)."""

from __future__ import annotations

import gzip as gzip_mod
import json
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Response:
    """What a route answers. ``body`` may be str (encoded as UTF-8) or bytes."""

    body: bytes | str = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/html; charset=utf-8"
    gzip: bool = False
    delay: float = 0.0


Handler = Callable[["Request"], Response]


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body.decode("utf-8"))


class Site:
    """A threaded HTTP server on ``host`` (127.0.0.1 unless told; 127.0.0.2, 127.0.0.3 … are
    free on Linux) with routes set per test.

    ``site.route("/feed.xml", Response(...))`` or a callable taking a Request;
    ``site.requests`` records every request (method, path with query, headers, body) and
    ``site.connections`` counts accepted TCP connections. Unknown paths answer 404.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Response | Handler] = {}
        self.requests: list[Request] = []
        self.connections = 0
        self._lock = threading.Lock()
        site = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with site._lock:
                    site.requests.append(req)
                    route = site.routes.get(self.path)
                    if route is None:
                        route = site.routes.get(self.path.split("?", 1)[0])
                if route is None:
                    resp = Response("not found", status=404, content_type="text/plain")
                elif callable(route):
                    resp = route(req)
                else:
                    resp = route
                if resp.delay:
                    import time

                    time.sleep(resp.delay)
                data = resp.body.encode("utf-8") if isinstance(resp.body, str) else resp.body
                headers = {"Content-Type": resp.content_type, **resp.headers}
                if resp.gzip:
                    data = gzip_mod.compress(data)
                    headers["Content-Encoding"] = "gzip"
                self.send_response(resp.status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_HEAD = do_PUT = _handle

        class _Server(ThreadingHTTPServer):
            def process_request(self, request, client_address):
                with site._lock:
                    site.connections += 1
                super().process_request(request, client_address)

            def handle_error(self, request, client_address):
                if not isinstance(sys.exc_info()[1], BrokenPipeError | ConnectionResetError):
                    super().handle_error(request, client_address)  # (a client that gave up is expected)

        self.server = _Server((host, 0), _Handler)
        self.server.daemon_threads = True
        self.host = host
        self.port = self.server.server_address[1]
        self.base = f"http://{host}:{self.port}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, response: Response | Handler) -> None:
        with self._lock:
            self.routes[path] = response

    def hits(self, path: str) -> int:
        """How many requests asked for ``path`` (query string included if given)."""
        with self._lock:
            return sum(1 for r in self.requests if r.path == path or r.path.split("?", 1)[0] == path)

    def posts(self, path: str | None = None) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.method == "POST" and (path is None or r.path == path)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    """A loopback TCP port nothing listens on (now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TcpProxy:
    """A TCP proxy on ``host`` to ``target`` (host, port). ``cut()`` drops every connection and
    refuses new ones, as a stopped server does; ``restore()`` listens again on the same port."""

    def __init__(self, target: tuple[str, int], host: str = "127.0.0.1") -> None:
        self.target, self.host, self.port = target, host, 0
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._open = self._open, []
        for sock in ([listener] if listener else []) + sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept() or recv()
            except OSError:
                pass
            sock.close()

    close = cut

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class SmtpSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 keeping every message received."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[dict] = []
        sink = self

        class _Handler:
            async def handle_DATA(self, server, session, envelope):
                sink.messages.append(
                    {
                        "from": envelope.mail_from,
                        "to": list(envelope.rcpt_tos),
                        "data": envelope.content.decode("utf-8", "replace")
                        if isinstance(envelope.content, bytes)
                        else envelope.content,
                    }
                )
                return "250 OK"

        # aiosmtpd's start-up check connects to the given port, so port 0 cannot be used: pick a free one.
        self.port = free_port()
        self.controller = Controller(_Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()
