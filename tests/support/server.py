"""Serve a Flask app over real HTTP on 127.0.0.1 for the duration of a test."""

from __future__ import annotations

import threading

from werkzeug.serving import make_server


class LiveServer:
    def __init__(self, app):
        self._app = app
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "LiveServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)
        runtime = self._app.extensions.get("medic") if hasattr(self._app, "extensions") else None
        if runtime is not None:
            runtime.web_mark.stop()  # a real-clock app's mark must not outlive its test
