"""Health rules, table-tested over YAML fixtures of each state (no server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agent.kube.health import HealthStatus, assess

FIXTURES = Path(__file__).parent / "fixtures" / "health"

# fixture -> (state, words the operator's sentence must contain)
TABLE = {
    "deployment-healthy": (HealthStatus.healthy, "2 of 2 replicas available"),
    "deployment-progressing-generation": (HealthStatus.progressing, "not seen the new spec"),
    "deployment-progressing-available": (HealthStatus.progressing,
                                         "1 of 2 updated replicas are available"),
    "deployment-progressing-old": (HealthStatus.progressing, "1 old replicas are pending"),
    "deployment-degraded": (HealthStatus.degraded, "exceeded its progress deadline"),
    "deployment-suspended": (HealthStatus.suspended, "paused"),
    "statefulset-healthy": (HealthStatus.healthy, "3 of 3 pods ready"),
    "statefulset-progressing": (HealthStatus.progressing, "1 of 3 pods updated"),
    "daemonset-healthy": (HealthStatus.healthy, "2 of 2 pods available"),
    "daemonset-progressing": (HealthStatus.progressing, "1 of 2 updated pods are available"),
    "replicaset-healthy": (HealthStatus.healthy, "2 of 2"),
    "replicaset-degraded": (HealthStatus.degraded, "exceeded quota"),
    "pod-healthy": (HealthStatus.healthy, "running and ready"),
    "pod-progressing-unscheduled": (HealthStatus.progressing, "didn't match"),
    "pod-degraded-imagepull": (HealthStatus.degraded, "ImagePullBackOff"),
    "pod-degraded-failed": (HealthStatus.degraded, "low on resource"),
    "job-healthy": (HealthStatus.healthy, "completed"),
    "job-degraded": (HealthStatus.degraded, "backoff limit"),
    "job-progressing": (HealthStatus.progressing, "1 active"),
    "job-suspended": (HealthStatus.suspended, "suspended"),
    "pvc-healthy": (HealthStatus.healthy, "bound"),
    "pvc-progressing": (HealthStatus.progressing, "Waiting"),
    "pvc-degraded": (HealthStatus.degraded, "lost"),
    "service-healthy-clusterip": (HealthStatus.healthy, ""),
    "service-progressing-lb": (HealthStatus.progressing, "ingress"),
    "service-healthy-lb": (HealthStatus.healthy, "ingress"),
    "crd-healthy": (HealthStatus.healthy, "established"),
    "crd-progressing": (HealthStatus.progressing, "established"),
    "crd-degraded": (HealthStatus.degraded, "already in use"),
    "custom-healthy-ready": (HealthStatus.healthy, "all parts in place"),
    "custom-healthy-available": (HealthStatus.healthy, "Available"),
    "custom-progressing-ready-false": (HealthStatus.progressing, "waiting for parts"),
    "custom-degraded-stalled": (HealthStatus.degraded, "size must be positive"),
    "custom-healthy-nostatus": (HealthStatus.healthy, ""),
    "configmap-healthy": (HealthStatus.healthy, ""),
}


def test_every_fixture_is_in_the_table() -> None:
    assert sorted(p.stem for p in FIXTURES.glob("*.yaml")) == sorted(TABLE)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_rule(name: str) -> None:
    obj = yaml.safe_load((FIXTURES / f"{name}.yaml").read_text())
    want, words = TABLE[name]
    got = assess(obj)
    assert got.status is want, got
    assert words in got.message


def test_missing_object() -> None:
    assert assess(None).status is HealthStatus.missing


def test_a_rule_reads_any_api_version_of_its_group() -> None:
    obj = yaml.safe_load((FIXTURES / "deployment-degraded.yaml").read_text())
    obj["apiVersion"] = "apps/v1beta2"
    assert assess(obj).status is HealthStatus.degraded


def test_unreadable_status_is_unknown() -> None:
    obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"generation": 1},
           "spec": {"replicas": "many"}, "status": {"observedGeneration": 1}}
    assert assess(obj).status is HealthStatus.unknown
