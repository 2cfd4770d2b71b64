"""A TCP shim that lets the real redshift_connector talk to a vanilla PostgreSQL server.

The driver speaks the PostgreSQL wire protocol with two Redshift habits PostgreSQL rejects:

* its StartupMessage carries Redshift-only parameters (``client_protocol_version``,
  ``driver_version``, ``os_version``, ``plugin_name``, …) and PostgreSQL answers
  ``unrecognized configuration parameter`` — the shim keeps only the parameters PostgreSQL knows;
* it parses ``server_version`` and chokes on Debian's ``15.x (Debian 15.x-…)`` — the shim rewrites
  that ParameterStatus to Redshift's ``8.0.2``.

Everything after the server's first ReadyForQuery is relayed byte for byte. SSL/GSS encryption
requests are declined (the driver is used with ``ssl=False`` locally).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

KEPT_STARTUP_PARAMETERS = frozenset({"user", "database", "application_name", "options"})
REDSHIFT_SERVER_VERSION = b"8.0.2"
_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < n:
        chunk = sock.recv(n - len(chunks))
        if not chunk:
            raise ConnectionError("peer closed")
        chunks += chunk
    return bytes(chunks)


def _read_startup(client: socket.socket) -> bytes:
    """Read the client's StartupMessage (declining encryption requests) and filter it."""
    while True:
        (length,) = struct.unpack("!i", _recv_exact(client, 4))
        body = _recv_exact(client, length - 4)
        (code,) = struct.unpack("!i", body[:4])
        if code in (_SSL_REQUEST, _GSSENC_REQUEST):
            client.sendall(b"N")
            continue
        fields = body[4:].split(b"\0")
        pairs = dict(zip(fields[0::2], fields[1::2], strict=False))
        kept = b"".join(
            k + b"\0" + v + b"\0"
            for k, v in pairs.items()
            if k and k.decode() in KEPT_STARTUP_PARAMETERS
        )
        out = body[:4] + kept + b"\0"
        return struct.pack("!i", len(out) + 4) + out


def _relay(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(1 << 16):
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


def _server_to_client(server: socket.socket, client: socket.socket) -> None:
    """Rewrite ``server_version`` until the first ReadyForQuery, then relay raw bytes."""
    with contextlib.suppress(OSError, ConnectionError):
        while True:
            header = _recv_exact(server, 5)
            kind, length = header[:1], struct.unpack("!i", header[1:])[0]
            body = _recv_exact(server, length - 4)
            if kind == b"S" and body.startswith(b"server_version\0"):
                body = b"server_version\0" + REDSHIFT_SERVER_VERSION + b"\0"
                header = kind + struct.pack("!i", len(body) + 4)
            client.sendall(header + body)
            if kind in (b"Z", b"E"):
                break
        _relay(server, client)
    with contextlib.suppress(OSError):
        client.shutdown(socket.SHUT_WR)


class RedshiftWireShim:
    """Listens on 127.0.0.1 (``port`` 0 picks a free one) and forwards to PostgreSQL."""

    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1", port: int = 0):
        self.upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", port))
        self.port: int = self._listener.getsockname()[1]
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="pg-shim", daemon=True)

    def start(self) -> RedshiftWireShim:
        self._thread.start()
        return self

    def _serve(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        try:
            startup = _read_startup(client)
            server = socket.create_connection(self.upstream)
        except (OSError, ConnectionError, struct.error):
            client.close()
            return
        for s in (client, server):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        server.sendall(startup)
        back = threading.Thread(target=_server_to_client, args=(server, client), daemon=True)
        back.start()
        _relay(client, server)
        back.join()
        client.close()
        server.close()

    def stop(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()

    def __enter__(self) -> RedshiftWireShim:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    """``python -m tether.sandbox.redshift_wire UPSTREAM_PORT``: serve in the foreground, print the port."""
    import sys

    shim = RedshiftWireShim(int(sys.argv[1])).start()
    print(shim.port, flush=True)
    shim._thread.join()


if __name__ == "__main__":
    main()
