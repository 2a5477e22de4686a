"""Worker identity for `[core] hostname_callable`.

Several Celery workers on one host (or one pod network namespace) report the same FQDN, so
task instances cannot say which worker ran them. Set MEDIAFLOW_WORKER_NAME per worker and
`AIRFLOW__CORE__HOSTNAME_CALLABLE=mediaflow.common.hostname.worker_hostname` to tell them apart;
without the variable this is plain `socket.getfqdn()`, Airflow's default.
"""

from __future__ import annotations

import os
import socket


def worker_hostname() -> str:
    return os.environ.get("MEDIAFLOW_WORKER_NAME") or socket.getfqdn()
