"""How gunicorn serves the CRM: `gunicorn crm.wsgi -k crm.server.SyncWorker`.

gunicorn's sync worker (since gunicorn 26) ends every connection with a graceful close:
it half-closes, then waits up to 2 s for the client to close its side, so that request
bytes it never read cannot make the kernel answer with a reset that cuts the response
short. A sync worker serves one connection at a time, so that wait holds it for as long
as the client takes to close: on the API benchmark, 7 % of a payment's time in the
worker and 13 % of a player lookup's, and a client that never closes holds it 2 s.

When the whole request was read and nothing more waits on the socket, there is nothing
to reset for. This worker then shuts the connection down both ways as soon as the
response is sent, and gunicorn's close finds nothing to wait for. Any other connection
(a body left unread, such as an upload refused with 413 before parsing; TLS; an error)
keeps gunicorn's graceful close.

A sync worker also waits for as long as a client takes to send its request: a client
that sends its body slowly, or never finishes it, held the worker until gunicorn's
timeout killed it (30 s, an HTML 500), and two such clients stalled the API. This
worker gives the whole request — headers and body — CRM_REQUEST_TIMEOUT seconds (15)
from the connection's accept, reads the body whole before the application runs (in
memory up to 1 MiB, then a temporary file), and answers 408 in the API's JSON shape
when it has not arrived by then. In front of it belongs a buffering proxy (nginx,
whose request buffering is on by default), which receives slow bodies itself and
hands gunicorn whole requests at once (README, "Production install").
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
import time

from gunicorn.http.body import Body, LengthReader
from gunicorn.workers import sync

BUFFER_IN_MEMORY = 1024 * 1024


class RequestTimeout(Exception):
    """The request did not arrive within CRM_REQUEST_TIMEOUT seconds."""


class RequestTooLarge(Exception):
    """A chunked body longer than CRM_REQUEST_BUFFER_BYTES."""


class DeadlineSocket:
    """The client's socket, whose reads share one deadline until `release()`."""

    def __init__(self, sock: socket.socket, seconds: float):
        self._sock = sock
        self._deadline: float | None = time.monotonic() + seconds

    def __getattr__(self, name):
        return getattr(self._sock, name)

    def release(self) -> None:
        self._deadline = None

    def recv(self, size, *flags):
        if self._deadline is None:
            return self._sock.recv(size, *flags)
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise RequestTimeout
        self._sock.settimeout(remaining)
        try:
            return self._sock.recv(size, *flags)
        except TimeoutError:
            raise RequestTimeout from None
        finally:
            self._sock.settimeout(None)


class SyncWorker(sync.SyncWorker):
    def handle(self, listener, client, addr):
        if not self.cfg.is_ssl:
            client = DeadlineSocket(client, float(os.environ.get("CRM_REQUEST_TIMEOUT") or 15))
        super().handle(listener, client, addr)

    def handle_request(self, listener, req, client, addr):
        if isinstance(client, DeadlineSocket):
            try:
                read_whole = body_buffer(req, client)
            except RequestTimeout:
                client.release()
                self.log.info("Request from %s not received within the time allowed: 408", addr)
                answer(client, 408, "Request Timeout", "request_timeout", "The request was not received in time.")
                return
            except RequestTooLarge:
                client.release()
                answer(client, 413, "Content Too Large", "too_large", "The request body is too large.")
                return
            client.release()
        else:
            read_whole = False
        super().handle_request(listener, req, client, addr)
        if read_whole is None:  # left to the application: it may have left the body unread
            read_whole = request_read_whole(req)
        if read_whole and nothing_waiting(client):
            with contextlib.suppress(OSError):  # the client is gone already: gunicorn closes as usual
                client.shutdown(socket.SHUT_RDWR)

    def handle_error(self, req, client, addr, exc):
        if isinstance(exc, RequestTimeout):  # still in the headers
            client.release()
            answer(client, 408, "Request Timeout", "request_timeout", "The request was not received in time.")
            return
        super().handle_error(req, client, addr, exc)


def body_buffer(req, client) -> bool | None:
    """Read the request's body whole now, within the deadline, and give it to the
    application from a buffer: True when it was read to its declared end, False when
    it ended otherwise (chunked), None when it was left to the application (declared
    larger than CRM_REQUEST_BUFFER_BYTES: the application refuses it unread, 413)."""
    limit = int(os.environ.get("CRM_REQUEST_BUFFER_BYTES") or 10 * 1024 * 1024)
    reader = req.body.reader
    if isinstance(reader, LengthReader) and reader.length > limit:
        return None
    if req._expected_100_continue:  # the client waits for this before it sends the body
        client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        req._expected_100_continue = False
    # Closed with the request: the worker drops it after the response.
    buffer = tempfile.SpooledTemporaryFile(max_size=BUFFER_IN_MEMORY)  # noqa: SIM115
    while chunk := req.body.read(min(65536, limit + 1 - buffer.tell())):
        buffer.write(chunk)
        if buffer.tell() > limit:  # chunked, and larger than we keep
            raise RequestTooLarge
    buffer.seek(0)
    req.body = Body(buffer)
    return isinstance(reader, LengthReader) and not reader.length


def answer(client, status: int, reason: str, code: str, detail: str) -> None:
    """An error in the API's JSON shape, for a request the application never saw."""
    body = json.dumps({"error": code, "detail": detail}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with contextlib.suppress(OSError):
        client.sendall(head + body)
        # Not gunicorn's graceful close, which would wait up to 2 s more for a client
        # this slow: drop what it has sent so far (so the close is a FIN, not a reset
        # that could cut this answer short) and shut the connection now.
        while client.recv(65536, socket.MSG_DONTWAIT):
            pass
    with contextlib.suppress(OSError):
        client.shutdown(socket.SHUT_RDWR)


def request_read_whole(req) -> bool:
    """The application read the request's body to its declared end."""
    reader = getattr(req.body, "reader", None)
    return isinstance(reader, LengthReader) and not reader.length


def nothing_waiting(client) -> bool:
    """The client has sent nothing since its request (or has closed)."""
    try:
        return not client.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)  # b"": the client closed
    except BlockingIOError:
        return True  # nothing waiting
    except OSError:
        return False
