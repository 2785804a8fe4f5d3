from tests.kube.kubefixtures import kube, kubeconfig, mgr, namespaces, node

__all__ = ["kube", "kubeconfig", "mgr", "namespaces", "node"]
