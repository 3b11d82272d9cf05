"""none: public links turned off; MedCall answers only on this computer."""
from __future__ import annotations

from django.utils.translation import gettext as _

from tunnels import failures
from tunnels.providers.base import TunnelHandle, TunnelProvider


class NoneProvider(TunnelProvider):
    name = "none"

    def available(self) -> tuple[bool, str]:
        return False, failures.disabled_reason()

    def open(self, *, local_host: str, local_port: int, timeout: float = 30) -> TunnelHandle:
        raise failures.disabled()

    def close(self) -> None:
        return None

    def is_alive(self) -> bool:
        return False

    def media_note(self) -> str:
        return _("No public address: calls only work from this computer.")
