"""The component library's arguments: a wrong input fails at construction with an error naming it."""

from __future__ import annotations

import pytest

from infra.components import ContainerArgs, HardenedJobArgs, ModelEndpointArgs, SecureNamespaceArgs
from infra.components.pod import container, pod_spec
from infra.settings import image_ref

UID = 10001
ENDPOINT = {
    "namespace": "ns",
    "image": "r/a:1",
    "service_account": "sa",
    "port": 3000,
    "user_uid": UID,
    "liveness_path": "/livez",
    "readiness_path": "/readyz",
}


def test_image_ref_prefers_the_digest():
    digest = "sha256:" + "b" * 64
    assert image_ref("r/app", tag="1.0", digest=digest) == f"r/app@{digest}"
    assert image_ref("r/app", tag="1.0", digest=None) == "r/app:1.0"


@pytest.mark.parametrize(
    ("tag", "message"), [(None, "not a valid image tag"), ("latest", "moves under you"), ("a b", "not a valid")]
)
def test_image_ref_refuses_missing_latest_or_bad_tags(tag, message):
    with pytest.raises(ValueError, match=message):
        image_ref("r/app", tag=tag, digest=None)


@pytest.mark.parametrize("image", ["r/app:latest", "r/app"])
def test_a_container_needs_a_pinned_image(image):
    with pytest.raises(ValueError, match="needs a tag or digest"):
        ContainerArgs(name="app", image=image, user_uid=UID)


def test_a_container_is_hardened_by_default():
    c = container(
        ContainerArgs(
            name="app", image="r/app:1", user_uid=UID, env={"A": "1"}, secret_env={"K": ("s", "k")}, ports=(3000,)
        )
    )
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["runAsUser"] == UID
    assert c["env"] == [
        {"name": "A", "value": "1"},
        {"name": "K", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
    ]
    assert c["volumeMounts"] == [{"name": "rw-tmp", "mountPath": "/tmp"}]
    assert c["ports"] == [{"containerPort": 3000, "name": "http"}]


def test_a_pod_mounts_one_empty_dir_per_writable_path_and_no_token():
    spec = pod_spec(
        [ContainerArgs(name="a", image="r/a:1", user_uid=UID, writable_paths=("/tmp", "/var/cache/x"))],
        restart_policy="Never",
    )
    assert [v["name"] for v in spec["volumes"]] == ["rw-tmp", "rw-var-cache-x"]
    assert spec["automountServiceAccountToken"] is False
    assert spec["restartPolicy"] == "Never"


JOB = {"namespace": "ns", "service_account": "sa", "container": ContainerArgs(name="a", image="r/a:1", user_uid=UID)}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"active_deadline_seconds": 0}, "active_deadline_seconds"),
        ({"backoff_limit": 50}, "backoff_limit"),
        ({"parallelism": 0}, "parallelism"),
        ({"schedule": "hourly"}, "cron"),
    ],
)
def test_job_arguments_are_checked(override, message):
    with pytest.raises(ValueError, match=message):
        HardenedJobArgs(**JOB, **override)


def test_job_arguments_are_frozen_and_typed():
    args = HardenedJobArgs(**JOB)
    with pytest.raises(AttributeError):
        args.backoff_limit = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        HardenedJobArgs(**JOB, deadline=5)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"min_replicas": 3, "max_replicas": 2}, "replicas"),
        ({"port": 0}, "port"),
    ],
)
def test_endpoint_arguments_are_checked(override, message):
    with pytest.raises(ValueError, match=message):
        ModelEndpointArgs(**{**ENDPOINT, **override})


@pytest.mark.parametrize("missing", ["port", "user_uid", "liveness_path", "readiness_path"])
def test_an_endpoint_is_told_its_port_user_and_probe_paths_never_guesses_them(missing):
    with pytest.raises(TypeError, match=missing):
        ModelEndpointArgs(**{k: v for k, v in ENDPOINT.items() if k != missing})


def test_a_root_user_or_containers_of_different_users_in_one_pod_are_refused():
    with pytest.raises(ValueError, match="root"):
        ContainerArgs(name="a", image="r/a:1", user_uid=0)
    with pytest.raises(ValueError, match="one user"):
        pod_spec(
            [ContainerArgs(name="a", image="r/a:1", user_uid=1), ContainerArgs(name="b", image="r/b:1", user_uid=2)]
        )


@pytest.mark.parametrize("name", ["", "Bad_Name", "x" * 64])
def test_namespace_names_must_be_dns_labels(name):
    with pytest.raises(ValueError, match="DNS label"):
        SecureNamespaceArgs(name=name)
