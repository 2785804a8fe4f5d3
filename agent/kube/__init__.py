"""The kube stage."""
