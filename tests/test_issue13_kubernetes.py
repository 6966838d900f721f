"""deploy/kubernetes (issue 13) validates against the Kubernetes schemas that kubernetes-validate
bundles (offline), strictly (no unknown field), and says what the issue asks: >= 2 replicas,
non-root with a read-only root filesystem, resources, liveness on /healthz and readiness on
/readyz, a Service, an HPA, a migration Job running `cds-service migrate`, and the database URL
and the trusted-clients configuration from the Secret."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[1] / "deploy" / "kubernetes"
VERSION = "1.30.0"
MANIFESTS = sorted(p for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml")


def documents() -> dict[str, dict[str, Any]]:
    found = {}
    for path in MANIFESTS:
        for document in yaml.safe_load_all(path.read_text()):
            found[document["kind"]] = document
    return found


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_issue13_manifest_validates_strictly(path: Path) -> None:
    for document in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(document, VERSION, strict=True)


def test_issue13_kustomization_names_every_resource_but_the_job_and_secret() -> None:
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    assert set(kustomization["resources"]) == {"deployment.yaml", "service.yaml", "hpa.yaml"}


def pod_is_locked_down(pod: dict[str, Any]) -> None:
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    for container in pod["containers"]:
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        assert {"requests", "limits"} <= set(container["resources"])


def secret_keys(container: dict[str, Any]) -> dict[str, str]:
    return {
        env["name"]: env["valueFrom"]["secretKeyRef"]["key"]
        for env in container["env"]
        if "valueFrom" in env
    }


def test_issue13_deployment_replicas_probes_security_and_secrets() -> None:
    found = documents()
    deployment = found["Deployment"]
    assert deployment["spec"]["replicas"] >= 2
    pod = deployment["spec"]["template"]["spec"]
    pod_is_locked_down(pod)
    [container] = pod["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert secret_keys(container)["AZA_DATABASE_URL"] == "database-url"
    assert "AZA_PATIENT_HASH_KEY" in secret_keys(container)
    config = next(e for e in container["env"] if e["name"] == "AZA_CONFIG_FILE")["value"]
    [mount] = [m for m in container["volumeMounts"] if config.startswith(m["mountPath"])]
    [volume] = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert volume["secret"]["secretName"] == found["Secret"]["metadata"]["name"]
    assert "[[clients]]" in found["Secret"]["stringData"]["aza.toml"]
    tmp = next(m for m in container["volumeMounts"] if m["mountPath"] == "/tmp")
    assert any(v["name"] == tmp["name"] and "emptyDir" in v for v in pod["volumes"])


def test_issue13_service_hpa_and_migration_job() -> None:
    found = documents()
    labels = found["Deployment"]["spec"]["template"]["metadata"]["labels"]
    selector = found["Service"]["spec"]["selector"]
    assert selector.items() <= labels.items()
    hpa = found["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"]["name"] == found["Deployment"]["metadata"]["name"]
    assert hpa["minReplicas"] >= 2
    job = found["Job"]["spec"]["template"]["spec"]
    pod_is_locked_down(job)
    [container] = job["containers"]
    assert container["command"] == ["cds-service", "migrate"]
    assert secret_keys(container) == {"AZA_DATABASE_URL": "database-url"}
