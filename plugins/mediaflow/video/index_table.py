"""The DynamoDB side of the video index: conflict checks and conditional writes.

Every write is conditional: an item may be created, or replaced by the same video's item, never
replaced by another object's. A conflict is found before any segment is uploaded (batch read)
and again at write time (the condition), so a race cannot overwrite silently either.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

from mediaflow.video.index import IndexConflictError, conflict_message, owned_by

BATCH_GET_LIMIT = 100


class VideoIndexTable:
    def __init__(self, resource: Any, table_name: str) -> None:
        """`resource` is a boto3 DynamoDB service resource (it converts Decimal and lists for us)."""
        self.resource = resource
        self.name = table_name
        self.table = resource.Table(table_name)

    def get(self, vid: int) -> dict[str, Any] | None:
        return self.table.get_item(Key={"VideoId": Decimal(vid)}, ConsistentRead=True).get("Item")

    def get_many(self, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        wanted = [{"VideoId": Decimal(i)} for i in dict.fromkeys(ids)]
        found: dict[int, dict[str, Any]] = {}
        for start in range(0, len(wanted), BATCH_GET_LIMIT):
            keys = wanted[start : start + BATCH_GET_LIMIT]
            while keys:
                response = self.resource.batch_get_item(
                    RequestItems={self.name: {"Keys": keys, "ConsistentRead": True}}
                )
                for item in response.get("Responses", {}).get(self.name, []):
                    found[int(item["VideoId"])] = item
                keys = (response.get("UnprocessedKeys") or {}).get(self.name, {}).get("Keys", [])
        return found

    def check_conflicts(self, items: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
        """Fail listing every id held by another object; return the items already there (ours)."""
        existing = self.get_many(int(item["VideoId"]) for item in items)
        problems = [
            conflict_message(int(item["VideoId"]), existing[int(item["VideoId"])], item)
            for item in items
            if int(item["VideoId"]) in existing and not owned_by(existing[int(item["VideoId"])], item)
        ]
        if problems:
            more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
            raise IndexConflictError(" ".join(problems[:3]) + more)
        return existing

    def put(self, item: dict[str, Any]) -> None:
        """Create the item, or replace the same video's item; never another object's."""
        if item["process_step"] == "upload":
            ours = Attr("process_step").eq("upload") & Attr("bucket").eq(item["bucket"]) & Attr("key").eq(item["key"])
        else:
            ours = Attr("process_step").eq("timesplit") & Attr("parent_video").eq(item["parent_video"])
        try:
            self.table.put_item(Item=item, ConditionExpression=Attr("VideoId").not_exists() | ours)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            existing = self.get(int(item["VideoId"])) or {}
            raise IndexConflictError(conflict_message(int(item["VideoId"]), existing, item)) from None

    def delete_segment(self, vid: int, parent_id: int) -> None:
        """Drop a segment item of `parent_id` left from an earlier run with other settings."""
        try:
            self.table.delete_item(
                Key={"VideoId": Decimal(vid)}, ConditionExpression=Attr("parent_video").eq(Decimal(parent_id))
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
