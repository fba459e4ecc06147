"""The project file `localsvc.yaml`: one import for everything about it.

The work is split by concept: projectmodel.py (the validated `Project`, its images and sync rules,
default environment names), projectfile.py (reading and checking the file), projectfind.py (which
file a command honours, which environment it targets). Callers import from here.
"""

from __future__ import annotations

from localsvc.model.projectfile import (
    IMAGE_KEYS,
    SYNC_KEYS,
    TOP_KEYS,
    image_reference_error,
    load_project,
)
from localsvc.model.projectfind import (
    ENV_VARIABLE,
    PROJECT_FILE,
    find_project,
    search_directories,
    target_environment,
)
from localsvc.model.projectmodel import (
    ENV_NAME_MAX,
    ImageBuild,
    Project,
    SyncRule,
    default_environment_name,
    normal_path,
)

__all__ = [
    "ENV_NAME_MAX",
    "ENV_VARIABLE",
    "IMAGE_KEYS",
    "PROJECT_FILE",
    "SYNC_KEYS",
    "TOP_KEYS",
    "ImageBuild",
    "Project",
    "SyncRule",
    "default_environment_name",
    "find_project",
    "image_reference_error",
    "load_project",
    "normal_path",
    "search_directories",
    "target_environment",
]
