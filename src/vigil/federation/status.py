"""`vigil federation status`: at a site, its link, backlog and last acknowledgement; at the hub,
every site's link, backlog, last message and replication lag."""

from __future__ import annotations

import asyncio
from typing import Any

import nats
import nats.errors
import nats.js.errors
from sqlalchemy import Engine, func, select, text

from vigil.config import VigilConfig
from vigil.federation.home import Home
from vigil.federation.monitor import monitoring
from vigil.federation.natsconf import LOCAL_USER, STREAM, account
from vigil.federation.outbox import HUB_ACK, HUB_ACK_AT
from vigil.settings.federation import FederationSettings
from vigil.storage.schema import audit_records, events, sites, uplink_cursors
from vigil.timeutil import HOUR_US, now_us, to_iso


def site_status(
    config: VigilConfig, settings: FederationSettings, engine: Engine
) -> dict[str, Any]:
    leafz = monitoring(settings.monitor_port, "leafz") or {}
    links = leafz.get("leafs") or []
    with engine.connect() as connection:
        cursors = dict(
            connection.execute(select(uplink_cursors.c.name, uplink_cursors.c.position))
            .tuples()
            .all()
        )
        audit_head = connection.scalar(select(func.max(audit_records.c.seq))) or 0
        unsent_events = (
            connection.scalar(
                select(func.count())
                .select_from(events)
                .where(events.c.updated_us > cursors.get("event", 0))
            )
            or 0
        )
    stream = asyncio.run(_site_stream(settings, Home(settings.home(config.storage.path))))
    acked, acked_us = cursors.get(HUB_ACK), cursors.get(HUB_ACK_AT)
    return {
        "role": "site",
        "site": settings.site,
        "hub": settings.hub,
        "link": "up" if links else ("down" if leafz else "leaf not running"),
        "link_rtt": links[0].get("rtt") if links else None,
        "not_in_stream": {
            "audit_records": audit_head - cursors.get("audit", 0),
            "events": unsent_events,
        },
        "stream": stream,
        # Messages in the site's stream the hub has not yet stored, and when it last said so.
        "hub_backlog": stream["last_seq"] - (acked or 0) if stream else None,
        "last_hub_ack": to_iso(acked_us) if acked_us else None,
    }


async def _site_stream(settings: FederationSettings, home: Home) -> dict[str, Any] | None:
    """The site's stream on its leaf; None when the leaf does not answer."""
    try:
        client = await nats.connect(
            f"nats://127.0.0.1:{settings.client_port}",
            user=LOCAL_USER,
            password=home.local_password(),
            connect_timeout=2,
            max_reconnect_attempts=0,
            allow_reconnect=False,
        )
    except (OSError, nats.errors.Error, TimeoutError):
        return None
    try:
        js = client.jetstream(timeout=3)
        info = await js.stream_info(STREAM)
        return {
            "messages": info.state.messages,
            "bytes": info.state.bytes,
            "last_seq": info.state.last_seq,
        }
    except (nats.errors.Error, nats.js.errors.Error, TimeoutError):
        return None
    finally:
        await client.close()


def hub_status(settings: FederationSettings, home: Home, engine: Engine) -> dict[str, Any]:
    leafz = monitoring(settings.monitor_port, "leafz") or {}
    connected = {leaf.get("account") for leaf in leafz.get("leafs") or []}
    since = now_us() - HOUR_US
    with engine.connect() as connection:
        known = {row.name: row for row in connection.execute(select(sites))}
        lags = {
            row.site: row
            for row in connection.execute(
                text(
                    "SELECT site, count(*) AS n, "
                    "percentile_cont(0.5) WITHIN GROUP (ORDER BY ingested_us - start_us) AS p50, "
                    "percentile_cont(0.95) WITHIN GROUP (ORDER BY ingested_us - start_us) AS p95 "
                    "FROM events WHERE site IS NOT NULL AND start_us >= :since GROUP BY site"
                ),
                {"since": since},
            )
        }
    report = []
    for secrets in home.site_secrets():
        name = secrets.site
        row, lag = known.get(name), lags.get(name)
        report.append(
            {
                "site": name,
                "link": "up" if account(name) in connected else "down",
                "last_message": row.last_message_us if row else None,
                "last_ingest": row.last_ingest_us if row else None,
                "refused": row.refused if row else 0,
                "events_last_hour": lag.n if lag else 0,
                "lag_p50_s": round(lag.p50 / 1e6, 3) if lag else None,
                "lag_p95_s": round(lag.p95 / 1e6, 3) if lag else None,
            }
        )
    return {"role": "hub", "sites": report}
