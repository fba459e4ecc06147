"""metav1.Status: the error (and delete-success) bodies of the Kubernetes API server. Pure.

Each builder returns the Status the 1.32 API server sends for that case, with its HTTP code,
reason, message and details worded as k8s.io/apimachinery/pkg/api/errors words them (kubectl
prints the message as it is and branches on the reason, so both must match).
`invalid_from_problems` turns localsvc's own validation problems into an Invalid Status, so a
kubectl user reads the same messages as a `localsvc apply` user.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from localsvc.errors import Problem
from localsvc.model.shown import show

# The message of the optimistic-concurrency conflict (storage.OptimisticLockErrorMsg).
OPTIMISTIC_LOCK_MESSAGE = (
    "the object has been modified; please apply your changes to the latest version and try again"
)

# field.ErrorType: the cause type sent in details.causes, and the words of the message.
FIELD_ERROR_WORDS = {
    "FieldValueNotFound": "Not found",
    "FieldValueRequired": "Required value",
    "FieldValueDuplicate": "Duplicate value",
    "FieldValueInvalid": "Invalid value",
    "FieldValueNotSupported": "Unsupported value",
    "FieldValueForbidden": "Forbidden",
    "FieldValueTooLong": "Too long",
    "FieldValueTooMany": "Too many",
    "InternalError": "Internal error",
    "FieldValueTypeInvalid": "Invalid value",
}
# Types whose message never shows the bad value (field.Error.ErrorBody).
_VALUELESS = {"FieldValueRequired", "FieldValueForbidden", "FieldValueTooLong", "InternalError"}

_OMIT = object()  # a FieldError without a value to show (field.omitValue)


@dataclass(frozen=True)
class GroupResource:
    """A resource qualified by its API group ("" for core), printed "deployments.apps"."""

    resource: str
    group: str = ""

    def __str__(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource


@dataclass(frozen=True)
class FieldError:
    """One field.Error: `type` is a FIELD_ERROR_WORDS key, `field` the path ("spec.replicas")."""

    type: str
    field: str
    value: Any = _OMIT
    detail: str = ""

    def body(self) -> str:
        """ErrorBody: "Invalid value: -1: must be greater than or equal to 0"."""
        words = FIELD_ERROR_WORDS.get(self.type, self.type)
        if self.type in _VALUELESS or self.value is _OMIT:
            text = words
        else:
            text = f"{words}: {_go_value(self.value)}"
        return f"{text}: {self.detail}" if self.detail else text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"


def _go_value(value: Any) -> str:
    """A bad value as Go prints it in ErrorBody: %v for scalars, %q for strings, null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return show(value)
    return show(value) if isinstance(value, str) else str(value)


def status(code: int, reason: str, message: str, details: dict[str, Any] | None = None,
           ok: bool = False) -> dict[str, Any]:
    """A metav1.Status; empty details are left out as the server's omitempty does."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if ok else "Failure",
    }
    if message:
        body["message"] = message
    if reason:
        body["reason"] = reason
    if details:
        body["details"] = details
    body["code"] = code
    return body


def _details(resource: GroupResource | None, name: str = "", kind: str = "",
             **extra: Any) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if resource is not None and resource.group:
        details["group"] = resource.group
    what = kind or (resource.resource if resource is not None else "")
    if what:
        details["kind"] = what
    details.update({key: value for key, value in extra.items() if value})
    return details


def not_found(resource: GroupResource, name: str) -> dict[str, Any]:
    return status(404, "NotFound", f"{resource} {_q(name)} not found", _details(resource, name))


def already_exists(resource: GroupResource, name: str) -> dict[str, Any]:
    return status(409, "AlreadyExists", f"{resource} {_q(name)} already exists",
                  _details(resource, name))


def conflict(resource: GroupResource, name: str,
             cause: str = OPTIMISTIC_LOCK_MESSAGE) -> dict[str, Any]:
    """409 Conflict; the default cause is a stale resourceVersion on update."""
    return status(409, "Conflict", f"Operation cannot be fulfilled on {resource} {_q(name)}: {cause}",
                  _details(resource, name))


def invalid(kind: str, group: str, name: str, causes: Sequence[FieldError]) -> dict[str, Any]:
    """422 Invalid: 'Deployment.apps "x" is invalid: spec.replicas: Invalid value: -1: ...'."""
    qualified = f"{kind}.{group}" if group else kind
    message = f"{qualified} {_q(name)} is invalid"
    aggregate = _aggregate([str(cause) for cause in causes])
    if aggregate:
        message += f": {aggregate}"
    details: dict[str, Any] = {"name": name} if name else {}
    if group:
        details["group"] = group
    details["kind"] = kind
    details["causes"] = [
        {"reason": cause.type, "message": cause.body(), "field": cause.field} for cause in causes
    ]
    return status(422, "Invalid", message, details)


def _aggregate(messages: Sequence[str]) -> str:
    """utilerrors.Aggregate's text: one message alone, several as "[a, b]" (duplicates once)."""
    unique = list(dict.fromkeys(messages))
    if not unique:
        return ""
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


def gone(requested: int, oldest: int) -> dict[str, Any]:
    """410 Expired for a watch or list from a resourceVersion older than the store keeps."""
    return expired(f"too old resource version: {requested} ({oldest})")


def expired(message: str, continue_token: str = "") -> dict[str, Any]:
    body = status(410, "Expired", message)
    if continue_token:
        body["metadata"] = {"continue": continue_token}
    return body


def bad_request(message: str) -> dict[str, Any]:
    return status(400, "BadRequest", message)


def method_not_supported(resource: GroupResource, action: str) -> dict[str, Any]:
    return status(405, "MethodNotAllowed",
                  f"{action} is not supported on resources of kind {_q(str(resource))}",
                  _details(resource))


def unsupported_media_type(content_type: str, accepted: Sequence[str]) -> dict[str, Any]:
    """415 for a request body in a format the verb does not take."""
    del content_type  # the server names only what it accepts
    return status(415, "UnsupportedMediaType",
                  "the body of the request was in an unknown format - accepted media types "
                  "include: " + ", ".join(accepted))


def not_acceptable(accepted: Sequence[str]) -> dict[str, Any]:
    """406 for an Accept header the server cannot answer."""
    return status(406, "NotAcceptable",
                  "only the following media types are accepted: " + ", ".join(accepted))


def unauthorized(message: str = "Unauthorized") -> dict[str, Any]:
    return status(401, "Unauthorized", message)


def forbidden(resource: GroupResource | None, name: str, why: str) -> dict[str, Any]:
    if resource is None:
        message = f"forbidden: {why}"
    elif not name:
        message = f"{resource} is forbidden: {why}"
    else:
        message = f"{resource} {_q(name)} is forbidden: {why}"
    return status(403, "Forbidden", message, _details(resource, name))


def too_many_requests(message: str, retry_after_seconds: int = 0) -> dict[str, Any]:
    return status(429, "TooManyRequests", message,
                  {"retryAfterSeconds": retry_after_seconds} if retry_after_seconds else None)


def internal_error(error: str) -> dict[str, Any]:
    return status(500, "InternalError", f"Internal error occurred: {error}",
                  {"causes": [{"message": error}]})


def timeout(message: str, retry_after_seconds: int = 0) -> dict[str, Any]:
    return status(504, "Timeout", f"Timeout: {message}",
                  {"retryAfterSeconds": retry_after_seconds} if retry_after_seconds else None)


def success(resource: GroupResource, name: str, uid: str = "") -> dict[str, Any]:
    """The Status a delete answers with when it does not return the object."""
    return status(200, "", "", _details(resource, name, uid=uid), ok=True)


def unknown_fields(kind: str, version: str, paths: Sequence[str]) -> dict[str, Any]:
    """400 for a create/update body with unknown fields under fieldValidation=Strict.

    `paths` as the strict decoder names them, without a leading dot
    ("spec.containers[0].imagePulPolicy").
    """
    return bad_request(f"{kind} in version {_q(version)} cannot be handled as a {kind}: "
                       f"{strict_decoding_error(paths)}")


def strict_decoding_error(paths: Sequence[str]) -> str:
    """'strict decoding error: unknown field "a", unknown field "b"' (also the Warn warning)."""
    return "strict decoding error: " + ", ".join(f"unknown field {_q(p)}" for p in paths)


def unknown_field_warnings(paths: Sequence[str]) -> list[str]:
    """The warning texts of fieldValidation=Warn, one per unknown field ('unknown field "a"');
    the server sends each as a `Warning: 299 - "<text>"` header."""
    return [f"unknown field {_q(p)}" for p in paths]


def undeclared_field(path: str) -> str:
    """Server-side apply's words for an unknown field: '.spec.x: field not declared in schema'."""
    return f".{path.lstrip('.')}: field not declared in schema"


def _q(text: str) -> str:
    """Go's %q of a string."""
    return show(text)


# -- localsvc's validation problems as Invalid causes

def field_error_from_problem(problem: Problem) -> FieldError:
    """The cause a Problem stands for; its message keeps localsvc's words (value included)."""
    message = problem.message
    if message == "required" or message.startswith("required"):
        detail = message[len("required"):].lstrip(" ;:")
        return FieldError("FieldValueRequired", problem.path, detail=detail)
    if message.startswith("duplicate"):
        return FieldError("FieldValueDuplicate", problem.path, detail=message)
    if message.startswith("Forbidden: "):
        return FieldError("FieldValueForbidden", problem.path, detail=message[len("Forbidden: "):])
    if message.startswith("must be one of") or "not supported" in message:
        return FieldError("FieldValueNotSupported", problem.path, detail=message)
    return FieldError("FieldValueInvalid", problem.path, detail=message)


def invalid_from_problems(kind: str, group: str, name: str,
                          problems: Sequence[Problem]) -> dict[str, Any]:
    """The Invalid Status for the problems of one object (from localsvc.model.validate)."""
    return invalid(kind, group, name, [field_error_from_problem(p) for p in problems])
