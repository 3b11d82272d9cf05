"""Protocol doubles: small loopback servers that speak the documented APIs of services that cannot
run here (LiveKit server, ngrok agent, cloudflared). They import nothing from Django, so a stand-in
executable started as a separate process can serve them too."""

from http.server import ThreadingHTTPServer


class LoopbackHTTPServer(ThreadingHTTPServer):
    """The server every double runs: threaded, quick to close, no lingering handler threads."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True


class LoopbackServerDouble:
    """stop() and the context-manager protocol shared by the doubles; start() sets self._server."""

    _server: LoopbackHTTPServer | None = None

    def start(self):
        raise NotImplementedError

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
