"""Issue 10, case 7: the node is restarted and then replaced while its owner holds the reaper
lease; the owner is alive, so the environment must not be reaped."""

from __future__ import annotations

import json
import time
from pathlib import Path

from localsvc.host.api import Environment
from localsvc.node.reaper import GRACE
from localsvc.runtime import environment as envrt
from tests.faults import watch
from tests.faults.conftest import BASE, WATCHER, Cluster, unique_env, wait_for
from tests.integration.conftest import labelled


def test_case07_lease_survives_node_restart_and_replacement(
        node_image: str, demo_image: str, tmp_path: Path) -> None:
    (tmp_path / "backend.yaml").write_text(BASE.format(demo=demo_image))
    (tmp_path / "watcher.yaml").write_text(
        WATCHER.format(node=node_image, script=json.dumps(watch.WATCHER_SCRIPT)))
    # reap=True: this process owns the environment through a lease, as the pytest plugin does.
    env = Environment(unique_env("l"), node_image=node_image, reap=True)
    try:
        env.up([tmp_path / "backend.yaml"], wait=120)
        env.apply([tmp_path / "watcher.yaml"], wait=60)
        cluster = Cluster(env, tmp_path, node_image)
        wait_for(lambda: any(ok for _, ok in cluster.samples()), timeout=30, what="the watcher")
        lease = env._lease
        assert lease is not None and lease.connected.is_set()
        before, since = cluster.keys(), time.time()

        cluster.restart_node()  # `docker restart`: same token, maybe another host port
        wait_for(lambda: lease.reconnects >= 1, timeout=10, what="the lease to be taken again")

        # Replacement: the node container removed and created again, with a new token and port.
        began = time.time()
        env.docker.containers.get(envrt.node_name(env.name)).remove(force=True)
        Environment(env.name, node_image=node_image).ensure()
        cluster.restarts.append((began, time.time()))
        env._node = None
        wait_for(lambda: lease.reconnects >= 2, timeout=10, what="the lease on the new node")

        time.sleep(GRACE + 3)  # the owner is alive: nothing may be reaped
        assert env.docker.containers.get(envrt.node_name(env.name)).status == "running"
        assert labelled(env.docker, env.name)["networks"] == 1
        reapers = env.docker.api.containers(
            all=True, filters={"label": [f"io.localsvc.reaper-of={env.name}"]})
        assert not reapers
        cluster.assert_answered_throughout(since)
        cluster.assert_objects_kept(before)
    finally:
        env.down()
