import json

from django.core.management.base import BaseCommand

from tunnels.status_report import status_as_dict, status_as_table


class Command(BaseCommand):
    help = (
        "Print the state of every service MedCall depends on (web, livekit, tunnel, redis, worker) "
        "and the verified public URL, as last recorded by runtunnels or Celery beat. "
        '--json prints {"public_url": ..., "services": [{"name", "state", "message", "checked_at"}]}.'
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Machine-readable output.")

    def handle(self, *args, **opts):
        if opts["json"]:
            self.stdout.write(json.dumps(status_as_dict(), ensure_ascii=False))
        else:
            self.stdout.write(status_as_table())
