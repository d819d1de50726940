"""Where things live inside the serving image. Its Dockerfile is rendered with these values and the serving
Deployment's writable paths derive from them (infra/components/endpoint.py), so the image and the pod spec that
runs it on a read-only root filesystem cannot disagree.
"""

APP_HOME = "/home/app"
# BentoML writes its Prometheus multiprocess files (and anything else it keeps at serve time) under $BENTOML_HOME
BENTOML_HOME = f"{APP_HOME}/.bentoml"
SERVING_WORK_DIR = f"{APP_HOME}/work"
