from __future__ import annotations

import logging
import signal
import sys
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

log = logging.getLogger("medcall.runtunnels")


class Command(BaseCommand):
    help = (
        "Bring the whole local installation up in one process: check or start LiveKit, serve HTTP + "
        "WebSocket with Daphne on --port, open and verify the tunnel (--provider overrides "
        "TUNNEL_PROVIDER), print the status, the public URL and a QR code, then keep supervising "
        "(re-check, restart crashed children with backoff, reopen a dead tunnel) until Ctrl+C/SIGTERM, "
        "when children are stopped, the tunnel closed and states set to down."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="Address Daphne binds (default 127.0.0.1).")
        parser.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000).")
        parser.add_argument(
            "--provider",
            default=None,
            help="Tunnel provider: auto, ngrok, cloudflared, lan, static, none, or a dotted class path.",
        )
        parser.add_argument(
            "--interval", type=float, default=None, help="Seconds between checks (default SERVICE_CHECK_INTERVAL, max 5 here)."
        )
        parser.add_argument("--no-qr", action="store_true", help="Do not print the QR code.")

    def handle(self, *args, **opts):
        # Daphne must install its asyncio Twisted reactor before anything else imports twisted.
        from daphne.server import Server

        from medcall import health
        from tunnels.orchestrator import Orchestrator, orchestrator_install
        from tunnels.providers import provider_get
        from tunnels.providers.base import TunnelError
        from tunnels.supervisor import Supervisor

        host, port = opts["host"], opts["port"]
        try:
            provider = provider_get(opts["provider"])
        except TunnelError as exc:
            raise CommandError(exc.message)
        except (ImportError, ValueError) as exc:
            raise CommandError(f"Unknown tunnel provider {opts['provider']!r}: {exc}")

        livekit_process = None
        if getattr(settings, "LIVEKIT_AUTOSTART", False):
            from tunnels.livekit_server import LiveKitServerProcess

            livekit_process = LiveKitServerProcess()

        orchestrator = Orchestrator(
            web_host="127.0.0.1" if host in ("0.0.0.0", "::", "127.0.0.1") else host,
            web_port=port,
            expected_instance=health.INSTANCE_ID,
            provider_name=opts["provider"],
            livekit_process=livekit_process,
        )
        orchestrator._provider = provider  # resolved once, so "auto" cannot change mid-run
        orchestrator_install(orchestrator)

        endpoints = [f"tcp:port={port}:interface={host}"]
        if provider.name == "lan":
            from tunnels.providers.lan import lan_address, lan_tls_endpoint

            endpoints.append(lan_tls_endpoint(settings.LAN_HTTPS_PORT))
            # Phones reach us by the LAN IP: accept it as a host and as a CSRF origin.
            address = lan_address()
            if address not in settings.ALLOWED_HOSTS and "*" not in settings.ALLOWED_HOSTS:
                settings.ALLOWED_HOSTS.append(address)
            settings.CSRF_TRUSTED_ORIGINS.append(f"https://{address}:{settings.LAN_HTTPS_PORT}")

        interval = opts["interval"] or min(settings.SERVICE_CHECK_INTERVAL, 5.0)
        printed = {"url": None}
        out = self.stdout

        def report(states):
            from tunnels.services import public_url_get
            from tunnels.status_report import qr_as_text, status_as_table

            url = public_url_get()
            if states is None or url != printed["url"]:
                out.write("\nMedCall — services:\n" + status_as_table())
                if url and url != printed["url"]:
                    out.write(f"\nPublic URL: {url}\n")
                    if not opts["no_qr"]:
                        out.write(qr_as_text(url))
                printed["url"] = url
                out.flush()

        supervisor = Supervisor(orchestrator, interval=interval, on_change=report)

        from medcall.asgi import application

        server = Server(
            application=application,
            endpoints=endpoints,
            signal_handlers=True,
            ready_callable=supervisor.start,
            verbosity=0,
            websocket_timeout=86400,
            application_close_timeout=10,
        )
        if sys.platform == "win32":
            # Twisted's handlers cover SIGINT; make Ctrl+Break stop cleanly too.
            signal.signal(signal.SIGBREAK, lambda *a: server.stop())  # type: ignore[attr-defined]

        out.write(f"MedCall: serving on http://{host}:{port} (Ctrl+C to stop)\n")
        out.flush()
        try:
            server.run()
        finally:
            shutdown = threading.Thread(target=self._shutdown, args=(supervisor, orchestrator), daemon=True)
            shutdown.start()
            shutdown.join(30)
        if not server.listening_addresses:
            raise CommandError(
                f"Could not listen on {host}:{port}: the port is probably in use. Stop the other program or use --port."
            )
        out.write("MedCall stopped.\n")

    def _shutdown(self, supervisor, orchestrator):
        from django.db import close_old_connections

        supervisor.stop()
        try:
            orchestrator.shutdown()
        finally:
            close_old_connections()
