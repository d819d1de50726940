"""Pushes an image to a registry and pulls it back by digest: tests use a local registry on 127.0.0.1, CD the
GitHub container registry, by the same code. Deployments refer to images by the digest this returns (tags move).
"""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import urlsplit

import docker
from docker.errors import APIError

from infra.images.engine import is_podman
from infra.images.errors import ImageError

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def plain_http(registry: str) -> bool:
    """A registry on this machine speaks plain HTTP (Docker assumes so for 127.0.0.0/8; Podman must be told)."""
    return urlsplit(f"//{registry}").hostname in ("127.0.0.1", "localhost", "::1")


def _auth_header(auth: dict | None) -> dict[str, str]:
    payload = json.dumps(auth or {}).encode()
    return {"X-Registry-Auth": base64.urlsafe_b64encode(payload).decode()}


def _stream(client: docker.DockerClient, path: str, params: dict, auth: dict | None) -> list[dict]:
    """POST to the engine API and collect its JSON progress; raise on an error line.

    The SDK's push()/pull() cannot pass `tlsVerify`, Podman's switch for plain-HTTP registries, so this is
    the SDK's own request path with that one extra parameter (Docker ignores it).
    """
    api = client.api
    response = api._post(api._url(path), params=params, headers=_auth_header(auth), stream=True)
    api._raise_for_status(response)
    lines = list(api._stream_helper(response, decode=True))
    for line in lines:
        if "error" in line or "errorDetail" in line:
            raise ImageError(str(line.get("error") or line["errorDetail"].get("message")))
    return lines


def push(
    client: docker.DockerClient,
    image: str,
    registry: str,
    tag: str,
    auth: dict | None = None,
    *,
    insecure: bool | None = None,
) -> str:
    """Tag `image` as <registry>/<name>:<tag>, push it, return `<registry>/<name>@sha256:…`.

    `insecure`: the registry speaks plain HTTP (default: only when it is on the loopback address; the local
    cluster's registry listens on its node's link address, tools/cluster.py)."""
    insecure = plain_http(registry) if insecure is None else insecure
    name = image.rsplit("/", 1)[-1].split(":", 1)[0]
    repository = f"{registry}/{name}"
    try:
        client.images.get(image).tag(repository, tag)
        params = {"tag": tag, **({"tlsVerify": "false"} if insecure else {})}
        lines = _stream(client, f"/images/{repository}/push", params, auth)
    except (APIError, ImageError) as err:
        raise ImageError(f"pushing {image} to {repository}:{tag} failed: {err}") from err
    for line in reversed(lines):
        found = DIGEST.search(json.dumps(line))
        if found:
            return f"{repository}@{found.group(0)}"
    raise ImageError(f"the engine pushed {repository}:{tag} but reported no digest: {lines[-3:]}")


def pull(client: docker.DockerClient, reference: str, auth: dict | None = None) -> str:
    """Pull `reference` (by digest: repository@sha256:…) and return the image id.

    For a plain-HTTP registry on Podman this uses Podman's own pull endpoint: its Docker-compatible one has no
    TLS switch. Docker pulls from 127.0.0.0/8 over HTTP on its own.
    """
    registry = reference.split("/", 1)[0]
    try:
        if plain_http(registry) and is_podman(client):
            _stream(client, "/libpod/images/pull", {"reference": reference, "tlsVerify": "false"}, auth)
        else:
            _stream(client, "/images/create", {"fromImage": reference}, auth)
        return client.images.get(reference).id
    except (APIError, ImageError) as err:
        raise ImageError(f"pulling {reference} failed: {err}") from err
