"""mediaflow_healthcheck: can this deployment reach S3, DynamoDB, SQS and ffmpeg?"""

from __future__ import annotations

from airflow.sdk import DAG

from mediaflow.common.dag_defaults import DEFAULT_ARGS
from mediaflow.common.params import param_values
from mediaflow.common.tasks import refuse_bad_conf
from mediaflow.healthcheck.contract import PARAMS
from mediaflow.healthcheck.operators import MediaflowHealthcheckOperator

with DAG(
    dag_id="mediaflow_healthcheck",
    schedule=None,
    catchup=False,
    default_args=DEFAULT_ARGS,
    params=PARAMS,
    tags=["mediaflow", "ops"],
    doc_md="""
### mediaflow_healthcheck
Run this first after pointing `aws_default` at a new account or endpoint. It checks every bucket
in `buckets` (HeadBucket), the video index table (DescribeTable), the event queues
(GetQueueUrl), and that `ffmpeg`/`ffprobe` run on the worker. It fails with one line per
problem, each naming the resource and the fix.
""",
) as dag:
    MediaflowHealthcheckOperator(
        task_id="check",
        pre_execute=refuse_bad_conf("mediaflow_healthcheck"),
        **param_values("buckets", "table_name", "queue_names", "check_ffmpeg"),
    )
