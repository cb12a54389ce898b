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
"""

from __future__ import annotations

import contextlib
import socket

from gunicorn.http.body import LengthReader
from gunicorn.workers import sync


class SyncWorker(sync.SyncWorker):
    def handle_request(self, listener, req, client, addr):
        super().handle_request(listener, req, client, addr)
        if not self.cfg.is_ssl and request_read_whole(req, client):
            with contextlib.suppress(OSError):  # the client is gone already: gunicorn closes as usual
                client.shutdown(socket.SHUT_RDWR)


def request_read_whole(req, client: socket.socket) -> bool:
    """The request's body was read to its end and the client has sent nothing since."""
    reader = getattr(req.body, "reader", None)
    if not isinstance(reader, LengthReader) or reader.length:
        return False  # chunked, or bytes of the body left unread
    try:
        return not client.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)  # b"": the client closed
    except BlockingIOError:
        return True  # nothing waiting
    except OSError:
        return False
