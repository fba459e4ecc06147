"""The Kubernetes API's rules, pure: what a real API server answers, without the serving.

The node's API (localsvc/node/kubeapi/) serves these: the resources and their discovery
documents, the OpenAPI documents, patches (JSON, merge, strategic merge) and server-side apply,
Tables for kubectl, field selectors, and the metav1.Status errors. Nothing here does I/O.
"""
