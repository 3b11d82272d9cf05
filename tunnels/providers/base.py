"""The tunnel provider interface: what every way of getting a public URL for this server offers.

A provider opens one public URL that reaches one local port (Daphne serves HTTP, WebSocket and the
/lk/ proxy on it), and reports failures as `TunnelError`s whose message a doctor or a clinic's IT
person can act on. The orchestrator and `runtunnels` only ever talk to this interface.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field


@dataclass
class TunnelHandle:
    """An opened tunnel. `public_url` is "https://host[:port]" without a trailing slash."""

    provider: str
    public_url: str
    local_port: int
    details: dict = field(default_factory=dict)  # shown on the status page: never put secrets here


class TunnelError(Exception):
    """A tunnel could not be opened or verified.

    `message` is user-facing and already translated (pt-BR by default): it names the service, the
    port and the fix. `code` is a stable machine code ("ngrok_8012", "certificate", ...) that the
    orchestrator and tests match on; it never changes with the language.
    """

    def __init__(self, message: str, *, code: str, port: int | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = str(message)
        self.code = code
        self.port = port
        self.details = details or {}

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"TunnelError(code={self.code!r}, port={self.port!r})"


class TunnelProvider(ABC):
    name: str = ""
    # What tunnel_verify should trust for TLS on this provider's public URL: True = system CAs,
    # a path = that CA/certificate file (the lan provider's self-signed certificate).
    verify_ca: str | bool = True

    @abstractmethod
    def available(self) -> tuple[bool, str]:
        """Whether this provider can run here (token, binary, agent present); a translated reason if not."""

    @abstractmethod
    def open(self, *, local_host: str, local_port: int, timeout: float = 30) -> TunnelHandle:
        """Open a public URL that reaches local_host:local_port. Raises TunnelError."""

    @abstractmethod
    def close(self) -> None:
        """Release the tunnel. Idempotent and never raises."""

    @abstractmethod
    def is_alive(self) -> bool:
        """Cheap local liveness check (process alive, agent still lists the tunnel); no public round trip."""

    @abstractmethod
    def media_note(self) -> str:
        """Translated sentence: which path WebRTC media (UDP) takes when this provider is used."""
