"""The integration fixtures that build the node and demo images, shared with tests/engine/."""

from tests.integration.conftest import demo_image, docker_client, node_image

__all__ = ["demo_image", "docker_client", "node_image"]
