"""S3 uploads as Airflow Assets: the SQS-watching asset that starts a run, and the objects a
run started that way should process.

Shared by the DAGs that react to uploads (`video_segment_index`, `mediaconvert_transcode`);
the parsing of the notifications themselves is pure, in `mediaflow.common.s3_events`.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset, AssetWatcher

from mediaflow.common.s3_events import OBJECT_CREATED_EVENTS, objects_from_asset_events


def upload_asset(name: str, queue_url: str | None, *, aws_conn_id: str = "aws_default") -> Asset | None:
    """An SQS queue of S3 upload notifications as an Asset whose watcher starts a run per batch.

    None when `queue_url` is unset (the DAG then has no event trigger). Only ObjectCreated
    events pass the watcher's filter: S3 answers a new notification configuration with an
    `s3:TestEvent`, which must never start work (the first task ignores it too).
    """
    if not queue_url:
        return None
    from airflow.providers.common.messaging.triggers.msg_queue import MessageQueueTrigger

    trigger = MessageQueueTrigger(
        scheme="sqs",
        sqs_queue=queue_url,
        aws_conn_id=aws_conn_id,
        max_messages=10,
        wait_time_seconds=10,
        waiter_delay=5,
        message_filtering="jsonpath",
        message_filtering_config="Records[*].eventName",
        message_filtering_match_values=OBJECT_CREATED_EVENTS,
    )
    return Asset(
        name=name,
        uri=f"sqs://{queue_url.split('://', 1)[-1]}",
        watchers=[AssetWatcher(name=f"{name}_watcher", trigger=trigger)],
    )


def uploaded_objects(context: Any) -> list[dict[str, str]] | None:
    """`[{"bucket", "key"}]` named by the asset events that started this run, or None when the
    run was not started by an upload event (a conf, schedule or REST run)."""
    events = context.get("triggering_asset_events") or {}
    extras = [event.extra for batch in events.values() for event in batch]
    if not extras:
        return None
    return objects_from_asset_events(extras)
