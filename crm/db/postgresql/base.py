"""Django's PostgreSQL backend with a health check that costs no round trip.

With CONN_HEALTH_CHECKS, Django checks a persistent connection once per request
before using it, by sending "SELECT 1" and waiting for the answer: a round trip on
every request, a fifth of a payment's and half of a player lookup's. A connection
that the server has closed (restart, idle timeout, an administrator's
pg_terminate_backend) has something waiting on its socket: the server's last
message, or the end of the stream. A healthy idle one has nothing to read. So the
check looks at the socket without waiting; only when something is there does it
send Django's SELECT 1, which settles it either way (a notice or a changed server
setting is read and the connection kept; a closed one fails and is replaced).
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self):
        conn = self.connection
        if conn is None or conn.closed or conn.broken:
            return False
        if conn.info.transaction_status == TransactionStatus.IDLE and not _readable(conn.fileno()):
            return True
        return super().is_usable()


def _readable(fd: int) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))
