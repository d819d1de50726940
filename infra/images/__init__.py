"""Container images: the serving image (the Bento) and the pipeline image (`mlrig <stage>` for Jobs).

Everything talks to a Docker Engine API through the `docker` SDK — Docker, or Podman's `podman system
service` socket — named by $DOCKER_HOST. engine.py connects, base.py makes the pinned base image,
context.py assembles build contexts (wheels prepared on the host), build.py builds, run.py runs and smoke-tests,
registry.py pushes and pulls by digest, cli.py is `mlrig image …`.
"""
