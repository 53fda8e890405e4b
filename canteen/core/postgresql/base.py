"""Django's PostgreSQL backend, with a health check that asks the socket before the server.

With CONN_HEALTH_CHECKS, Django sends `SELECT 1` before the first query of every request on a
persistent connection: a round trip on every API call (3 % of a checkout's CPU in the web process,
and its share of PostgreSQL's). A connection the server has dropped (restart, `pg_terminate_backend`, idle timeout)
has said so on its socket: PostgreSQL sends its FATAL notice and closes, and the socket of an
idle connection turns readable. So the check is: the connection is open, idle, and its socket
has nothing to read. Only when something is waiting there (that notice, or an asynchronous
NOTIFY) does it fall back to Django's own `SELECT 1`. A peer that vanished without a word is
not detected by either check before the request's own query fails (as Django's check would
only find it by waiting out a TCP timeout).
"""

from __future__ import annotations

import select

import psycopg
from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        conn = self.connection
        if conn is None or conn.closed or conn.pgconn.status != pq.ConnStatus.OK:
            return False
        if conn.info.transaction_status != pq.TransactionStatus.IDLE:
            return super().is_usable()
        try:
            poller = select.poll()
            poller.register(conn.pgconn.socket, select.POLLIN | select.POLLERR | select.POLLHUP)
            waiting = poller.poll(0)
        except (OSError, ValueError, psycopg.Error):  # no socket to ask: not usable
            return False
        return super().is_usable() if waiting else True
