"""The images localsvc runs, found or built on the local Docker engine without a registry.

One import for the callers; each concept lives in its own module:

- `base_image`: Debian bookworm + Python 3.11, pulled or built with debootstrap;
- `node_image` (+ `wheels`): the content-addressed ``localsvc/node`` image;
- `image_build`: `build_image` (BuildKit through the engine API, or the legacy builder),
  .dockerignore-aware contexts and content hashes, `build_if_changed`;
- `buildkit` / `buildkit_status`: BuildKit's request and progress stream.

Environment: ``LOCALSVC_NODE_IMAGE`` (use this node image instead), ``LOCALSVC_OFFLINE=1``
(never try a pull), ``LOCALSVC_DEBIAN_MIRROR`` (debootstrap mirror), ``LOCALSVC_BUILDER=legacy``
(never use BuildKit).
"""

from __future__ import annotations

from localsvc.runtime.base_image import (
    BASE_REPOSITORY,
    DEFAULT_MIRROR,
    PYTHON_IMAGE,
    BaseSpec,
    ensure_base_image,
)
from localsvc.runtime.image_build import (
    CONTENT_LABEL,
    build_if_changed,
    build_image,
    build_key,
    context_hash,
    ensure_context_image,
)
from localsvc.runtime.image_common import BUILD_LOG_TAIL, NODE_LABEL, Progress
from localsvc.runtime.node_image import (
    EXTRA_REQUIREMENTS,
    NODE_REPOSITORY,
    PACKAGE_NAME,
    compute_node_tag,
    dockerfile_path,
    ensure_node_image,
    node_image_tag,
    node_requirements,
    package_dir,
    package_files,
    parse_requirements,
    pyproject_requires,
)
from localsvc.runtime.wheels import (
    download_wheels,
    pip_download_args,
    wheel_cache_dir,
    wheel_platforms,
)

__all__ = [
    "BASE_REPOSITORY", "BUILD_LOG_TAIL", "CONTENT_LABEL", "DEFAULT_MIRROR", "EXTRA_REQUIREMENTS",
    "NODE_LABEL", "NODE_REPOSITORY", "PACKAGE_NAME", "PYTHON_IMAGE", "BaseSpec", "Progress",
    "build_if_changed", "build_image", "build_key", "compute_node_tag", "context_hash",
    "dockerfile_path", "download_wheels", "ensure_base_image", "ensure_context_image",
    "ensure_node_image", "node_image_tag", "node_requirements", "package_dir", "package_files",
    "parse_requirements", "pip_download_args", "pyproject_requires", "wheel_cache_dir",
    "wheel_platforms",
]
