# mediaflow on the official Airflow image: ffmpeg for the video pipelines plus the pinned set.
# The Python 3.11 variant matches the interpreter requirements.txt was resolved for.
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11
FROM ${AIRFLOW_IMAGE} AS runtime

USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/*

USER airflow
COPY --chown=airflow:root requirements.txt /opt/mediaflow/requirements.txt
RUN pip install --no-cache-dir -r /opt/mediaflow/requirements.txt

COPY --chown=airflow:root dags/ /opt/airflow/dags/
COPY --chown=airflow:root plugins/ /opt/airflow/plugins/
COPY --chown=airflow:root include/ /opt/airflow/include/
ENV PYTHONPATH=/opt/airflow/plugins:/opt/airflow

# The local AWS stack services (moto server, local MediaConvert, Frame.io stand-in) need the
# test set too; production images are built from the stage above.
FROM runtime AS localstack
COPY --chown=airflow:root requirements-dev.txt /opt/mediaflow/requirements-dev.txt
RUN pip install --no-cache-dir -r /opt/mediaflow/requirements-dev.txt
