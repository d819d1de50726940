# The pipeline image: `mlrig <stage>` for Kubernetes Jobs; the work folder (lake, raw drops, model store) is
# mounted at /work or the lake is an s3:// URL. Same two-stage layout as the serving image.
ARG BASE_IMAGE
FROM ${BASE_IMAGE} AS install
COPY wheels/ /wheels/
# uv is the host's pinned binary: it installs the wheels in parallel, offline; it stays in this stage.
RUN /wheels/uv venv --quiet --python /usr/bin/python3 /opt/venv \
 && /wheels/uv pip install --quiet --offline --no-index --find-links /wheels --compile-bytecode \
      --python /opt/venv/bin/python -r /wheels/requirements.txt

FROM ${BASE_IMAGE}
ARG USER_UID
RUN useradd --uid "${USER_UID}" --user-group --create-home --home-dir /home/app app \
 && mkdir /work && chown "${USER_UID}:${USER_UID}" /work
COPY --from=install /opt/venv /opt/venv
COPY src/ /home/app/src/
# `mlrig <stage>`, the command the CronJobs run: the project is copied as source, not installed, so there is no
# console script (a real node said: exec: "mlrig": executable file not found in $PATH)
RUN printf '#!/bin/sh\nexec python -m mlrig_cli "$@"\n' > /usr/local/bin/mlrig && chmod 0755 /usr/local/bin/mlrig
# MPLCONFIGDIR: the pods' root filesystem is read-only and /tmp their writable emptyDir (infra/components/pod.py);
# without it matplotlib warns on every report that ~/.config is not writable and rebuilds its font cache each run
ENV PATH=/opt/venv/bin:/usr/local/bin:/usr/bin:/bin \
    LANG=C.UTF-8 PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 BENTOML_DO_NOT_TRACK=true \
    MLRIG_CONFIG=/home/app/src/mlrig.toml MLRIG_WORK_DIR=/work MPLCONFIGDIR=/tmp/matplotlib \
    MLRIG_TRACEBACK=1
USER ${USER_UID}:${USER_UID}
WORKDIR /home/app/src
ENTRYPOINT ["python", "-m", "mlrig_cli"]
CMD ["--help"]
