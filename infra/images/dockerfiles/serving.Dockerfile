# The serving image: the exported Bento (code, config, model) on the pinned base, run by `bentoml serve`.
# Two stages so the wheels and pip never reach the final layers; no compilers, no network during the build.
ARG BASE_IMAGE
FROM ${BASE_IMAGE} AS install
COPY wheels/ /wheels/
# uv is the host's pinned binary: it installs the wheels in parallel, offline; it stays in this stage.
RUN /wheels/uv venv --quiet --python /usr/bin/python3 /opt/venv \
 && /wheels/uv pip install --quiet --offline --no-index --find-links /wheels --compile-bytecode \
      --python /opt/venv/bin/python -r /wheels/requirements.txt

FROM ${BASE_IMAGE}
ARG USER_UID
RUN useradd --uid "${USER_UID}" --user-group --create-home --home-dir /home/app app
COPY --from=install /opt/venv /opt/venv
COPY --chown=${USER_UID}:${USER_UID} bento/ /home/app/bento/
ENV PATH=/opt/venv/bin:/usr/local/bin:/usr/bin:/bin \
    LANG=C.UTF-8 PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 BENTOML_DO_NOT_TRACK=true \
    BENTOML_HOME={bentoml_home} MLRIG_WORK_DIR={work_dir}
# Envs the Bento declares in bento.yaml (the service's config path), filled in at build time:
{bento_envs}
USER ${USER_UID}:${USER_UID}
WORKDIR /home/app/bento
# {port} is [serving] port of the project config, filled in at build time like the pod's probes and Service.
EXPOSE {port}
CMD ["bentoml", "serve", "/home/app/bento", "--host", "0.0.0.0", "--port", "{port}"]
