"""fieldSelector parsing, escaping, per-kind fields and errors, as the 1.32 API server."""

from __future__ import annotations

import pytest

from localsvc.model.kubeapi import fieldselect as fs
from localsvc.model.kubeapi.fieldselect import FieldSelectorError, Term


def pod(name: str, ns: str = "default", node: str = "", phase: str = "Running",
        ip: str = "", host_network: bool = False) -> dict[str, object]:
    status: dict[str, object] = {"phase": phase}
    if ip:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    return {"kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": {"nodeName": node, "hostNetwork": host_network, "restartPolicy": "Always"},
            "status": status}


def test_parse_operators_sorted_terms() -> None:
    selector = fs.parse("status.phase!=Failed,metadata.name==a,spec.nodeName=n1")
    assert selector.terms == (
        Term("metadata.name", "a", True),
        Term("spec.nodeName", "n1", True),
        Term("status.phase", "Failed", False),
    )
    assert str(selector) == "metadata.name=a,spec.nodeName=n1,status.phase!=Failed"


def test_empty_selector_and_empty_terms_select_everything() -> None:
    assert fs.parse("").empty()
    assert fs.parse(",,").empty()
    assert fs.compile_selector("Pod", "")(pod("a"))


def test_escaped_values() -> None:
    selector = fs.parse(r"metadata.name=a\,b\=c\\d,status.phase=x")
    assert selector.terms[0] == Term("metadata.name", "a,b=c\\d", True)
    assert fs.escape_value("a,b=c\\d") == r"a\,b\=c\\d"
    assert fs.unescape_value(fs.escape_value("x=1,y\\2")) == "x=1,y\\2"


def test_a_value_may_be_empty_and_the_field_takes_the_first_operator() -> None:
    assert fs.parse("spec.nodeName=").terms == (Term("spec.nodeName", "", True),)
    with pytest.raises(FieldSelectorError) as err:
        fs.parse("a!==b")  # the value "=b" holds an unescaped "="
    assert str(err.value) == "invalid field selector: unescaped character in value: 61"


@pytest.mark.parametrize(("selector", "message"), [
    ("metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"),
    ("a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"),
    (r"a=b\x", r"invalid field selector: invalid escape sequence: \x"),
    ("a=b\\", "invalid field selector: invalid escape sequence: \\"),
])
def test_malformed_selectors_get_the_servers_words(selector: str, message: str) -> None:
    with pytest.raises(FieldSelectorError) as err:
        fs.parse(selector)
    assert str(err.value) == message


def test_unsupported_field_of_a_kind_with_its_own_fields() -> None:
    with pytest.raises(FieldSelectorError) as err:
        fs.compile_selector("Pod", "spec.foo=x")
    assert str(err.value) == "field label not supported: spec.foo"


def test_unsupported_field_of_a_kind_with_only_metadata() -> None:
    with pytest.raises(FieldSelectorError) as err:
        fs.compile_selector("ConfigMap", "data.a=b")
    assert str(err.value) == (
        '"data.a" is not a known field selector: only "metadata.name", "metadata.namespace"')


def test_supported_fields_per_kind() -> None:
    assert "status.podIPs" in fs.supported_fields("Pod")
    assert fs.supported_fields("ConfigMap") == {"metadata.name", "metadata.namespace"}
    assert fs.supported_fields("Service") == {"metadata.name", "metadata.namespace",
                                              "spec.clusterIP", "spec.type"}
    assert fs.supported_fields("Node") == {"metadata.name", "spec.unschedulable"}
    assert fs.supported_fields("Namespace") == {"metadata.name", "status.phase"}
    assert "involvedObject.uid" in fs.supported_fields("Event")
    assert fs.supported_fields("Secret") == {"metadata.name", "metadata.namespace", "type"}
    assert "status.phase" in fs.supported_fields("Namespace")
    assert "spec.unschedulable" in fs.supported_fields("Node")
    assert "status.replicas" in fs.supported_fields("ReplicaSet")


def test_pod_fields_match() -> None:
    pods = [pod("a", node="n1", ip="10.0.0.1"), pod("b", ns="kube-system", phase="Pending"),
            pod("c", host_network=True)]

    def names(selector: str) -> list[str]:
        match = fs.compile_selector("Pod", selector)
        return [str(p["metadata"]["name"]) for p in pods if match(p)]  # type: ignore[index]

    assert names("spec.nodeName=n1") == ["a"]
    assert names("spec.host=n1") == ["a"]  # the old name
    assert names("status.phase!=Running") == ["b"]
    assert names("metadata.namespace=default,status.phase=Running") == ["a", "c"]
    assert names("status.podIP=10.0.0.1") == ["a"]
    assert names("spec.hostNetwork=true") == ["c"]
    assert names("spec.hostNetwork=false") == ["a", "b"]
    assert names("spec.nodeName=") == ["b", "c"]
    assert names("metadata.name==b") == ["b"]


def test_event_secret_node_namespace_replicaset_fields() -> None:
    event = {"metadata": {"name": "e", "namespace": "default"}, "reason": "Pulled",
             "type": "Normal", "involvedObject": {"kind": "Pod", "name": "web-1"},
             "reportingComponent": "kubelet", "source": {}}
    assert fs.fields_of("Event", event)["source"] == "kubelet"
    assert fs.compile_selector("Event", "involvedObject.kind=Pod,involvedObject.name=web-1,"
                                        "reason=Pulled,type=Normal")(event)
    secret = {"metadata": {"name": "s", "namespace": "d"}, "type": "kubernetes.io/tls"}
    assert fs.compile_selector("Secret", "type=kubernetes.io/tls")(secret)
    node = {"metadata": {"name": "n"}, "spec": {}}
    assert fs.compile_selector("Node", "spec.unschedulable=false")(node)
    with pytest.raises(FieldSelectorError) as err:  # cluster-scoped: no namespace field
        fs.compile_selector("Node", "metadata.namespace=default")
    assert str(err.value) == "field label not supported: metadata.namespace"
    service = {"metadata": {"name": "web", "namespace": "d"},
               "spec": {"type": "ClusterIP", "clusterIP": "None"}}
    assert fs.compile_selector("Service", "spec.clusterIP!=None")(service) is False
    assert fs.compile_selector("Service", "spec.type=ClusterIP,metadata.name=web")(service)
    namespace = {"metadata": {"name": "d"}, "status": {"phase": "Active"}}
    assert fs.compile_selector("Namespace", "status.phase=Active")(namespace)
    rs = {"metadata": {"name": "r", "namespace": "d"}, "status": {"replicas": 3}}
    assert fs.compile_selector("ReplicaSet", "status.replicas=3")(rs)
    assert fs.compile_selector("ReplicaSet", "status.replicas=0")({"metadata": {"name": "x"}})
