"""Kubeconfig documents for an environment, and merging them into a user's kubeconfig.

Pure: dicts in, dicts out, inputs never changed. An environment's cluster, user and context are
all named `localsvc-<env>`; merging replaces entries of those names and keeps everything else
(other clusters, extensions, preferences, unknown keys), as kind and k3d do.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

import yaml

Config = dict[str, Any]

# The three named lists of a kubeconfig, and the key that holds each entry's body.
SECTIONS = (("clusters", "cluster"), ("users", "user"), ("contexts", "context"))


def context_name(env: str) -> str:
    return f"localsvc-{env}"


def empty_config() -> Config:
    """What kubectl writes for a config with nothing in it."""
    return {"apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [], "users": [], "contexts": [], "current-context": ""}


def kubeconfig_for(env: str, server: str, ca_pem: bytes, token: str) -> Config:
    """A complete kubeconfig for one environment: `server` is the API's https URL, `ca_pem` the
    environment's CA certificate (pinned as certificate-authority-data), `token` the bearer
    token; its context is the current one."""
    name = context_name(env)
    config = empty_config()
    config["clusters"] = [{"name": name, "cluster": {
        "server": server,
        "certificate-authority-data": base64.b64encode(ca_pem).decode("ascii"),
    }}]
    config["users"] = [{"name": name, "user": {"token": token}}]
    config["contexts"] = [{"name": name, "context": {"cluster": name, "user": name}}]
    config["current-context"] = name
    return config


def shape_problems(config: object) -> list[str]:
    """Why `config` is not a kubeconfig this module can merge into (empty: it is one). Each
    problem names the field path; only what merge and remove rely on is checked."""
    if not isinstance(config, dict):
        return [f"the document is a {type(config).__name__}, not a mapping "
                "(a kubeconfig has apiVersion: v1, kind: Config)"]
    problems = []
    kind = config.get("kind")
    if kind is not None and kind != "Config":
        problems.append(f"kind: is {kind!r}, a kubeconfig has kind: Config")
    for section, body in SECTIONS:
        entries = config.get(section)
        if entries is None:
            continue
        if not isinstance(entries, list):
            problems.append(f"{section}: is a {type(entries).__name__}, must be a list")
            continue
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict):
                problems.append(f"{section}[{index}]: must be a mapping with name and {body}")
            elif not isinstance(entry.get("name"), str):
                problems.append(f"{section}[{index}].name: missing, every entry needs a name")
    current = config.get("current-context")
    if current is not None and not isinstance(current, str):
        problems.append("current-context: must be a string (a context's name)")
    return problems


def merge(existing: Config | None, new: Config, set_current: bool) -> Config:
    """`existing` with every cluster, user and context of `new` in it: an entry of the same name
    is replaced where it stands, others are appended. current-context becomes `new`'s when
    `set_current`, or when `existing` had none."""
    merged = _base(existing)
    for section, _ in SECTIONS:
        entries: list[Any] = merged.setdefault(section, []) or []
        merged[section] = entries
        for entry in new.get(section) or []:
            position = _index_of(entries, entry["name"])
            if position is None:
                entries.append(copy.deepcopy(entry))
            else:
                entries[position] = copy.deepcopy(entry)
    wanted = new.get("current-context") or ""
    if wanted and (set_current or not merged.get("current-context")):
        merged["current-context"] = wanted
    return merged


def remove(existing: Config, name: str) -> tuple[Config, bool]:
    """`existing` without the cluster, user and context called `name`, and whether anything was
    dropped. current-context is cleared when it named that context (as `kubectl config
    delete-context` leaves it: no context is chosen for the user)."""
    result = _base(existing)
    changed = False
    for section, _ in SECTIONS:
        entries = result.get(section) or []
        kept = [entry for entry in entries if _name_of(entry) != name]
        if len(kept) != len(entries):
            result[section] = kept
            changed = True
    if result.get("current-context") == name:
        result["current-context"] = ""
        changed = True
    return result, changed


def _base(existing: Config | None) -> Config:
    if not existing:
        return empty_config()
    config = copy.deepcopy(existing)
    config.setdefault("apiVersion", "v1")
    config.setdefault("kind", "Config")
    return config


def _name_of(entry: object) -> object:
    return entry.get("name") if isinstance(entry, dict) else None


def _index_of(entries: list[Any], name: str) -> int | None:
    for index, entry in enumerate(entries):
        if _name_of(entry) == name:
            return index
    return None


def dump(config: Config) -> str:
    """YAML text as kubectl writes it: keys sorted (kubectl's order), block style."""
    text: str = yaml.safe_dump(config, sort_keys=True, default_flow_style=False)
    return text
