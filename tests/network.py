"""Another host on this machine: a network namespace of its own (``ip netns``), joined to this
one by a veth pair, that reaches this host's loopback services only through forwarders bound
to the pair's address on this side. Nothing on loopback is visible from inside it."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.processes import require_tool


@dataclass
class Host:
    """A namespace ``name``; this side of its link is ``gateway`` (the address it dials)."""

    name: str
    gateway: str
    _forwarders: list[socket.socket] = field(default_factory=list)

    @property
    def command(self) -> list[str]:
        """The prefix that runs a command inside the namespace."""
        return ["ip", "netns", "exec", self.name]

    def forward(self, port: int) -> int:
        """A port on ``gateway`` that leads to ``127.0.0.1:port`` here; the namespace's way to
        one loopback service."""
        listener = socket.create_server((self.gateway, 0))
        self._forwarders.append(listener)
        threading.Thread(target=_accept, args=(listener, port), daemon=True).start()
        return listener.getsockname()[1]

    def close(self) -> None:
        for listener in self._forwarders:
            listener.close()


def _accept(listener: socket.socket, port: int) -> None:
    while True:
        try:
            inside, _ = listener.accept()
        except OSError:  # closed: the host is gone
            return
        outside = socket.create_connection(("127.0.0.1", port))
        for source, target in ((inside, outside), (outside, inside)):
            threading.Thread(target=_pump, args=(source, target), daemon=True).start()


def _pump(source: socket.socket, target: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)
    for end in (source, target):
        with contextlib.suppress(OSError):
            end.shutdown(socket.SHUT_RDWR)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@contextmanager
def other_host() -> Iterator[Host]:
    """A fresh namespace linked to this one, removed (with its link) afterwards."""
    tag = uuid.uuid4().hex[:6]
    name, outside, inside = f"radlabel-{tag}", f"rlh{tag}", f"rln{tag}"
    subnet = int(tag[:2], 16)
    gateway, address = f"10.231.{subnet}.1", f"10.231.{subnet}.2"
    missing = None if shutil.which("ip") else "iproute2's ip is missing"
    if missing is None:
        try:
            _ip("netns", "add", name)
        except subprocess.CalledProcessError as error:
            missing = f"ip netns add failed (needs root): {error.stderr.strip()}"
    require_tool(missing)
    host = Host(name=name, gateway=gateway)
    try:
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", name)
        _ip("addr", "add", f"{gateway}/30", "dev", outside)
        _ip("link", "set", outside, "up")
        for command in (
            ("addr", "add", f"{address}/30", "dev", inside),
            ("link", "set", inside, "up"),
            ("link", "set", "lo", "up"),
        ):
            _ip("netns", "exec", name, "ip", *command)
        yield host
    finally:
        host.close()
        with contextlib.suppress(subprocess.CalledProcessError):
            _ip("link", "del", outside)
        _ip("netns", "del", name)
