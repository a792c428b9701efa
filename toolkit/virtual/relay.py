"""A power relay on loopback, as a lab's networked relay board is: it switches the virtual board's
supply, and speaks the HTTP that labgrid's ``simplerest`` power backend sends
(``GET /relay/{index}/{value}`` sets relay ``index`` to 0 or 1; ``GET /relay/{index}`` answers
``1`` or ``0``). A fake of the relay hardware: what it switches is the whole virtual board."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from toolkit.errors import PortError

log = logging.getLogger(__name__)

PATH = re.compile(r"^/relay/(\d+)(?:/([01]))?/?$")


class Relay:
    """Relays by index, each switching one supply: ``switch(on)`` cuts (False) or restores (True) it."""

    def __init__(self, switches: dict[int, Callable[[bool], None]]) -> None:
        self.switches = switches
        self.state = {index: True for index in switches}  # the boards are powered when the relay starts
        self.cycles = 0
        self._lock = threading.Lock()

    def set(self, index: int, on: bool) -> None:
        with self._lock:
            if self.state[index] == on:
                return
            self.switches[index](on)
            self.state[index] = on
            if on:
                self.cycles += 1
            log.info("relay %d %s", index, "on" if on else "off")


def serve_relay(relay: Relay, address: tuple[str, int], on_listening: Callable[[int], None] | None = None
                ) -> ThreadingHTTPServer:
    """Serve ``relay`` on ``address`` (loopback) in a thread; the caller shuts the server down."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            match = PATH.match(self.path)
            if match is None or int(match[1]) not in relay.state:
                self._answer(404, f"no relay at {self.path}; use /relay/INDEX[/0|1], INDEX in {sorted(relay.state)}")
                return
            index = int(match[1])
            if match[2] is not None:
                relay.set(index, match[2] == "1")
            self._answer(200, "1" if relay.state[index] else "0")

        def _answer(self, status: int, text: str) -> None:
            body = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's signature
            log.debug("relay: " + format, *args)

    try:
        server = ThreadingHTTPServer(address, Handler)
    except OSError as exc:
        raise PortError(f"cannot listen on {address[0]}:{address[1]}: {exc.strerror}", "choose another port") from None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="vdev-relay", daemon=True).start()
    if on_listening:
        on_listening(server.server_address[1])
    return server
