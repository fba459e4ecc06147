"""The Kubernetes API the node serves, over its object store (see docs/architecture.md).

`app.py` routes requests; `reads.py` answers get and list, `watch.py` streams watches,
`writes.py` turns create, update, patch and delete into the controller's changes. The rules
(paths, discovery, OpenAPI, patches, server-side apply, Tables, selectors, Status errors) are
pure, in localsvc/model/kubeapi/.
"""
