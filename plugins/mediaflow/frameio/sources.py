"""Frame.io uploads as an Airflow Asset: the webhook records an asset event per uploaded file and
`frameio_backup`, scheduled on this asset, backs up the files of the events a run consumed.

Why an asset and not a run per event: the scheduler creates one asset-triggered run from every
event queued since the previous one, and creates none while the DAG is at `max_active_runs`, so
files uploaded together fold into a few runs however many there are (see
docs/dags/frameio_backup.md). The events stay in the metadata database, which is also what makes
the webhook idempotent.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset

from mediaflow.frameio.events import targets_from_extras

FRAMEIO_UPLOADS = Asset(name="frameio_uploads", uri="frameio://uploads")


def upload_targets(context: Any) -> list[dict[str, Any]] | None:
    """The backup targets of the upload events that started this run, or None when the run was
    not started by upload events (an Action, the REST API, the form)."""
    events = context.get("triggering_asset_events") or {}
    extras = [event.extra or {} for batch in events.values() for event in batch]
    if not extras:
        return None
    return targets_from_extras(extras)
