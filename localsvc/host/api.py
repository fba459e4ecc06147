"""The Python API of localsvc: one Environment object, used by the CLI and by tests.

Loads and validates manifests on the host (so that nothing changes when they are bad), makes sure
the environment's Docker objects and node exist, reads, deletes and scales objects through the
environment's Kubernetes API (kubeobjects.py), and applies sets of manifests through the node's
/v1/apply. Logs and exec go straight to the Docker engine, which the host can always reach.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit
from typing import Any

import docker

from localsvc.host import containers, hostpaths, kubeobjects
from localsvc.host.client import NodeClient
from localsvc.host.kubepaths import resolve_kind
from localsvc.errors import EnvironmentNotFound, LocalsvcError, ManifestError, NotFound
from localsvc.host.hostports import (
    check_ingress_ports,
    check_node_port_range,
    host_port_conflicts,
    host_url as host_url,  # re-exported: the status table and older callers import it from here
    ignored_external_ips,
)
from localsvc.host.manifests import (
    ApplyReport as ApplyReport,  # re-exported
    load_manifests as load_manifests,  # re-exported
    skipped_lines,
)
from localsvc.model.applywire import encode_apply
from localsvc.model.load import LoadResult
from localsvc.model.names import sanitize_name
from localsvc.model.network import plan_for
from localsvc.model.objects import NAMESPACED
from localsvc.model.validate import undeclared_namespaces
from localsvc.host.podstatus import pod_reason as pod_reason  # re-exported (Python API)
from localsvc.runtime import environment as envrt
from localsvc.runtime.claims import Removed
from localsvc.runtime.engine import connect
from localsvc.runtime.nodeaddress import NodeAddress

Obj = dict[str, Any]
Progress = Callable[[str], None]


def default_env_name() -> str:
    """The environment the CLI would target here: `LOCALSVC_ENV`, else localsvc.yaml's
    `environment:` (or its directory's default name), else the current directory's default name."""
    from localsvc.model.project import target_environment

    return target_environment(None, Path.cwd())


class Environment:
    """One named environment on one Docker engine (like a compose project)."""

    def __init__(
        self,
        name: str | None = None,
        *,
        subnet: str | None = None,
        cluster_domain: str = "cluster.local",
        node_image: str | None = None,
        proxy_mode: str = "auto",
        host_address: str = "127.0.0.1",
        node_port_range: str = "30000-32767",
        host_dns_port: int | None = None,
        progress: Progress | None = None,
        reap: bool = False,
        ingress_ports: tuple[int | None, int | None] = (None, None),
    ):
        self.reap = reap
        self._lease: Any = None
        self._node: NodeClient | None = None
        self.host_address = host_address
        self.host_dns_port = host_dns_port
        self._forwards: dict[tuple[str, str, int], Any] = {}
        self.node_port_range = check_node_port_range(node_port_range)
        # Checked when a node is created (ingress_host_ports): a bad LOCALSVC_INGRESS_* must
        # not break commands that never create one (ls, get, down).
        self.ingress_ports = ingress_ports  # None: LOCALSVC_INGRESS_*, 80/443
        if ingress_ports != (None, None):  # the caller's own are refused at once (the
            check_ingress_ports(ingress_ports, environ={})  # variables: when a node is made)
        if proxy_mode not in ("auto", "nftables", "userspace"):
            raise LocalsvcError(f"proxy mode must be auto, nftables or userspace (got {proxy_mode!r})")
        self.proxy_mode = proxy_mode
        self.name = sanitize_name(name, max_len=30) if name else default_env_name()
        self.subnet = subnet
        self.cluster_domain = cluster_domain
        self.node_image = node_image
        self.progress: Progress = progress or (lambda message: None)
        self._docker: docker.DockerClient | None = None

    def ingress_host_ports(self) -> tuple[int, int]:
        """The ingress controller's host ports for a new node: the given ones, else
        LOCALSVC_INGRESS_HTTP_PORT / _HTTPS_PORT, else 80 and 443; LocalsvcError when bad."""
        return check_ingress_ports(self.ingress_ports)

    # ---- plumbing -----------------------------------------------------------------------------

    @property
    def docker(self) -> docker.DockerClient:
        if self._docker is None:
            self._docker = connect()
        return self._docker

    def info(self) -> envrt.EnvInfo:
        info = envrt.find(self.docker, self.name)
        if info is None:
            raise EnvironmentNotFound(
                f'environment "{self.name}" does not exist; start it with `localsvc up -f ...`'
                " (or choose another with --env / LOCALSVC_ENV; `localsvc ls` lists them)"
            )
        return info

    def exists(self) -> bool:
        return envrt.find(self.docker, self.name) is not None

    def node(self) -> NodeClient:
        """The node's API client, kept (Docker is asked again when the node stops answering)."""
        if self._node is None:
            self._node = NodeClient(self._node_address(), refresh=self._node_address)
        return self._node

    def _node_address(self) -> NodeAddress:
        info = self.info()
        if info.node_status != "running" or not info.api_url:
            raise EnvironmentNotFound(
                f'the node of environment "{self.name}" is {info.node_status}; '
                "run `localsvc up` again to restart it, or `localsvc down` to remove it"
            )
        return envrt.with_ca(self.docker, info).address

    def ensure(self) -> envrt.EnvInfo:
        info = self._ensure(keep=not self.reap)
        if info.api_url:
            self._node = NodeClient(info.address, refresh=self._node_address)
        if self.reap and self._lease is None and info.api_url:
            from localsvc.host.lease import LeaseHolder

            self._lease = LeaseHolder(info.address, refresh=self._node_address)
        return info

    def _ensure(self, keep: bool = True) -> envrt.EnvInfo:
        """Create the network, state volume and node when missing; start a stopped node; replace
        a node that runs another image (an upgraded localsvc): it adopts the running pods."""
        from localsvc.runtime.images import ensure_node_image

        if self.node_image is None:
            # Pinned for this object's lifetime: a long `up` session keeps its node.
            self.node_image = ensure_node_image(self.docker, self.progress)
        image = self.node_image
        info = envrt.find(self.docker, self.name)
        token, api_port = None, None
        if info is not None and info.node_status != "missing":
            node = self.docker.containers.get(envrt.node_name(self.name))
            if node.attrs["Config"]["Image"] == image:
                if node.status != "running":
                    self.progress(f"starting the node of {self.name}")
                    node.start()
                return envrt.wait_healthy(self.docker, self.name)
            self.progress(f"replacing the node of {self.name} (new image {image}); pods keep running")
            # Kept: the kubeconfigs written for the environment stay valid.
            token, api_port = info.token, urlsplit(info.api_url or "").port
            node.remove(force=True)
            info = envrt.find(self.docker, self.name)
        if info is None:
            plan = envrt.create_network(self.docker, self.name, self.subnet)
        else:
            plan = plan_for(info.subnet)
        self.progress(f"environment {self.name}: network {plan.subnet}, starting node")
        envrt.create_node(self.docker, self.name, plan, image, self.cluster_domain, keep,
                          self.proxy_mode, self.host_address, self.node_port_range,
                          self.host_dns_port, token, api_port, self.ingress_host_ports())
        return envrt.wait_healthy(self.docker, self.name)

    # ---- lifecycle ----------------------------------------------------------------------------

    def up(self, paths: Sequence[str | Path], wait: float | None = 120.0,
           strict: bool = False, loaded: LoadResult | None = None) -> ApplyReport:
        """Make the environment hold exactly these manifests; optionally wait until Ready.
        `strict`: also report the fields that localsvc accepts but ignores. `loaded`: the
        manifests of `paths` already loaded (standard input, `-`, can be read only once)."""
        return self._apply(paths, prune=True, wait=wait, strict=strict, loaded=loaded)

    def apply(self, paths: Sequence[str | Path], wait: float | None = None,
              strict: bool = False, loaded: LoadResult | None = None) -> ApplyReport:
        return self._apply(paths, prune=False, wait=wait, strict=strict, loaded=loaded)

    def _apply(self, paths: Sequence[str | Path], prune: bool, wait: float | None,
               strict: bool = False, loaded: LoadResult | None = None) -> ApplyReport:
        if loaded is None:
            loaded = load_manifests(paths)  # before touching anything
        report = ApplyReport([], skipped_lines(loaded), hostpaths.checked(loaded.manifests))
        if strict:
            from localsvc.model.ignored import strict_report

            report.warnings += strict_report(loaded.manifests)
        self.ensure()
        node = self.node()  # the client ensure() just made: no further Docker lookup
        undeclared = undeclared_namespaces(loaded.manifests)
        # Listed only when needed: a request saved on the way to the first pod.
        existing = {o["metadata"]["name"] for o in kubeobjects.list_objects(node, "Namespace")
                    } if undeclared else set()
        for namespace in undeclared:
            if namespace not in existing:
                report.warnings.append(
                    f'namespace "{namespace}" is used but not declared; localsvc creates it, '
                    "a cluster would reject these objects (add a Namespace manifest)"
                )
        report.warnings += ignored_external_ips(loaded.manifests, self.host_address)
        problems = host_port_conflicts(loaded.manifests, node, self.host_address)
        if problems:
            raise ManifestError(problems)
        # All or nothing, and for `up` a prune: /v1/apply, as Kubernetes has no verb for it.
        body = encode_apply(loaded.manifests, prune=prune)
        report.results = node.post("/v1/apply", body)["results"]
        if wait:
            self.wait_ready(wait)
        return report

    def delete(self, paths: Sequence[str | Path]) -> list[Obj]:
        """Delete these manifests' objects in order; a missing one is a "not found" result."""
        loaded = load_manifests(paths)
        node = self.node()
        return [kubeobjects.delete_object(node, m.kind, m.key.namespace, m.name)
                for m in loaded.manifests]

    def delete_objects(self, kind: str, names: Sequence[str], namespace: str = "default") -> list[Obj]:
        resolved = resolve_kind(kind)
        node = self.node()
        return [kubeobjects.delete_object(node, resolved, namespace, name) for name in names]

    def stop(self, timeout: float = 60.0) -> bool:
        """Delete every object so that pods get their grace period, then remove everything.
        Returns whether all pods ended within `timeout` (else they were killed)."""
        clean = self.drain(timeout)
        self.down()
        return clean

    def drain(self, timeout: float = 60.0) -> bool:
        """Delete every object so that pods get their grace period (stop's first half);
        whether all pods ended within `timeout`."""
        try:
            node = self.node()
            node.post("/v1/apply", encode_apply([], prune=True))
            deadline = time.monotonic() + timeout
            while self.get("pods", namespace=None):
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.2)
        except LocalsvcError:
            return False
        return True

    def restart_image(self, image: str) -> list[Obj]:
        """Roll the Deployments and DaemonSets and re-create the Pods that run `image` (after
        a rebuild)."""
        return list(self.node().post("/v1/restart", {"image": image})["results"])

    def kubeconfig(self) -> dict[str, Any]:
        """A kubeconfig for kubectl and client libraries: all named `localsvc-<env>`."""
        from localsvc.model.kubeconfig import kubeconfig_for

        address = self._node_address()
        return kubeconfig_for(self.name, address.url, address.ca_pem, address.token)

    def down(self, volumes: bool = False) -> Removed:
        """Remove every container, network and volume of the environment (its claims' data
        only with `volumes`, as compose's `down -v`), and its kubeconfig context; what went
        (.counts) and the claims' volumes kept (.kept)."""
        from localsvc.host.kubeconfig import remove_context
        from localsvc.model.kubeconfig import context_name

        for forward in self._forwards.values():
            forward.close()
        self._forwards.clear()
        removed = envrt.destroy(self.docker, self.name, volumes=volumes)
        remove_context(context_name(self.name))
        self._node = None
        if self._lease is not None:
            self._lease.close()
            self._lease = None
        return removed

    # ---- reaching Services from the host ----------------------------------------------------

    def forward_target(self, target: str, port: str, namespace: str = "default") -> Any:
        """`svc/NAME` or `pod/NAME` (or NAME) and a port number or name -> where to connect."""
        from localsvc.host.portforward import ForwardTarget

        kind, _, name = target.rpartition("/")
        if kind in ("svc", "service", "services"):
            return ForwardTarget.of_service(self.get("svc", name, namespace)[0], port)
        if kind in ("", "pod", "pods", "po"):
            return ForwardTarget.of_pod(self.pod(name, namespace), port)
        raise LocalsvcError(f"port-forward takes svc/NAME or pod/NAME (got {target})")

    def service_url(self, name: str, port: int | str | None = None, namespace: str = "default",
                    scheme: str = "http") -> str:
        """A URL on the host that reaches the Service: its LoadBalancer or NodePort address, or,
        for a ClusterIP Service, a port-forward that lives as long as this object (or down())."""
        svc = self.get("svc", name, namespace)[0]
        ports = svc["spec"].get("ports") or []
        chosen = ports[0] if port is None and ports else next(
            (p for p in ports if str(p["port"]) == str(port) or p.get("name") == port), None)
        if chosen is None:
            raise LocalsvcError(f"service {name} has no port {port}")
        url = host_url(svc, chosen, self.host_address, scheme)
        if url is not None:
            return url
        key = (namespace, name, int(chosen["port"]))
        if key not in self._forwards:
            from localsvc.host.portforward import BackgroundPortForward

            target = self.forward_target(f"svc/{name}", str(chosen["port"]), namespace)
            node = self.node()  # already located: no second Docker lookup
            self._forwards[key] = BackgroundPortForward(node.address, target)
        return f"{scheme}://127.0.0.1:{self._forwards[key].port}"

    def dns(self, name: str, qtype: str = "A") -> Obj:
        """Ask the environment's DNS server, as a pod would."""
        from urllib.parse import urlencode

        return dict(self.node().get("/v1/dns?" + urlencode({"name": name, "type": qtype})))

    def __enter__(self) -> Environment:
        return self

    def __exit__(self, *exc: object) -> None:  # the block owned it: its claims' data goes too
        self.down(volumes=True)

    # ---- reading ------------------------------------------------------------------------------

    def get(self, kind: str, name: str | None = None, namespace: str | None = "default",
            selector: str | None = None) -> list[Obj]:
        """Objects, read from the environment's Kubernetes API, each with its kind and
        apiVersion, ordered by namespace and name; namespace None means all namespaces (with a
        name: that name in any of them); `selector`: a label selector, as `-l` takes it."""
        resolved = resolve_kind(kind)
        if name is not None and (namespace is not None or resolved not in NAMESPACED):
            return [kubeobjects.get_object(self.node(), resolved, namespace, name)]
        fields = None if name is None else f"metadata.name={name}"
        found = kubeobjects.list_objects(self.node(), resolved, namespace, selector, fields)
        if name is not None and not found:
            raise NotFound(f'{resolved.lower()} "{name}" not found in any namespace')
        return found

    def pod(self, name: str, namespace: str = "default") -> Obj:  # or pod/NAME (get -o name)
        return self.get("pods", name.removeprefix("pod/").removeprefix("pods/"), namespace)[0]

    def scale(self, name: str | None = None, replicas: int | None = None,
              namespace: str = "default", kind: str = "Deployment", *,
              deployment: str | None = None) -> Obj:
        """Set the replicas of the Deployment (kind="StatefulSet": of that StatefulSet)
        `name`; `deployment=` is the name's former keyword, still accepted."""
        name = name if name is not None else deployment
        if name is None or replicas is None:
            raise TypeError("scale() needs the workload's name and replicas")
        if replicas < 0:
            raise LocalsvcError("--replicas must be 0 or more")
        return kubeobjects.scale_workload(self.node(), namespace, name, replicas, kind)

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Wait until every pod is Running and Ready (or Succeeded), every Deployment and
        StatefulSet has its replicas and every Job completed (host/waiting.py); raise Timeout
        naming what is not, or LocalsvcError with its pods' logs when a Job failed."""
        from localsvc.host.waiting import wait_ready

        wait_ready(self, timeout)

    # ---- containers ---------------------------------------------------------------------------

    def container_id(self, pod: str, container: str | None = None, namespace: str = "default",
                     previous: bool = False) -> str:
        return containers.container_id(self.pod(pod, namespace), container, previous, self.progress)

    def logs(self, pod: str, container: str | None = None, namespace: str = "default", *,
             follow: bool = False, previous: bool = False, tail: int | None = None) -> Iterator[bytes]:
        cid = self.container_id(pod, container, namespace, previous)
        return containers.log_chunks(self.docker, cid, pod, follow=follow, tail=tail)

    def exec(self, pod: str, command: Sequence[str], container: str | None = None,
             namespace: str = "default", *, interactive: bool = False, tty: bool = False) -> int:
        """Run a command in a pod's container; returns its exit code."""
        cid = self.container_id(pod, container, namespace)
        return containers.exec_in(self.docker, cid, command, interactive=interactive, tty=tty)
