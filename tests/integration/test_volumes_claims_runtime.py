"""A persistentVolumeClaim volume through the runtime, against the real engine (issue 14): the
pod's containers mount the claim's Docker volume (runtime/claims.py), the one its binding made
(the binder alone makes it: ensure_claim_volume here), with a subPath created inside it;
removing the pod and its own volumes keeps the claim's data, which the next pod finds. (Through the node this needs the PersistentVolumeClaim kind, which the storage
part adds; the pod's waiting for a missing claim is tested in test_volumes_config.py.)"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from localsvc.model.podplan import ContainerPlan, MountPlan, PodPlan, VolumePlan
from localsvc.runtime import labels as L
from localsvc.runtime import pods as rt
from localsvc.runtime.claims import claim_volume_name, ensure_claim_volume

sys.path.insert(0, str(Path(__file__).parent))
from conftest import DEMO_IMAGE, unique_env  # noqa: E402


@pytest.fixture
def pod_network(docker_client: docker.DockerClient) -> Iterator[tuple[str, str]]:
    """(env, network) of a bare environment: a labelled network, nothing else; removed after
    with every container and volume of the env."""
    env = unique_env("v")
    network = docker_client.networks.create(f"localsvc-{env}", labels=L.base(env, L.ROLE_NETWORK))
    try:
        yield env, network.name
    finally:
        for container in docker_client.containers.list(all=True, filters=L.env_filter(env)):
            container.remove(force=True)
        for volume in docker_client.volumes.list(filters=L.env_filter(env)):
            volume.remove(force=True)
        network.remove()


def _plan(env: str, name: str, script: str, read_only: bool = False) -> PodPlan:
    container = ContainerPlan(
        name="app", image=DEMO_IMAGE, pull_policy="IfNotPresent", command=["sh", "-c", script],
        args=None, working_dir=None, env={}, nano_cpus=None, mem_limit=None, ports=[],
        init=False, tty=False, stdin=False,
        mounts=[MountPlan("data", "/var/lib/data", read_only),
                MountPlan("data", "/logs", False, "logs/web-0")])
    return PodPlan(namespace="default", name=name, hostname=name, domain=None,
                   restart_policy="Never", grace_seconds=0, init_containers=[],
                   volumes=[VolumePlan("data", "persistentVolumeClaim", claim="db",
                                       volume=claim_volume_name(env, "default", "db"),
                                       read_only=read_only)],
                   containers=[container])


def _run(client: docker.DockerClient, ref: rt.PodRef, plan: PodPlan, image: str) -> str:
    rt.create_volumes(client, ref, plan)
    infra, _ = rt.create_infra(client, ref, plan, image)
    container = rt.create_container(client, ref, plan.containers[0], infra.id, 0, 0, plan)
    container.start()
    result = container.wait(timeout=30)
    output = container.logs().decode()
    assert result["StatusCode"] == 0, output
    return output


def test_claim_volume_is_mounted_and_outlives_the_pod(docker_client: docker.DockerClient,
                                                      node_image: str, demo_image: str,
                                                      pod_network: tuple[str, str]) -> None:
    env, network = pod_network
    first = rt.PodRef(env, "default", "db-0", uuid.uuid4().hex, network)
    ensure_claim_volume(docker_client, env, "default", "db")  # the claim's binding made it
    _run(docker_client, first,
         _plan(env, "db-0", "echo row > /var/lib/data/table; echo l > /logs/a"), node_image)
    volume = docker_client.volumes.get(claim_volume_name(env, "default", "db"))
    assert volume.attrs["Labels"][L.ROLE] == L.ROLE_CLAIM_VOLUME
    assert volume.attrs["Labels"][L.CLAIM] == "db"
    # The pod goes, with its own volumes: the claim's stays.
    rt.remove_containers(rt.find_pod_containers(docker_client, env, first.uid), 0)
    rt.remove_volumes(docker_client, env, first.uid)
    second = rt.PodRef(env, "default", "db-0", uuid.uuid4().hex, network)
    out = _run(docker_client, second, _plan(
        env, "db-0", "cat /var/lib/data/table /var/lib/data/logs/web-0/a; "
                "touch /var/lib/data/x 2>&1 || echo refused", read_only=True), node_image)
    assert out.startswith("row\nl\n")
    assert "Read-only file system" in out and "refused" in out
