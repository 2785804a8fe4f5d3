"""Pinned versions of everything the environment builds; one place to bump them."""

from __future__ import annotations

KUBERNETES = "v1.33.13"  # k8s.io/kubernetes; staging modules pinned to v0.33.13 in k8s/go.mod
KWOK = "v0.7.0"  # sigs.k8s.io/kwok

# Commands built from k8s/go.mod, in build order (the apiserver first: everyone waits on it).
KUBE_COMMANDS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
