"""What `down` and a stopped `up` say of the volumes holding PersistentVolumeClaims' data they
kept (as compose keeps named volumes without `down -v`): one wording for the CLI and the dev
loop. The names come from runtime/environment.destroy, which skipped those volumes. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def kept_note(env: str, kept: Sequence[str], hint: bool = True) -> str:
    """The kept volumes of `env`, one a line, and (with `hint`) how to remove them; "" when
    none was kept. Each line ends with a newline."""
    if not kept:
        return ""
    note = (f"kept {len(kept)} volume{'s' if len(kept) > 1 else ''} with the data of "
            f"PersistentVolumeClaims (the next `up` of {env} binds the claims to them again):\n"
            + "".join(f"  {name}\n" for name in sorted(kept)))
    return note + remove_hint({env: kept}, f"--env {env} ") if hint else note


def remove_hint(kept_by_env: Mapping[str, Sequence[str]], which: str) -> str:
    """How to remove the kept volumes (`which`: "--all " or "--env NAME "): said once, however
    many environments `down` removed; "" when none was kept."""
    if not any(kept_by_env.values()):
        return ""
    return f"remove them with `localsvc down {which}--volumes` (or `docker volume rm NAME`)\n"


__all__ = ["kept_note", "remove_hint"]
