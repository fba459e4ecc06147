"""configMap, secret and projected volumes written as the kubelet's atomic writer does, inside the
pod's infra container (the plan is model/atomicwriter.py's).

Before the infra container starts, one archive holds the whole layout (timestamped directory,
`..data`, the visible links). An update of a running pod puts the new timestamped directory and
then swaps `..data` with one rename(2) (`mv -T`) in the infra container, so a container reading
the volume sees the old files or the new ones; the visible links and the old directory follow.
"""

from __future__ import annotations

import posixpath
import secrets
import time
from typing import Any

from localsvc.model.atomicwriter import DATA_DIR, DATA_TMP, WritePlan, Written, plan_write
from localsvc.model.atomicwriter import ts_dir_name
from localsvc.model.podplan import INFRA_MOUNT_ROOT, VolumePlan
from localsvc.model.podvolumes import FILE_VOLUMES
from localsvc.runtime.hostpaths import path_stat
from localsvc.runtime.tarballs import TarEntry, read_archive, tar_of

# $1 the volume's directory, $2 the new timestamped directory, $3 the old one ("" = none), then
# "+NAME" for each visible link to have and "-NAME" for each to remove.
SWAP_SCRIPT = r"""set -e
cd "$1"; new="$2"; old="$3"; shift 3
""" + f"""rm -f -- {DATA_TMP}
ln -s -- "$new" {DATA_TMP}
mv -T -- {DATA_TMP} {DATA_DIR}
""" + r"""for arg in "$@"; do
  name="${arg#?}"
  case "$arg" in
    +*) [ "$(readlink -- "$name" 2>/dev/null)" = "..data/$name" ] ||
          { rm -rf -- "$name"; ln -s -- "..data/$name" "$name"; } ;;
    -*) rm -rf -- "$name" ;;
  esac
done
[ -z "$old" ] || [ "$old" = "$new" ] || rm -rf -- "$old"
# Older timestamped directories too: a sandbox made again over the same volume, or an update
# cut short, left them.
for dir in ..[0-9]*; do [ ! -d "$dir" ] || [ "$dir" = "$new" ] || rm -rf -- "$dir"; done
"""


def new_ts_dir() -> str:
    # os.MkdirTemp's suffix is a random decimal number.
    return ts_dir_name(time.time(), str(secrets.randbelow(10**9)))


def _tar(plan: WritePlan, with_links: bool) -> bytes:
    """The timestamped directory of `plan` with its files (and, `with_links`, `..data` and a
    link per visible name through it)."""
    dirs: set[str] = set()
    for path in plan.files:
        parent = posixpath.dirname(path)
        while parent and parent not in dirs:
            dirs.add(parent)
            parent = posixpath.dirname(parent)
    entries = [TarEntry(plan.ts_dir, 0o755, None)]
    entries += [TarEntry(f"{plan.ts_dir}/{d}", 0o755, None) for d in sorted(dirs)]
    entries += [TarEntry(f"{plan.ts_dir}/{path}", mode, content)
                for path, (content, mode) in sorted(plan.files.items())]
    if with_links:
        entries.append(TarEntry(DATA_DIR, 0o777, link=plan.ts_dir))
        entries += [TarEntry(name, 0o777, link=f"{DATA_DIR}/{name}") for name in plan.visible]
    return tar_of(entries)


def write_initial(api: Any, infra_id: str, volumes: list[VolumePlan]) -> dict[str, Written]:
    """Every file volume's layout, into the infra container before it starts."""
    written = {}
    for volume in volumes:
        if volume.kind not in FILE_VOLUMES:
            continue
        plan = plan_write(None, volume.payload(), new_ts_dir())
        assert plan is not None
        api.put_archive(infra_id, f"{INFRA_MOUNT_ROOT}/{volume.name}", _tar(plan, True))
        written[volume.name] = Written(plan.ts_dir, plan.files)
    return written


def read_written(api: Any, infra_id: str, volume: str) -> Written:
    """What a volume holds (a pod adopted from a previous node process)."""
    base = f"{INFRA_MOUNT_ROOT}/{volume}"
    stat = path_stat(api, infra_id, f"{base}/{DATA_DIR}")
    if stat is None:
        return Written("")  # empty, or laid out before the atomic writer: rewritten
    ts_dir = posixpath.basename(str(stat.get("linkTarget") or ""))
    files = {e.path.split("/", 1)[1]: (e.content, e.mode)
             for e in read_archive(api, infra_id, f"{base}/{ts_dir}")
             if e.content is not None and not e.link}
    return Written(ts_dir, files)


def update(api: Any, infra_id: str, volume: str, plan: WritePlan) -> None:
    """Perform `plan` in the running infra container. Raises RuntimeError when the swap fails."""
    base = f"{INFRA_MOUNT_ROOT}/{volume}"
    api.put_archive(infra_id, base, _tar(plan, False))
    args = [f"+{n}" for n in plan.visible] + [f"-{n}" for n in plan.remove]
    exec_id = api.exec_create(infra_id, ["/bin/sh", "-c", SWAP_SCRIPT, "sh", base, plan.ts_dir,
                                         plan.old_dir, *args])["Id"]
    output = api.exec_start(exec_id)
    code = api.exec_inspect(exec_id).get("ExitCode")
    if code != 0:
        raise RuntimeError(f"updating volume {volume} failed ({code}): "
                           f"{output.decode(errors='replace').strip()}")


__all__ = ["SWAP_SCRIPT", "new_ts_dir", "read_written", "update", "write_initial"]
