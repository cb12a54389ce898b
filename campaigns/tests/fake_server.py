"""What every local fake of a provider shares: an HTTP server on 127.0.0.1 (a free port)
in a thread, started and stopped by the test. The fake supplies `_handler()`."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer


class LoopbackServer:
    hang = 0.0  # seconds the fake takes to answer (a provider that does not answer in time)

    def _listen(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_port

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self.hang = 0
        self._server.shutdown()
        self._server.server_close()
