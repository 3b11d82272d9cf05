"""Tunnel providers: registry and selection.

`provider_get()` returns a *new* provider instance (providers hold a process or a session); the
caller keeps it to close it. Names: ngrok, cloudflared, lan, static, none, auto, or a dotted path
"pkg.module.Class" (tests use tunnels.tests.forwarder.ForwarderProvider).
"""
from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from tunnels.providers.base import TunnelError, TunnelHandle, TunnelProvider

__all__ = ["PROVIDERS", "TunnelError", "TunnelHandle", "TunnelProvider", "provider_auto_name", "provider_get"]

PROVIDERS = {
    "ngrok": "tunnels.providers.ngrok.NgrokProvider",
    "cloudflared": "tunnels.providers.cloudflared.CloudflaredProvider",
    "lan": "tunnels.providers.lan.LanProvider",
    "static": "tunnels.providers.static.StaticProvider",
    "none": "tunnels.providers.none.NoneProvider",
}


def provider_auto_name() -> str:
    """The provider "auto" stands for here and now: static if PUBLIC_BASE_URL → ngrok if a token is set
    or an agent answers on NGROK_AGENT_API → cloudflared if its binary exists → lan."""
    if settings.PUBLIC_BASE_URL:
        return "static"
    from tunnels.providers.ngrok import NgrokProvider

    if settings.NGROK_AUTHTOKEN or NgrokProvider().agent_answers():
        return "ngrok"
    from tunnels.providers.cloudflared import CloudflaredProvider

    if CloudflaredProvider().binary:
        return "cloudflared"
    return "lan"


def provider_get(name: str | None = None) -> TunnelProvider:
    """A new provider for `name` (None → settings.TUNNEL_PROVIDER). Raises TunnelError("unknown_provider")."""
    name = (name if name is not None else settings.TUNNEL_PROVIDER or "auto").strip()
    if name == "auto":
        name = provider_auto_name()
    path = PROVIDERS.get(name.lower()) or (name if "." in name else None)
    if path is None:
        raise TunnelError(
            _(
                "Unknown tunnel provider %(name)s. Set TUNNEL_PROVIDER (or --provider) to auto, ngrok, cloudflared, "
                "lan, static or none."
            )
            % {"name": name},
            code="unknown_provider",
        )
    try:
        provider_class = import_string(path)
    except ImportError:
        raise TunnelError(
            _("The tunnel provider %(name)s cannot be loaded. Check TUNNEL_PROVIDER.") % {"name": name},
            code="unknown_provider",
        )
    return provider_class()
