"""Plain-text and JSON renderings of the service status (terminal, servicestatus --json)."""
from __future__ import annotations

import io

from .services import public_url_get, service_status_all


def status_as_dict() -> dict:
    return {
        "public_url": public_url_get(),
        "services": [
            {
                "name": row.name,
                "state": row.state,
                "message": row.message,
                "checked_at": row.checked_at.isoformat() if row.checked_at else None,
            }
            for row in service_status_all()
        ],
    }


def status_as_table() -> str:
    data = status_as_dict()
    out = io.StringIO()
    width = max(len(s["name"]) for s in data["services"]) if data["services"] else 8
    for s in data["services"]:
        out.write(f"  {s['name']:<{width}}  {s['state']:<9}  {s['message']}\n")
    out.write(f"  public URL: {data['public_url'] or '-'}\n")
    return out.getvalue()


def qr_as_text(url: str) -> str:
    import qrcode

    qr = qrcode.QRCode(border=1)
    qr.add_data(url)
    qr.make(fit=True)
    buf = io.StringIO()
    qr.print_ascii(out=buf, invert=True)
    return buf.getvalue()
