"""Label selectors (matchLabels, matchExpressions): their syntax and what they match."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from localsvc.model import names
from localsvc.model.labelselector import EQUALS, KUBERNETES_OPERATORS, LabelSelector, Requirement
from localsvc.model.load import child_path
from localsvc.model.validate.check import Check


def check_selector(
    check: Check, selector: dict[str, Any], path: str
) -> Callable[[dict[str, str]], bool] | None:
    """Check a label selector; a function telling whether it matches a label set (None: bad)."""
    ok = True
    match_labels = check.labels(selector.get("matchLabels"), child_path(path, "matchLabels"))
    expressions: list[tuple[str, str, list[str]]] = []
    exprs_path = child_path(path, "matchExpressions")
    for item_path, expr in check.mappings(selector.get("matchExpressions"), exprs_path):
        parsed = check_expression(check, expr, item_path)
        if parsed is None:
            ok = False
        else:
            expressions.append(parsed)
    if not match_labels and not expressions and ok:
        check.add(
            path,
            "empty selector is invalid for deployment: give matchLabels and/or matchExpressions",
        )
        return None
    if not ok:
        return None

    requirements = [Requirement(k, EQUALS, (v,)) for k, v in match_labels.items()]
    requirements += [Requirement(key, KUBERNETES_OPERATORS[operator], tuple(values))
                     for key, operator, values in expressions]
    return LabelSelector(tuple(requirements)).matches


def check_expression(
    check: Check, expr: dict[str, Any], path: str
) -> tuple[str, str, list[str]] | None:
    key = check.name(expr.get("key"), child_path(path, "key"), names.qualified_name_error)
    operator = check.one_of(
        expr.get("operator"),
        child_path(path, "operator"),
        ("In", "NotIn", "Exists", "DoesNotExist"),
        required=True,
    )
    values_path = child_path(path, "values")
    values = check.items(expr.get("values"), values_path) or []
    strings = [v for i, v in enumerate(values) if check.string(v, child_path(values_path, i))]
    if operator in ("In", "NotIn") and not values:
        check.add(values_path, f"must be specified when `operator` is '{operator}'")
        return None
    if operator in ("Exists", "DoesNotExist") and values:
        check.add(values_path, f"may not be specified when `operator` is '{operator}'")
        return None
    if key is None or operator is None or len(strings) != len(values):
        return None
    return key, operator, strings


def describe_labels(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "none"


def describe_selector(selector: dict[str, Any]) -> str:
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        if isinstance(expr, dict):
            values = ",".join(str(v) for v in expr.get("values") or [])
            parts.append(f"{expr.get('key')} {expr.get('operator')} ({values})".replace(" ()", ""))
    return ",".join(parts)
