"""metav1.Status builders: the codes, reasons, messages and details of the 1.32 API server."""

from __future__ import annotations

from localsvc.errors import Problem
from localsvc.model.kubeapi import status as st
from localsvc.model.kubeapi.status import FieldError, GroupResource

PODS = GroupResource("pods")
DEPLOYMENTS = GroupResource("deployments", "apps")


def test_not_found_names_the_qualified_resource_and_carries_details() -> None:
    assert st.not_found(PODS, "x") == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'pods "x" not found', "reason": "NotFound",
        "details": {"name": "x", "kind": "pods"}, "code": 404,
    }
    body = st.not_found(DEPLOYMENTS, "web")
    assert body["message"] == 'deployments.apps "web" not found'
    assert body["details"] == {"name": "web", "group": "apps", "kind": "deployments"}


def test_already_exists_is_409() -> None:
    body = st.already_exists(GroupResource("configmaps"), "c")
    assert (body["code"], body["reason"], body["message"]) == (
        409, "AlreadyExists", 'configmaps "c" already exists')


def test_conflict_has_the_optimistic_concurrency_message() -> None:
    body = st.conflict(DEPLOYMENTS, "x")
    assert body["code"] == 409 and body["reason"] == "Conflict"
    assert body["message"] == (
        'Operation cannot be fulfilled on deployments.apps "x": the object has been modified; '
        "please apply your changes to the latest version and try again")


def test_invalid_one_cause_message_and_causes() -> None:
    cause = FieldError("FieldValueInvalid", "spec.replicas", -1,
                       "must be greater than or equal to 0")
    body = st.invalid("Deployment", "apps", "x", [cause])
    assert body["code"] == 422 and body["reason"] == "Invalid"
    assert body["message"] == ('Deployment.apps "x" is invalid: spec.replicas: Invalid value: -1: '
                               "must be greater than or equal to 0")
    assert body["details"] == {
        "name": "x", "group": "apps", "kind": "Deployment",
        "causes": [{"reason": "FieldValueInvalid",
                    "message": "Invalid value: -1: must be greater than or equal to 0",
                    "field": "spec.replicas"}],
    }


def test_invalid_several_causes_are_bracketed_and_values_quoted_like_go() -> None:
    causes = [
        FieldError("FieldValueRequired", "spec.containers[0].image"),
        FieldError("FieldValueNotSupported", "spec.restartPolicy", "Sometimes",
                   'supported values: "Always", "Never", "OnFailure"'),
        FieldError("FieldValueDuplicate", "spec.ports[1].port", 80),
    ]
    body = st.invalid("Pod", "", "p", causes)
    assert body["message"] == (
        'Pod "p" is invalid: [spec.containers[0].image: Required value, spec.restartPolicy: '
        'Unsupported value: "Sometimes": supported values: "Always", "Never", "OnFailure", '
        "spec.ports[1].port: Duplicate value: 80]")
    assert "group" not in body["details"]
    assert [c["reason"] for c in body["details"]["causes"]] == [
        "FieldValueRequired", "FieldValueNotSupported", "FieldValueDuplicate"]


def test_invalid_without_causes_has_a_bare_message() -> None:
    assert st.invalid("Pod", "", "p", [])["message"] == 'Pod "p" is invalid'


def test_gone_is_410_expired_with_both_versions() -> None:
    body = st.gone(5, 120)
    assert (body["code"], body["reason"], body["message"]) == (
        410, "Expired", "too old resource version: 5 (120)")


def test_the_other_failures() -> None:
    assert st.bad_request("nope")["code"] == 400
    assert st.bad_request("nope")["reason"] == "BadRequest"
    body = st.method_not_supported(GroupResource("events", "events.k8s.io"), "create")
    assert (body["code"], body["reason"], body["message"]) == (
        405, "MethodNotAllowed",
        'create is not supported on resources of kind "events.events.k8s.io"')
    body = st.unsupported_media_type("text/plain", ["application/json", "application/yaml"])
    assert (body["code"], body["message"]) == (
        415, "the body of the request was in an unknown format - accepted media types include: "
             "application/json, application/yaml")
    assert st.unauthorized() == {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                 "status": "Failure", "message": "Unauthorized",
                                 "reason": "Unauthorized", "code": 401}
    body = st.forbidden(PODS, "p", "no")
    assert (body["code"], body["message"]) == (403, 'pods "p" is forbidden: no')
    assert st.forbidden(PODS, "", "no")["message"] == "pods is forbidden: no"
    body = st.too_many_requests("slow down", 3)
    assert (body["code"], body["details"]) == (429, {"retryAfterSeconds": 3})
    body = st.internal_error("boom")
    assert (body["code"], body["message"], body["details"]) == (
        500, "Internal error occurred: boom", {"causes": [{"message": "boom"}]})
    body = st.timeout("request did not complete within allowed duration")
    assert (body["code"], body["reason"], body["message"]) == (
        504, "Timeout", "Timeout: request did not complete within allowed duration")


def test_success_status_for_a_delete() -> None:
    assert st.success(DEPLOYMENTS, "web", "u-1") == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
        "details": {"name": "web", "group": "apps", "kind": "deployments", "uid": "u-1"},
        "code": 200,
    }


def test_unknown_fields_under_strict_validation() -> None:
    body = st.unknown_fields("Pod", "v1", ["spec.containers[0].imagePulPolicy"])
    assert (body["code"], body["reason"]) == (400, "BadRequest")
    assert body["message"] == (
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
        'unknown field "spec.containers[0].imagePulPolicy"')
    assert st.strict_decoding_error(["a", "b"]) == (
        'strict decoding error: unknown field "a", unknown field "b"')
    assert st.unknown_field_warnings(["spec.a", "spec.b"]) == [
        'unknown field "spec.a"', 'unknown field "spec.b"']
    assert st.undeclared_field("spec.containers[0].imagePulPolicy") == (
        ".spec.containers[0].imagePulPolicy: field not declared in schema")


def test_validation_problems_become_invalid_causes_with_their_paths_and_words() -> None:
    problems = [
        Problem("web.yaml", 7, "Deployment", "web", "spec.replicas", "must be >= 0 (got -1)"),
        Problem("web.yaml", 9, "Deployment", "web", "spec.template.spec.containers[0].image",
                "required"),
        Problem("web.yaml", 12, "Deployment", "web", "spec.template.spec.containers[1].name",
                'duplicate container name "a" (also at spec.template.spec.containers[0].name)'),
        Problem("web.yaml", 14, "Deployment", "web", "spec.strategy.type",
                'must be one of Recreate, RollingUpdate (got "Blue")'),
    ]
    body = st.invalid_from_problems("Deployment", "apps", "web", problems)
    causes = body["details"]["causes"]
    assert [(c["reason"], c["field"]) for c in causes] == [
        ("FieldValueInvalid", "spec.replicas"),
        ("FieldValueRequired", "spec.template.spec.containers[0].image"),
        ("FieldValueDuplicate", "spec.template.spec.containers[1].name"),
        ("FieldValueNotSupported", "spec.strategy.type"),
    ]
    assert causes[3]["message"] == ('Unsupported value: must be one of Recreate, RollingUpdate '
                                    '(got "Blue")')
    assert causes[0]["message"] == "Invalid value: must be >= 0 (got -1)"
    assert body["message"].startswith(
        'Deployment.apps "web" is invalid: [spec.replicas: Invalid value: must be >= 0 (got -1), '
        "spec.template.spec.containers[0].image: Required value, ")
