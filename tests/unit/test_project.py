"""Tests of localsvc.model.project: reading and validating localsvc.yaml, finding it, and lookups."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from localsvc.errors import ManifestError
from localsvc.model.names import dns1123_label_error
from localsvc.model.project import (
    PROJECT_FILE,
    ImageBuild,
    Project,
    SyncRule,
    default_environment_name,
    image_reference_error,
    load_project,
)

FULL = dedent(
    """\
    environment: shop
    manifests: [k8s/, extra.yaml]
    hostAddress: 127.0.0.2
    clusterDomain: cluster.local
    images:
      - name: shop/web:dev
        context: ./web
        args: {VERSION: 1.10, DEBUG: true, NAME: web, COUNT: 3}
        target: build-stage
        sync:
          - src: ./web/static
            dest: /app/static/
          - src: web/templates
            dest: /app/templates
      - name: localhost:5000/shop/api
        context: api
        dockerfile: docker/Dockerfile.dev
        target: 2024-01-01
    """
)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A project directory with the files and directories FULL (and the bad files) refer to."""
    root = tmp_path / "shop"
    for directory in ("k8s", "web/static/css", "web/templates", "api/docker", "other"):
        (root / directory).mkdir(parents=True)
    for file in ("extra.yaml", "web/Dockerfile", "api/docker/Dockerfile.dev", "other/x.txt"):
        (root / file).write_text("")
    return root


def _load(root: Path, text: str) -> Project:
    file = root / PROJECT_FILE
    file.write_text(text)
    return load_project(file)


def test_full_file(tree: Path) -> None:
    project = _load(tree, FULL)
    assert project == Project(
        path=tree / PROJECT_FILE,
        environment="shop",
        manifests=(tree / "k8s", tree / "extra.yaml"),
        host_address="127.0.0.2",
        cluster_domain="cluster.local",
        images=(
            ImageBuild(
                name="shop/web:dev",
                context=tree / "web",
                dockerfile="Dockerfile",
                args={"VERSION": "1.10", "DEBUG": "true", "NAME": "web", "COUNT": "3"},
                target="build-stage",
                sync=(
                    SyncRule(tree / "web" / "static", "/app/static"),
                    SyncRule(tree / "web" / "templates", "/app/templates"),
                ),
            ),
            ImageBuild(
                name="localhost:5000/shop/api",
                context=tree / "api",
                dockerfile="docker/Dockerfile.dev",
                args={},
                target="2024-01-01",
                sync=(),
            ),
        ),
    )
    assert project.environment_name == "shop"
    assert hash(project.images[0]) == hash(project.images[0])  # usable as a dict key


@pytest.mark.parametrize("text", ["", "# nothing yet\n", "~\n", "{}\n"])
def test_empty_file_is_a_project_with_defaults(tree: Path, text: str) -> None:
    project = _load(tree, text)
    assert project == Project(tree / PROJECT_FILE, None, (), None, None, ())
    assert project.environment_name == default_environment_name(tree)
    assert project.environment_name.startswith("shop-")


BAD: list[tuple[str, list[tuple[int | None, str]]]] = [
    # (file text, [(line, "path: message"), ...])
    ("imagez: []\n", [(1, 'imagez: unknown key; did you mean "images"?')]),
    ("host_address: 1.2.3.4\n", [(1, 'host_address: unknown key; did you mean "hostAddress"?')]),
    (
        "colour: red\n",
        [
            (
                1,
                (
                    "colour: unknown key; the known keys are environment, manifests, hostAddress, "
                    "clusterDomain, images, ingressHttpPort, ingressHttpsPort"
                ),
            )
        ],
    ),
    (
        "- a\n- b\n",
        [
            (
                1,
                (
                    "the file must be a mapping of settings "
                    "(environment, manifests, hostAddress, clusterDomain, images, "
                    "ingressHttpPort, ingressHttpsPort), not a list"
                ),
            )
        ],
    ),
    (
        "images: [\n",
        [(2, "expected the node content, but found '<stream end>' (column 1)")],
    ),
    (
        'images: []\nenvironment: "a\x01"\n',
        [(2, "unacceptable character #x0001: special characters are not allowed")],
    ),
    ("a: 1\n---\nb: 2\n", [(2, "but found another document (column 1)")]),
    (
        "environment: Shop_1\n",
        [
            (
                1,
                (
                    "environment: not a valid environment name: a lowercase "
                    "RFC 1123 label must consist of lower case alphanumeric "
                    "characters or '-', and must start and end with an "
                    'alphanumeric character (got "Shop_1")'
                ),
            )
        ],
    ),
    ("environment: 5\n", [(1, "environment: must be a string (got 5)")]),
    (
        "hostAddress: 127.0.0\n",
        [(1, 'hostAddress: "127.0.0" is not an IPv4 address, e.g. 127.0.0.1')],
    ),
    (
        "clusterDomain: -x.local\n",
        [
            (
                1,
                (
                    "clusterDomain: not a valid domain: a lowercase RFC 1123 "
                    "subdomain must consist of lower case alphanumeric "
                    "characters, '-' or '.', and must start and end with an "
                    'alphanumeric character (got "-x.local")'
                ),
            )
        ],
    ),
    ("manifests: k8s/\n", [(1, 'manifests: must be a list (got "k8s/"), e.g. [k8s/]')]),
    ("ingressHttpPort: 70000\ningressHttpsPort: '443'\n", [
        (1, "ingressHttpPort: must be a port number 0-65535 (0: any free port), got 70000"),
        (2, 'ingressHttpsPort: must be a port number 0-65535 (0: any free port), got "443"')]),
    (
        "manifests:\n  - k8s/\n  - kates/\n",
        [(3, "manifests[1]: kates/ does not exist (relative to {file})")],
    ),
    (
        "images: {web: .}\n",
        [(1, "images: must be a list (got a mapping), e.g. [{{name: web, context: .}}]")],
    ),
    (
        "images:\n  - web\n",
        [(2, 'images[0]: must be a mapping with name and context (got "web")')],
    ),
    (
        "images:\n  - contex: web\n",
        [
            (2, 'images[0].contex: unknown key; did you mean "context"?'),
            (2, "images[0].name: required"),
            (2, "images[0].context: required"),
        ],
    ),
    (
        "images:\n  - name: shop/web\n    context: ./wbe\n",
        [
            (3, "images[0].context: directory ./wbe does not exist (relative to {file})"),
        ],
    ),
    (
        "images:\n  - name: shop/web\n    context: extra.yaml\n",
        [
            (3, "images[0].context: extra.yaml is not a directory (relative to {file})"),
        ],
    ),
    (
        "images:\n  - {name: a, context: web}\n  - name: Shop/Web\n    context: web\n",
        [
            (
                3,
                (
                    'images[1].name: "Shop/Web" is not a valid image reference: '
                    "repository names must be lowercase"
                ),
            ),
        ],
    ),
    (
        "images:\n  - {name: 'shop/web:', context: web}\n",
        [
            (
                2,
                (
                    'images[0].name: "shop/web:" is not a valid image reference: tag "" must be 1 to '
                    '128 letters, digits, "_", "." or "-", not starting with "." or "-"'
                ),
            ),
        ],
    ),
    (
        "images:\n  - {name: shop/web@sha256:abc, context: web}\n",
        [
            (
                2,
                (
                    'images[0].name: "shop/web@sha256:abc" is not a valid image reference: a built '
                    "image cannot be named by digest; use repository[:tag]"
                ),
            ),
        ],
    ),
    (
        (
            "images:\n  - {name: shop/web, context: web}\n  - {name: 'shop/web:latest', context: api,"
            " dockerfile: docker/Dockerfile.dev}\n"
        ),
        [
            (
                3,
                (
                    'images[1].name: "shop/web:latest" is already built by images[0]; give each image '
                    "its own name or tag"
                ),
            ),
        ],
    ),
    (
        "images:\n  - name: web\n    context: api\n",
        [
            (
                2,
                (
                    "images[0].dockerfile: no Dockerfile in the context {root}/api; add one or set "
                    "dockerfile"
                ),
            ),
        ],
    ),
    (
        "images:\n  - name: web\n    context: web\n    dockerfile: Dockerfil\n",
        [
            (4, "images[0].dockerfile: file Dockerfil does not exist in the context {root}/web"),
        ],
    ),
    (
        "images:\n  - name: web\n    context: web\n    args: {A: [1], B: ~}\n",
        [
            (
                4,
                (
                    'images[0].args.A: must be a string, number or boolean (got a list); write "" for '
                    "empty"
                ),
            ),
            (
                4,
                (
                    'images[0].args.B: must be a string, number or boolean (got null); write "" for '
                    "empty"
                ),
            ),
        ],
    ),
    (
        (
            "images:\n  - name: web\n    context: web\n    sync:\n      - src: other\n"
            "        dest: app\n"
        ),
        [
            (
                5,
                (
                    "images[0].sync[0].src: other is outside the image's context {root}/web; sync "
                    "sources must be inside it"
                ),
            ),
            (
                6,
                (
                    'images[0].sync[0].dest: "app" must be an absolute path in the container, '
                    "e.g. /app"
                ),
            ),
        ],
    ),
    (
        "images:\n  - name: web\n    context: web\n    sync:\n      - {src: web/statik}\n",
        [
            (5, "images[0].sync[0].src: web/statik does not exist (relative to {file})"),
            (5, "images[0].sync[0].dest: required"),
        ],
    ),
    (
        "environment: a\nenvironment: b\n",
        [
            (2, 'environment: mapping key "environment" already defined at line 1; keep only one'),
        ],
    ),
    ("? [a]\n: 1\n", [(1, "mapping keys must be strings")]),
    # Issue 10 case 9: build paths stay inside the project directory.
    (
        "images:\n  - name: web\n    context: ../..\n",
        [(3, "images[0].context: ../.. is outside the project directory {root}; build contexts "
             "must be inside it")],
    ),
    (
        "images:\n  - name: web\n    context: /etc\n",
        [(3, "images[0].context: /etc is outside the project directory {root}; build contexts "
             "must be inside it")],
    ),
    (
        "images:\n  - name: web\n    context: web/../../shop/../other-project\n",
        [(3, "images[0].context: web/../../shop/../other-project is outside the project "
             "directory {root}; build contexts must be inside it")],
    ),
    (
        "images:\n  - name: web\n    context: web\n    dockerfile: ../../Dockerfile\n",
        [(4, "images[0].dockerfile: ../../Dockerfile is outside the project directory {root}; "
             "Dockerfiles must be inside it")],
    ),
    (
        "images:\n  - name: web\n    context: web\n    dockerfile: /etc/passwd\n",
        [(4, "images[0].dockerfile: /etc/passwd is outside the project directory {root}; "
             "Dockerfiles must be inside it")],
    ),
    (
        "images:\n  - name: web\n    context: web\n    sync: [{src: .., dest: /app}]\n",
        [(4, "images[0].sync[0].src: .. is outside the project directory {root}; sync sources "
             "must be inside it")],
    ),
    # Issue 10 case 9: the file alone cannot open NodePorts to the network.
    (
        "hostAddress: 0.0.0.0\n",
        [(1, "hostAddress: 0.0.0.0 is not a loopback address: NodePorts on it are reachable "
             "from other machines, so the file alone cannot ask for it; pass --host-address "
             "0.0.0.0 on the command line, or use 127.0.0.1")],
    ),
    (
        "hostAddress: 192.168.1.20\n",
        [(1, "hostAddress: 192.168.1.20 is not a loopback address: NodePorts on it are reachable "
             "from other machines, so the file alone cannot ask for it; pass --host-address "
             "192.168.1.20 on the command line, or use 127.0.0.1")],
    ),
    # Issue 10 case 5: the project file is read by the same bounded reader as manifests.
    (
        "environment: !!python/object/apply:os.system [true]\n",
        [(1, "environment: the tag !!python/object/apply:os.system is not allowed; remove it"),
         (1, "environment: must be a string (got a list)")],
    ),
    (
        "environment: !!int x\n",
        [(1, 'environment: "x" is not a valid !!int')],
    ),
    (
        "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"{n}: &{n} [{', '.join(['*' + p] * 10)}]\n" for p, n in zip("abcde", "bcdef")),
        [(5, "aliases (*d) expand this text to more than 100000 values; write the repeated parts "
             "out or use fewer nested aliases")],
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_files(tree: Path, text: str, expected: list[tuple[int | None, str]]) -> None:
    file = tree / PROJECT_FILE
    with pytest.raises(ManifestError) as caught:
        _load(tree, text)
    lines = [
        f"{file}:{line}: {rest.format(file=file, root=tree)}"
        for line, rest in expected
    ]
    assert [str(p) for p in caught.value.problems] == lines


def test_every_problem_is_reported_at_once(tree: Path) -> None:
    text = "imagez: []\nhostAddress: x\nimages:\n  - {name: A, context: nope}\n"
    with pytest.raises(ManifestError) as caught:
        _load(tree, text)
    assert [p.path for p in caught.value.problems] == [
        "imagez",
        "hostAddress",
        "images[0].name",
        "images[0].context",
    ]
    assert str(caught.value).startswith("4 problems in the manifests")


def test_missing_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as caught:
        load_project(tmp_path / PROJECT_FILE)
    assert [str(p) for p in caught.value.problems] == [
        f"{tmp_path / PROJECT_FILE}: no such file"
    ]
    (tmp_path / PROJECT_FILE).write_bytes(b"environment: \xff\n")
    with pytest.raises(ManifestError, match="not UTF-8 text"):
        load_project(tmp_path / PROJECT_FILE)


@pytest.mark.parametrize(
    ("ref", "error"),
    [
        ("web", None),
        ("shop/web:dev", None),
        ("registry.example.com:5000/team/web_app:v1.2-rc_3", None),
        ("localhost/web", None),
        ("a__b/c-d--e:X", None),
        ("", "must not be empty"),
        ("Web", "repository names must be lowercase"),
        ("My.Registry.io/web", None),  # registry host names may use capitals
        (
            "shop/-web",
            '"-web" must be lowercase letters and digits, separated by ".", "_", "__" or "-"',
        ),
        (
            "shop//web",
            '"" must be lowercase letters and digits, separated by ".", "_", "__" or "-"',
        ),
        ("host:x/web", 'registry "host:x" must be a host name with an optional :port'),
        (
            "web:" + "t" * 129,
            'tag "' + "t" * 129 + '" must be 1 to 128 letters, digits, "_", '
            '"." or "-", not starting with "." or "-"',
        ),
    ],
)
def test_image_reference_error(ref: str, error: str | None) -> None:
    assert image_reference_error(ref) == error


def _image(name: str, context: Path, *sync: SyncRule) -> ImageBuild:
    return ImageBuild(name, context, "Dockerfile", {}, None, sync)


def test_image_for_deepest_context_wins(tmp_path: Path) -> None:
    root = _image("root", tmp_path)
    web = _image("web", tmp_path / "web")
    admin = _image("admin", tmp_path / "web" / "admin")
    twin = _image("twin", tmp_path / "web")
    project = Project(tmp_path / PROJECT_FILE, None, (), None, None, (root, web, admin, twin))
    assert project.image_for(tmp_path / "web" / "admin" / "x.py") is admin
    assert project.image_for(tmp_path / "web" / "admin") is admin
    assert project.image_for(tmp_path / "web" / "administrator.py") is web  # not a prefix match
    assert project.image_for(tmp_path / "web" / "admin" / ".." / "a.py") is web
    assert project.image_for(tmp_path / "README.md") is root
    assert project.image_for(tmp_path.parent / "elsewhere") is None


def test_sync_rule_for(tmp_path: Path) -> None:
    static = SyncRule(tmp_path / "web" / "static", "/app/static")
    css = SyncRule(tmp_path / "web" / "static" / "css", "/srv/css")
    one = SyncRule(tmp_path / "web" / "main.py", "/app/main.py")
    web = _image("web", tmp_path / "web", static, css, one)
    project = Project(tmp_path / PROJECT_FILE, None, (), None, None, (web,))
    assert project.sync_rule_for(web, tmp_path / "web" / "static" / "a.png") is static
    assert project.sync_rule_for(web, tmp_path / "web" / "static" / "css" / "a.css") is css
    assert project.sync_rule_for(web, tmp_path / "web" / "main.py") is one
    assert project.sync_rule_for(web, tmp_path / "web" / "main.pyc") is None
    assert project.sync_rule_for(web, tmp_path / "web" / "Dockerfile") is None
    assert static.dest_for(tmp_path / "web" / "static" / "img" / "a.png") == "/app/static/img/a.png"
    assert one.dest_for(tmp_path / "web" / "main.py") == "/app/main.py"


def test_public_host_address_is_accepted_when_the_command_line_allows_it(tree: Path) -> None:
    file = tree / PROJECT_FILE
    file.write_text("hostAddress: 0.0.0.0\n")
    assert load_project(file, allow_public_host_address=True).host_address == "0.0.0.0"
    file.write_text("hostAddress: 127.0.0.5\n")
    assert load_project(file).host_address == "127.0.0.5"


def test_symlinks_escaping_the_project_are_refused(tree: Path) -> None:
    outside = tree.parent / "secrets"
    outside.mkdir()
    (outside / "Dockerfile").write_text("FROM scratch\n")
    (tree / "escape").symlink_to(outside)
    (tree / "web" / "Dockerfile.link").symlink_to(outside / "Dockerfile")
    (tree / "web" / "static" / "keys").symlink_to(outside)
    text = dedent(
        """\
        images:
          - name: a
            context: escape
          - name: b
            context: web
            dockerfile: Dockerfile.link
          - name: c
            context: web
            sync: [{src: web/static/keys, dest: /keys}]
        """
    )
    with pytest.raises(ManifestError) as caught:
        _load(tree, text)
    assert [(p.line, p.path, p.message) for p in caught.value.problems] == [
        (3, "images[0].context", f"escape is outside the project directory {tree} (through a "
         f"symlink, to {outside}); build contexts must be inside it"),
        (6, "images[1].dockerfile", f"Dockerfile.link is outside the project directory {tree} "
         f"(through a symlink, to {outside / 'Dockerfile'}); Dockerfiles must be inside it"),
        (9, "images[2].sync[0].src", f"web/static/keys is outside the project directory {tree} "
         f"(through a symlink, to {outside}); sync sources must be inside it"),
    ]


def test_symlinks_inside_the_project_are_fine(tree: Path) -> None:
    (tree / "web-link").symlink_to(tree / "web")
    project = _load(tree, "images:\n  - name: web\n    context: web-link\n")
    assert project.images[0].context == tree / "web-link"


def test_default_environment_name_is_unique_per_path_and_readable(tmp_path: Path) -> None:
    """Issue 10 case 8: two checkouts named `app` must not share one environment."""
    one, two = tmp_path / "ci-1" / "app", tmp_path / "ci-2" / "app"
    one.mkdir(parents=True)
    two.mkdir(parents=True)
    first, second = default_environment_name(one), default_environment_name(two)
    assert first != second
    assert first.startswith("app-") and len(first) == len("app-") + 6
    assert first == default_environment_name(tmp_path / "ci-1" / "sub" / ".." / "app")
    link = tmp_path / "link"
    link.symlink_to(one)
    assert default_environment_name(link) == first  # one directory, one name, however reached


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("My App_2", "my-app-2"),
        ("a" * 80, "a" * 23),
        ("---", "default"),
        ("Ünïcode", "n-code"),
    ],
)
def test_default_environment_name_is_a_valid_short_label(
    tmp_path: Path, name: str, stem: str
) -> None:
    directory = tmp_path / name
    directory.mkdir()
    result = default_environment_name(directory)
    assert result.rsplit("-", 1)[0] == stem
    assert len(result) <= 30
    assert dns1123_label_error(result) is None


def test_ingress_ports(tree: Path) -> None:
    project = _load(tree, "ingressHttpPort: 8080\ningressHttpsPort: 0\n")
    assert project.ingress_ports == (8080, 0)
    assert _load(tree, "environment: shop\n").ingress_ports == (None, None)
