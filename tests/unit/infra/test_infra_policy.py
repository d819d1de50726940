"""Each policy-pack rule, called as the engine calls it, on passing and failing resources; and on every program."""

from __future__ import annotations

import copy

import pytest
from pulumi_policy import PolicyResource, StackValidationArgs, StackValidationPolicy

from infra.policy import rules

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CRONJOB = "kubernetes:batch/v1:CronJob"


def good_container(**overrides) -> dict:
    return {
        "name": "app",
        "image": "ghcr.io/mlrig/churn-scorer:0.1.0",
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "allowPrivilegeEscalation": False},
        "env": [{"name": "AWS_ACCESS_KEY_ID", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
        **overrides,
    }


def deployment(container: dict) -> dict:
    return {"spec": {"template": {"spec": {"containers": [container]}}}}


def cronjob(container: dict) -> dict:
    return {"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [container]}}}}}}


ALL_RULES = [
    rules.validate_no_latest_tag,
    rules.validate_limits_set,
    rules.validate_non_root,
    rules.validate_no_plaintext_secrets,
]


@pytest.mark.parametrize("validate", ALL_RULES)
@pytest.mark.parametrize(("kind", "wrap"), [(DEPLOYMENT, deployment), (CRONJOB, cronjob)])
def test_a_hardened_workload_passes_every_rule(validate, kind, wrap):
    assert rules.violations(validate, kind, wrap(good_container())) == []


@pytest.mark.parametrize(
    "image", ["ghcr.io/mlrig/churn-scorer:latest", "ghcr.io/mlrig/churn-scorer", "localhost:5000/scorer"]
)
def test_latest_or_missing_tags_are_refused(image):
    found = rules.violations(rules.validate_no_latest_tag, DEPLOYMENT, deployment(good_container(image=image)))
    assert len(found) == 1 and image in found[0]


def test_a_digest_or_a_tag_behind_a_registry_port_is_pinned():
    assert rules.image_is_pinned("localhost:5000/scorer:1.2")
    assert rules.image_is_pinned("ghcr.io/mlrig/scorer@sha256:" + "0" * 64)


@pytest.mark.parametrize("kind", ["requests", "limits"])
def test_missing_requests_or_limits_are_refused(kind):
    container = good_container()
    del container["resources"][kind]["memory"]
    found = rules.violations(rules.validate_limits_set, CRONJOB, cronjob(container))
    assert found == [f"container 'app': no {kind} for memory"]


@pytest.mark.parametrize(
    "context",
    [
        {"runAsNonRoot": False, "allowPrivilegeEscalation": False},
        {"runAsNonRoot": True, "runAsUser": 0, "allowPrivilegeEscalation": False},
        {"allowPrivilegeEscalation": False},
    ],
)
def test_root_or_unknown_users_are_refused(context):
    found = rules.violations(rules.validate_non_root, DEPLOYMENT, deployment(good_container(securityContext=context)))
    assert any("may run as root" in f for f in found)


def test_the_pod_level_non_root_setting_counts():
    props = deployment(good_container(securityContext={"allowPrivilegeEscalation": False}))
    props["spec"]["template"]["spec"]["securityContext"] = {"runAsNonRoot": True, "runAsUser": 10001}
    assert rules.violations(rules.validate_non_root, DEPLOYMENT, props) == []


def test_privilege_escalation_is_refused():
    context = {"runAsNonRoot": True, "runAsUser": 10001}
    found = rules.violations(rules.validate_non_root, DEPLOYMENT, deployment(good_container(securityContext=context)))
    assert found == ["container 'app': set allowPrivilegeEscalation: false and privileged: false"]


@pytest.mark.parametrize(
    "env",
    [
        {"name": "AWS_SECRET_ACCESS_KEY", "value": "hunter2"},
        {"name": "MLRIG_PII_KEY", "value": "abc"},
        {"name": "DATABASE", "value": "postgresql://optuna:pw@db:5432/optuna"},
    ],
)
def test_literal_secrets_in_env_are_refused(env):
    found = rules.violations(rules.validate_no_plaintext_secrets, DEPLOYMENT, deployment(good_container(env=[env])))
    assert found == [f"container 'app': env {env['name']} is a literal; take it from a Secret (secretKeyRef)"]


def test_secret_looking_configmap_keys_are_refused():
    props = {"data": {"LOG_LEVEL": "info", "API_KEY": "abc"}}
    found = rules.violations(rules.validate_no_plaintext_secrets, "kubernetes:core/v1:ConfigMap", props)
    assert found == ["ConfigMap key 'API_KEY' looks like a secret; put it in a Secret from Pulumi secrets"]


def test_resources_that_run_no_pods_are_not_checked():
    assert rules.violations(rules.validate_non_root, "kubernetes:core/v1:Service", {"spec": {}}) == []


def test_plaintext_secrets_in_stack_config_are_found():
    config = {
        "mlrig-platform:piiKey": "oops",
        "mlrig-platform:storeSecretKey": {"secure": "v1:abc"},
        "mlrig-serving:tlsSecretName": "churn-tls",
        "mlrig-ml:tuningDbUrl": "postgresql://u:p@h/db",
    }
    assert rules.plaintext_config_secrets(config) == ["mlrig-platform:piiKey", "mlrig-ml:tuningDbUrl"]


def _resource(kind: str, props: dict) -> PolicyResource:
    return PolicyResource(kind, props, f"urn:{kind}:{props['metadata']['name']}", "r", None, None, None, [], {})


def _stack_violations(resources: list[PolicyResource]) -> list[str]:
    found: list[str] = []
    rules.validate_network_policy_per_namespace(StackValidationArgs(resources), lambda m, urn=None: found.append(m))
    return found


NAMESPACE = _resource("kubernetes:core/v1:Namespace", {"metadata": {"name": "mlrig-dev"}})
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


def test_a_namespace_with_a_default_deny_policy_passes():
    deny = {
        "metadata": {"name": "deny", "namespace": "mlrig-dev"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }
    assert _stack_violations([NAMESPACE, _resource(NETPOL, deny)]) == []


def test_a_namespace_without_a_default_deny_policy_is_refused():
    ingress_only = {
        "metadata": {"name": "i", "namespace": "mlrig-dev"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }
    other_ns = {
        "metadata": {"name": "d", "namespace": "other"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }
    found = _stack_violations([NAMESPACE, _resource(NETPOL, ingress_only), _resource(NETPOL, other_ns)])
    assert found == ["namespace 'mlrig-dev' has no default-deny NetworkPolicy (podSelector {}, Ingress and Egress)"]


def test_the_pack_holds_every_rule():
    names = {p.name for p in rules.POLICIES}
    assert names == {"no-latest-tag", "limits-set", "non-root", "no-plaintext-secrets", "network-policy-per-namespace"}
    assert isinstance(rules.POLICIES[-1], StackValidationPolicy)


def test_every_program_on_every_stack_passes_the_policy_pack(stack_runs):
    for (project, stack), run in stack_runs.items():
        resources = []
        for d in run.mocks.kubernetes_objects():
            for validate in ALL_RULES:
                assert rules.violations(validate, d.type, d.inputs) == [], f"{project}/{stack} {d.type} {d.name}"
            resources.append(_resource(d.type, copy.deepcopy(d.inputs)))
        assert _stack_violations(resources) == [], f"{project}/{stack}"
