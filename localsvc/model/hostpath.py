"""hostPath volumes: the kubelet's type checks (pkg/volume/hostpath, v1.32) as pure decisions.

The path is on the Docker engine's host, which the node (itself a container) cannot see: the
runtime observes it through the engine (runtime/podvolumes.py: the file mode Docker reports for
the path bound into the pod's infra container) and this module decides what that means: mount
it, create it (DirectoryOrCreate, FileOrCreate), or fail the pod with the kubelet's words plus
the fix. The CLI asks the same questions of its own filesystem before sending a manifest when
the engine is local (host/hostpaths.py), so a missing source directory is a validation error.
"""

from __future__ import annotations

from dataclasses import dataclass

# Kinds of path, as observed.
MISSING, DIRECTORY, FILE, SOCKET, CHAR_DEVICE, BLOCK_DEVICE, OTHER = (
    "missing", "directory", "file", "socket", "character device", "block device", "other")

# Go's os.FileMode type bits, which Docker's path stat (X-Docker-Container-Path-Stat) carries.
_GO_DIR = 1 << 31
_GO_SYMLINK = 1 << 27
_GO_DEVICE = 1 << 26
_GO_NAMED_PIPE = 1 << 25
_GO_SOCKET = 1 << 24
_GO_CHAR_DEVICE = 1 << 21
_GO_IRREGULAR = 1 << 19
_GO_TYPE_BITS = (_GO_DIR | _GO_SYMLINK | _GO_DEVICE | _GO_NAMED_PIPE | _GO_SOCKET
                 | _GO_CHAR_DEVICE | _GO_IRREGULAR)

# What each type requires of an existing path, and the kubelet's words when it is not that.
_REQUIRED = {
    "DirectoryOrCreate": (DIRECTORY, "is not a directory"),
    "Directory": (DIRECTORY, "is not a directory"),
    "FileOrCreate": (FILE, "is not a file"),
    "File": (FILE, "is not a file"),
    "Socket": (SOCKET, "is not a socket file"),
    "CharDevice": (CHAR_DEVICE, "is not a character device"),
    "BlockDevice": (BLOCK_DEVICE, "is not a block device"),
}
# The hostPath types, in the API's order ("": no check).
HOST_PATH_TYPES = ("", *_REQUIRED)
REMOTE_ENGINE = ("a remote engine (DOCKER_HOST=tcp://... or ssh://...) sees its own files, not "
                 "this machine's")
REMOTE_NOTE = f"the path is looked up on the Docker engine's host: {REMOTE_ENGINE}"


def kind_of_go_mode(mode: int) -> str:
    """The kind of path a Go os.FileMode (Docker's path stat) describes."""
    if mode & _GO_DIR:
        return DIRECTORY
    if mode & _GO_SOCKET:
        return SOCKET
    if mode & _GO_DEVICE:
        return CHAR_DEVICE if mode & _GO_CHAR_DEVICE else BLOCK_DEVICE
    if mode & _GO_TYPE_BITS:
        return OTHER
    return FILE


def creates_directory(path_type: str) -> bool:
    """Whether a missing path becomes a directory: type "" (no check; containerd and Docker's
    Binds create it) and DirectoryOrCreate. Other types are bound so that Docker refuses a
    missing source instead of making a directory of it."""
    return path_type in ("", "DirectoryOrCreate")


@dataclass(frozen=True)
class Decision:
    create_file: bool = False  # FileOrCreate of a missing path: an empty 0644 file
    error: str = ""  # the kubelet's message (the pod cannot start)


def decide(path_type: str, path: str, kind: str, parent_is_directory: bool = True) -> Decision:
    """What the kubelet does with hostPath `path` of `path_type`, observed as `kind`."""
    if path_type == "":
        return Decision()
    if kind == MISSING:
        if path_type == "DirectoryOrCreate":
            return Decision()  # made (0755, with its parents) when bound
        if path_type == "FileOrCreate":
            if not parent_is_directory:  # the kubelet opens it with O_CREATE: no parents made
                return Decision(error=f"open {path}: no such file or directory")
            return Decision(create_file=True)
    required, words = _REQUIRED[path_type]
    if kind != required:
        return Decision(error=f"hostPath type check failed: {path} {words}")
    return Decision()


def fix_for(path_type: str, kind: str) -> str:
    """How the user makes the check pass."""
    if kind == MISSING:
        if path_type == "Directory":
            return "create the directory, or use type DirectoryOrCreate"
        if path_type == "File":
            return "create the file, or use type FileOrCreate"
        if path_type == "FileOrCreate":
            return "create its parent directory"
        return "create it, or fix the path"
    return f"it is a {kind}: fix the path or the type"


def failure(volume: str, path_type: str, path: str, kind: str, error: str) -> str:
    """The message on the pod: the kubelet's error, the volume, the fix, where it is looked up."""
    return (f'MountVolume.SetUp failed for volume "{volume}" : {error} (hostPath {path}, type '
            f"{path_type}; {fix_for(path_type, kind)}; {REMOTE_NOTE})")



# Where each kind that runs pods keeps its pod spec (the workload kinds other parts add too).
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


def host_path_volumes(kind: str, obj: dict[str, object]) -> list[tuple[str, str, str]]:
    """(field path, path, type) of every hostPath volume of a manifest of `kind` (what the CLI
    checks before sending when the engine is local, and warns of when it is remote)."""
    spec: object = obj
    for key in POD_SPEC_PATHS.get(kind, ()):
        spec = spec.get(key) if isinstance(spec, dict) else None
    volumes = spec.get("volumes") if isinstance(spec, dict) else None
    out = []
    prefix = ".".join(POD_SPEC_PATHS.get(kind, ()))
    for i, volume in enumerate(volumes if isinstance(volumes, list) else []):
        source = volume.get("hostPath") if isinstance(volume, dict) else None
        if not isinstance(source, dict):
            continue
        path, path_type = source.get("path"), source.get("type") or ""
        if isinstance(path, str) and path.startswith("/") and (path_type == ""
                                                                or path_type in _REQUIRED):
            out.append((f"{prefix}.volumes[{i}].hostPath.path", path, str(path_type)))
    return out


__all__ = ["BLOCK_DEVICE", "CHAR_DEVICE", "DIRECTORY", "Decision", "FILE", "HOST_PATH_TYPES", "MISSING", "OTHER",
           "POD_SPEC_PATHS", "REMOTE_ENGINE", "REMOTE_NOTE", "SOCKET", "creates_directory", "decide", "failure",
           "fix_for", "host_path_volumes", "kind_of_go_mode"]
