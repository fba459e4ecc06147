"""Tests of localsvc.model.load: files, documents, List flattening, lines and load problems."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from textwrap import dedent

import pytest

from localsvc.model.load import (
    NAMESPACED,
    SUPPORTED_KINDS,
    Manifest,
    ObjectKey,
    StandardInput,
    load_paths,
    load_text,
)
from localsvc.model.yamltext import MAX_TEXT_BYTES

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[2]

CONFIGMAP = dedent(
    """\
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: {name}
    data:
      key: value
    """
)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_supported_kinds_and_namespaced() -> None:
    assert ("apps/v1", "Deployment") in SUPPORTED_KINDS
    assert ("discovery.k8s.io/v1", "EndpointSlice") in SUPPORTED_KINDS
    assert "Namespace" not in NAMESPACED
    assert {"Pod", "Service", "Endpoints"} <= NAMESPACED
    assert {"ReplicaSet", "Event", "ControllerRevision"} <= NAMESPACED  # made by controllers
    assert "IngressClass" not in NAMESPACED


def test_multi_document_yaml_skips_empty_documents() -> None:
    text = (
        "---\n"
        + CONFIGMAP.format(name="a")
        + "---\n---\n# only a comment\n---\n"
        + (CONFIGMAP.format(name="b"))
    )
    result = load_text(text, "app.yaml")
    assert result.problems == []
    assert [m.name for m in result.manifests] == ["a", "b"]
    assert [m.line for m in result.manifests] == [2, 12]
    assert all(m.file == "app.yaml" for m in result.manifests)


def test_values_keep_their_yaml_types() -> None:
    text = dedent(
        """\
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: types}
        data:
          int: 80
          str: "80"
          bool: true
          null:
          float: 0.5
          date: 2024-01-02
        """
    )
    (m,) = load_text(text, "t.yaml").manifests
    assert m.obj["data"] == {
        "int": 80,
        "str": "80",
        "bool": True,
        "null": None,
        "float": 0.5,
        "date": "2024-01-02",
    }
    json.dumps(m.obj)  # plain values only


def test_list_is_flattened_with_lines_relative_to_the_file() -> None:
    text = dedent(
        """\
        apiVersion: v1
        kind: List
        items:
          - apiVersion: v1
            kind: Service
            metadata:
              name: web
            spec:
              ports:
                - port: 80
          - apiVersion: v1
            kind: ConfigMap
            metadata:
              name: conf
        """
    )
    result = load_text(text, "list.yaml")
    assert result.problems == []
    assert [str(m.key) for m in result.manifests] == [
        "Service/default/web",
        "ConfigMap/default/conf",
    ]
    service = result.manifests[0]
    assert service.line == 4
    assert service.line_of("metadata.name") == 7
    assert service.line_of("spec.ports[0].port") == 10
    assert "items[0].spec" not in service.lines
    assert result.manifests[1].line == 11


def test_line_numbers_of_nested_paths() -> None:
    text = dedent(
        """\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: backend
          labels:
            app.kubernetes.io/name: backend
        spec:
          template:
            spec:
              containers:
                - name: api
                  image: api:dev
                  ports:
                    - containerPort: 80
                    - containerPort: 81
                      name: admin
        """
    )
    (m,) = load_text(text, "d.yaml").manifests
    assert m.lines["spec.template.spec.containers[0]"] == 11
    assert m.lines["spec.template.spec.containers[0].ports[1]"] == 15
    assert m.lines["spec.template.spec.containers[0].ports[1].name"] == 16
    assert m.lines["metadata.labels[app.kubernetes.io/name]"] == 6
    assert m.line_of("spec.template.spec.containers[0].ports[1].name") == 16
    # unknown paths fall back to the closest known ancestor, then the object itself
    assert m.line_of("spec.template.spec.containers[0].ports[1].protocol") == 15
    assert m.line_of("spec.template.spec.containers[0].env[3].name") == 11
    assert m.line_of("status.podIP") == 1


def test_json_is_parsed_with_lines() -> None:
    text = json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"ports": [{"port": 80}]},
        },
        indent=2,
    )
    (m,) = load_text(text, "svc.json").manifests
    assert m.obj["spec"]["ports"][0]["port"] == 80
    assert m.line_of("spec.ports[0].port") == 10


def test_syntax_error_gives_one_problem_and_drops_the_whole_file() -> None:
    text = CONFIGMAP.format(name="ok") + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: name: x\n"
    result = load_text(text, "app.yaml")
    assert result.manifests == []
    assert [str(p) for p in result.problems] == [
        "app.yaml:10: mapping values are not allowed here (column 15)"
    ]


def test_syntax_error_message_of_an_unclosed_flow() -> None:
    result = load_text("a: [1, 2\nb: 3\n", "x.yaml")
    assert [str(p) for p in result.problems] == [
        "x.yaml:2: expected ',' or ']', but got ':' (column 2)"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "- a\n- b\n",
            "t.yaml:1: a manifest must be a mapping with apiVersion and kind (got a list)",
        ),
        (
            "just text\n",
            't.yaml:1: a manifest must be a mapping with apiVersion and kind (got "just text")',
        ),
        ("kind: Pod\nmetadata: {name: p}\n", "t.yaml:1: Pod/p: apiVersion: required"),
        ("apiVersion: v1\nmetadata: {name: p}\n", "t.yaml:1: ?/p: kind: required"),
        ("apiVersion: v1\nkind: 5\n", "t.yaml:2: kind: must be a string"),
        (
            "apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: web}\n",
            (
                't.yaml:1: Deployment/web: apiVersion: "extensions/v1beta1" is not served for '
                "Deployment; use apps/v1"
            ),
        ),
        (
            "apiVersion: discovery.k8s.io/v1beta1\nkind: EndpointSlice\nmetadata: {name: s}\n",
            (
                't.yaml:1: EndpointSlice/s: apiVersion: "discovery.k8s.io/v1beta1" is not served '
                "for EndpointSlice; use discovery.k8s.io/v1"
            ),
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  k: 1\n  k: 2\n",
            't.yaml:6: data.k: mapping key "k" already defined at line 5; keep only one',
        ),
        ("apiVersion: v1\nkind: List\nitems: {}\n", "t.yaml:3: List/?: items: must be a list"),
    ],
)
def test_bad_documents(text: str, expected: str) -> None:
    result = load_text(text, "t.yaml")
    assert [str(p) for p in result.problems] == [expected]


def test_skipped_kinds_are_kept_apart() -> None:
    text = dedent(
        """\
        apiVersion: autoscaling/v2
        kind: HorizontalPodAutoscaler
        metadata: {name: web}
        ---
        apiVersion: policy/v1
        kind: PodDisruptionBudget
        metadata: {name: db, namespace: data}
        ---
        apiVersion: example.com/v1
        kind: Widget
        metadata: {name: w}
        ---
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata: {name: widgets.example.com}
        """
    )
    result = load_text(text, "extra.yaml")
    assert result.manifests == [] and result.problems == []
    assert [str(m.key) for m in result.skipped] == [
        "HorizontalPodAutoscaler/default/web",
        "PodDisruptionBudget/data/db",
        "Widget/default/w",
        "CustomResourceDefinition/widgets.example.com",
    ]


def test_namespace_defaulting_and_keys() -> None:
    text = dedent(
        """\
        apiVersion: v1
        kind: Namespace
        metadata: {name: web}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: a}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: b, namespace: web}
        """
    )
    ns, a, b = load_text(text, "n.yaml").manifests
    assert (ns.namespace, a.namespace, b.namespace) == ("", "default", "web")
    assert ns.key == ObjectKey("Namespace", "", "web")
    assert str(ns.key) == "Namespace/web"
    assert str(b.key) == "Service/web/b"
    assert (b.api_version, b.kind, b.name) == ("v1", "Service", "b")
    assert sorted([b.key, a.key, ns.key]) == [ns.key, a.key, b.key]


def test_manifest_properties_survive_odd_metadata() -> None:
    m = Manifest(obj={"apiVersion": "v1", "kind": "Pod", "metadata": "oops"}, file="f", line=3)
    assert (m.name, m.namespace, m.line_of("spec.containers")) == ("", "default", 3)


def test_directory_is_read_recursively_sorted_and_filtered(tmp_path: Path) -> None:
    root = tmp_path / "deploy"
    _write(root / "b.yaml", CONFIGMAP.format(name="b"))
    _write(root / "a.yml", CONFIGMAP.format(name="a"))
    _write(
        root / "sub" / "c.json",
        json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
    )
    _write(root / "sub" / "deeper" / "d.YAML", CONFIGMAP.format(name="d"))
    _write(root / "README.md", "not yaml: [")
    _write(root / "notes.txt", CONFIGMAP.format(name="txt"))
    _write(root / ".hidden.yaml", CONFIGMAP.format(name="hidden"))
    _write(root / ".git" / "x.yaml", CONFIGMAP.format(name="git"))
    result = load_paths([str(root) + os.sep])
    assert result.problems == []
    assert [m.name for m in result.manifests] == ["a", "b", "c", "d"]
    assert result.manifests[2].file == str(root / "sub" / "c.json")


def test_explicit_file_is_read_whatever_its_extension(tmp_path: Path) -> None:
    path = _write(tmp_path / "manifest.txt", CONFIGMAP.format(name="txt"))
    result = load_paths([path])
    assert [m.name for m in result.manifests] == ["txt"]
    assert result.manifests[0].file == str(path)


def test_missing_path_and_empty_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    empty = tmp_path / "empty"
    empty.mkdir()
    result = load_paths([missing, empty])
    assert [str(p) for p in result.problems] == [
        f"{missing}: no such file or directory",
        f"{empty}: no .yaml, .yml or .json files in this directory",
    ]


def test_files_keep_their_order_and_a_bad_file_does_not_hide_others(tmp_path: Path) -> None:
    good = _write(tmp_path / "good.yaml", CONFIGMAP.format(name="good"))
    bad = _write(tmp_path / "bad.yaml", "a: b: c\n")
    result = load_paths([bad, good])
    assert [m.name for m in result.manifests] == ["good"]
    assert [str(p) for p in result.problems] == [
        f"{bad}:1: mapping values are not allowed here (column 5)"
    ]


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"apiVersion: v1\nkind: ConfigMap\ndata: {k: \xe9}\n")
    assert [str(p) for p in load_paths([path]).problems] == [f"{path}:3: not UTF-8 text"]


def test_anchors_and_merge_keys() -> None:
    text = dedent(
        """\
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: merged, labels: &labels {app: web}}
        data:
          <<: {a: "1", b: "2"}
          b: "3"
        """
    )
    (m,) = load_text(text, "m.yaml").manifests
    assert m.obj["data"] == {"a": "1", "b": "3"}
    assert m.line_of("data.b") == 6


def test_valid_data_file_loads() -> None:
    result = load_paths([DATA / "valid-app.yaml"])
    assert result.problems == [] and result.skipped == []
    assert len(result.manifests) == 11


def _pipe(data: bytes) -> StandardInput:
    """A real pipe holding `data` (closed for writing), as standard input would be."""
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "wb") as writer:
        writer.write(data)
    return StandardInput(os.fdopen(read_end, "rb"))


def test_dash_reads_standard_input_and_names_it_stdin() -> None:
    text = CONFIGMAP.format(name="piped") + "---\nkind: ConfigMap\n"
    result = load_paths(["-"], _pipe(text.encode()))
    assert [m.name for m in result.manifests] == ["piped"]
    assert result.manifests[0].file == "<stdin>"
    assert [str(p) for p in result.problems] == ["<stdin>:8: ConfigMap/?: apiVersion: required"]


def test_standard_input_is_read_once_and_answers_the_same_text_again(tmp_path: Path) -> None:
    """Commands load twice (validate before building, then apply): the second load must not
    see an empty pipe."""
    stdin = _pipe(CONFIGMAP.format(name="again").encode())
    first = load_paths(["-"], stdin)
    second = load_paths([_write(tmp_path / "b.yaml", CONFIGMAP.format(name="b")), "-"], stdin)
    assert [m.name for m in first.manifests] == ["again"]
    assert [m.name for m in second.manifests] == ["b", "again"]


def test_dash_given_twice_is_a_problem() -> None:
    result = load_paths(["-", "-"], _pipe(CONFIGMAP.format(name="once").encode()))
    assert [m.name for m in result.manifests] == ["once"]
    assert [str(p) for p in result.problems] == [
        '<stdin>: "-" is given more than once; standard input can be read only once'
    ]


def _run_with_stdin(data: bytes, *paths: str) -> list[str]:
    """Problems of load_paths(paths), twice, in a process whose real stdin holds `data`."""
    script = (
        "import sys\n"
        "from localsvc.model.load import load_paths\n"
        "for _ in range(2):\n"
        "    result = load_paths(sys.argv[1:])\n"
        "    print(len(result.manifests), *result.problems, sep='\\n')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *paths],
        input=data, cwd=ROOT, capture_output=True, timeout=30, check=True,
    )
    return done.stdout.decode().splitlines()


def test_dash_reads_the_process_standard_input() -> None:
    text = CONFIGMAP.format(name="piped") + "---\napiVersion: v1\nkind: ConfigMap\ndata: [\n"
    problem = "<stdin>:11: expected the node content, but found '<stream end>' (column 1)"
    # a syntax error drops the whole text; the second load sees the same text, not an empty pipe
    assert _run_with_stdin(text.encode(), "-") == ["0", problem] * 2
    assert _run_with_stdin(CONFIGMAP.format(name="x").encode(), "-") == ["1", "1"]


def test_standard_input_larger_than_the_limit_is_refused() -> None:
    data = b"# padding\n" * (MAX_TEXT_BYTES // 10 + 1)
    problem = "<stdin>: larger than 8 MiB; split it into several files"
    assert _run_with_stdin(data, "-") == ["0", problem] * 2


def test_file_larger_than_the_limit_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (MAX_TEXT_BYTES + 1))
    assert [str(p) for p in load_paths([big]).problems] == [
        f"{big}: larger than 8 MiB; split it into several files"
    ]


def test_alias_bomb_file_fails_fast_with_its_line(tmp_path: Path) -> None:
    levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for name, previous in zip("bcdefghi", "abcdefgh"):
        levels.append(f"{name}: &{name} [{','.join(['*' + previous] * 9)}]")
    bomb = _write(tmp_path / "bomb.yaml", "\n".join(levels) + "\n")
    started = time.monotonic()
    result = load_paths([bomb])
    assert time.monotonic() - started < 1.0
    assert [str(p) for p in result.problems] == [
        f"{bomb}:6: aliases (*e) expand this text to more than 100000 values; "
        "write the repeated parts out or use fewer nested aliases"
    ]


@pytest.mark.parametrize(
    "value, message",
    [
        ("!!int x", '"x" is not a valid !!int'),
        (
            "!!python/object/apply:os.system [echo]",
            "the tag !!python/object/apply:os.system is not allowed; remove it",
        ),
        ("!secret x", "the tag !secret is not allowed; remove it"),
    ],
)
def test_explicit_tags_are_problems_not_tracebacks(value: str, message: str) -> None:
    text = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: a}}\ndata:\n  k: {value}\n"
    result = load_text(text, "t.yaml")
    assert [str(p) for p in result.problems] == [f"t.yaml:5: data.k: {message}"]
