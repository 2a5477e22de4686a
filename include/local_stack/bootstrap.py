"""Create the demo resources on the local stack: buckets, the video index table, and the upload
event fan-out (S3 ObjectCreated -> SNS topic -> one SQS queue per consuming DAG).

The fan-out mirrors what works on real AWS: S3 refuses two notification configurations with
overlapping event and prefix, so one upload that must start two DAGs goes through SNS.
Idempotent: running it twice changes nothing.
"""

from __future__ import annotations

import json

from include.local_stack.stack import ACCOUNT_ID, REGION, Stack

BUCKETS = {
    "source": "mediaflow-source",
    "destination": "mediaflow-destination",
    "media": "mediaflow-media",
    "renditions": "mediaflow-renditions",
    "backup": "mediaflow-backup",
    "reports": "mediaflow-reports",
}
VIDEO_TABLE = "mediaflow-videos"
UPLOAD_TOPIC = "mediaflow-media-uploads"
#: one queue per DAG that reacts to an upload under `UPLOAD_PREFIX` of the media bucket
QUEUES = {
    "video_segment_index": "mediaflow-segment-uploads",
    "mediaconvert_transcode": "mediaflow-transcode-uploads",
}
UPLOAD_PREFIX = "uploads/"
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".m4v")


def queue_url(endpoint: str, name: str) -> str:
    return f"{endpoint}/{ACCOUNT_ID}/{name}"


def bootstrap(stack: Stack) -> dict:
    s3 = stack.boto3_client("s3")
    for bucket in BUCKETS.values():
        try:
            s3.create_bucket(Bucket=bucket)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
    s3.put_bucket_versioning(Bucket=BUCKETS["source"], VersioningConfiguration={"Status": "Enabled"})

    ddb = stack.boto3_client("dynamodb")
    if VIDEO_TABLE not in ddb.list_tables()["TableNames"]:
        ddb.create_table(
            TableName=VIDEO_TABLE,
            AttributeDefinitions=[{"AttributeName": "VideoId", "AttributeType": "N"}],
            KeySchema=[{"AttributeName": "VideoId", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )

    sns = stack.boto3_client("sns")
    sqs = stack.boto3_client("sqs")
    topic_arn = sns.create_topic(Name=UPLOAD_TOPIC)["TopicArn"]
    urls = {}
    for dag_id, name in QUEUES.items():
        url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
        urls[dag_id] = url
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        existing = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
        if not any(sub["Endpoint"] == arn for sub in existing):
            sns.subscribe(
                TopicArn=topic_arn,
                Protocol="sqs",
                Endpoint=arn,
                Attributes={"RawMessageDelivery": "true"},
            )
    s3.put_bucket_notification_configuration(
        Bucket=BUCKETS["media"],
        NotificationConfiguration={
            "TopicConfigurations": [
                {
                    "Id": f"mediaflow-uploads{suffix}",
                    "TopicArn": topic_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {
                            "FilterRules": [
                                {"Name": "prefix", "Value": UPLOAD_PREFIX},
                                {"Name": "suffix", "Value": suffix},
                            ]
                        }
                    },
                }
                for suffix in VIDEO_SUFFIXES
            ]
        },
    )
    # S3 answers a new notification configuration with an s3:TestEvent; drop it so that the
    # demo queues hold only real uploads (the watchers filter on eventName as well).
    for url in urls.values():
        sqs.purge_queue(QueueUrl=url)
    return {"buckets": BUCKETS, "table": VIDEO_TABLE, "topic_arn": topic_arn, "queues": urls, "region": REGION}


if __name__ == "__main__":
    from include.local_stack.stack import load_state

    running = load_state()
    if running is None:
        raise SystemExit("no local stack is running: start it with `make stack-up`")
    print(json.dumps(bootstrap(running), indent=2))
