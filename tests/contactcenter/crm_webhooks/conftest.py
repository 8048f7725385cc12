"""Receivers on this machine for the CRM webhook tests: any answer, over TCP or TLS."""

import socketserver
import ssl
import threading

import pytest


@pytest.fixture
def open_to_this_machine(settings):
    """Open a receiver on this machine, over plain http, as an operator may for an
    on-premises CRM: returns a function that allows a port too."""
    settings.OUTBOUND_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.OUTBOUND_WEBHOOK_ALLOW_HTTP = True

    def allow_port(port: int) -> None:
        settings.OUTBOUND_WEBHOOK_ALLOWED_PORTS = [80, 443, port]

    return allow_port


class LocalServer:
    """A TCP server on 127.0.0.1 that answers every request with the same bytes (any bytes:
    a valid HTTP answer or not), over TLS when given a context; keeps each request's head."""

    def __init__(self, answer: bytes, *, ssl_context: ssl.SSLContext | None = None):
        self.requests: list[bytes] = []
        server = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = self.request.recv(65536)
                    if not chunk:
                        return
                    head += chunk
                server.requests.append(head)
                self.request.sendall(answer)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if ssl_context is not None:
            self.server.socket = ssl_context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def header(self, index: int, name: str) -> str:
        for line in self.requests[index].split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == name.lower().encode():
                return value.strip().decode()
        raise KeyError(name)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def local_servers():
    servers: list[LocalServer] = []

    def start(answer: bytes, **kwargs) -> LocalServer:
        servers.append(LocalServer(answer, **kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.close()
