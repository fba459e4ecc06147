# The localsvc node image: `localsvc node` (API, controller, prober, DNS, service proxy).
#
# Built by localsvc itself (localsvc/runtime/node_image.py) from a temporary context holding this
# file, the localsvc package and wheels/ (cp311 wheels downloaded on the host + requirements.txt),
# with BASE = python:3.11-slim-bookworm when pullable, else a debootstrapped Debian bookworm.
# A plain `docker build -t localsvc-node .` at the repository root works too where containers
# reach PyPI: without wheels/, the requirements come from pyproject.toml and the package index.
# Kept to what both builders accept (localsvc uses BuildKit when the engine has it, else the
# classic builder): no RUN --mount, no heredocs.
ARG BASE=python:3.11-slim-bookworm
FROM ${BASE}

ENV LANG=C.UTF-8 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# OS tools of the node: ip (iproute2), nft (nftables), ps (procps), venv support, and HAProxy, the
# proxy of the ingress controller container (node/ingressctl.py runs this image as it). apt runs
# only for what the base lacks (python:*-slim has none of the tools).
RUN set -eu; missing=""; \
    command -v ip >/dev/null 2>&1 || missing="$missing iproute2"; \
    command -v nft >/dev/null 2>&1 || missing="$missing nftables"; \
    command -v ps >/dev/null 2>&1 || missing="$missing procps"; \
    command -v haproxy >/dev/null 2>&1 || missing="$missing haproxy"; \
    python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing="$missing python3-venv"; \
    if [ -n "$missing" ]; then \
        apt-get update; \
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing; \
        rm -rf /var/lib/apt/lists/*; \
    fi; \
    python3 -m venv /opt/localsvc

ENV PATH=/opt/localsvc/bin:$PATH

# Dependencies before the package code, so that code changes rebuild only the last layers.
# `wheel[s]` and `pyproject.toml*` are globs: COPY skips whichever is absent (the Dockerfile
# itself is listed so that the source list is never empty). wheels/'s content lands in /build/.
COPY Dockerfile pyproject.toml* wheel[s] /build/
RUN set -eu; cd /build; \
    if [ ! -f requirements.txt ]; then \
        [ -f pyproject.toml ] || { echo "build context has neither wheels/requirements.txt nor pyproject.toml" >&2; exit 1; }; \
        python3 -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(p["dependencies"] + p.get("optional-dependencies", {}).get("fast", [])))' > requirements.txt; \
    fi; \
    if ls ./*.whl >/dev/null 2>&1; then \
        pip install --no-index --find-links /build -r requirements.txt; \
    else \
        pip install -r requirements.txt; \
    fi; \
    cd /; rm -rf /build

COPY localsvc /opt/localsvc/src/localsvc
ENV PYTHONPATH=/opt/localsvc/src
RUN python3 -m compileall -q /opt/localsvc/src/localsvc

LABEL io.localsvc.image=node
ENTRYPOINT ["python3", "-m", "localsvc"]
CMD ["node"]
