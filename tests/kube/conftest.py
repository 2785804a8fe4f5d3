from tests.kube.kubefixtures import kube, kubeconfig, mgr, namespaces, node, setup

__all__ = ["kube", "kubeconfig", "mgr", "namespaces", "node", "setup"]
