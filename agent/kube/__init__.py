"""The plan/apply/verify stages against the Kubernetes API, one verb per module.

    manager    ResourceManager: client, discovery, ownership labels, `prepare(bundle)`
    apply      apply_bundle: dry-run validation of everything, then SSA writes in order
    delete     prune: remove what left the bundle (owned, not protected), reverse order
    wait       wait_healthy: poll one LIST per kind through the health rules
    diff       diff_bundle: server-side dry run as a unified diff per object
    inventory  the inventory ConfigMap in the cluster
    changeset  ChangeSetEntry / ChangeSet: what happened to each object
"""

from agent.kube.changeset import Action, ChangeSet, ChangeSetEntry
from agent.kube.client import ApiError, KubeClient, UnreachableError
from agent.kube.kubeconfig import load_connection
from agent.kube.manager import OWNER_LABEL, PRUNE_ANNOTATION, Desired, ResourceManager

__all__ = ["OWNER_LABEL", "PRUNE_ANNOTATION", "Action", "ApiError", "ChangeSet",
           "ChangeSetEntry", "Desired", "KubeClient", "ResourceManager", "UnreachableError",
           "load_connection"]
