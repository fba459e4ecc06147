#!/usr/bin/env bash
# Integration tests of a project (manifests in k8s/, tests using the localsvc pytest plugin) on a
# plain shell CI runner: Debian/Ubuntu, as root or as a user allowed to use Docker.
#
#   bash plain-ci.sh [PYTEST ARGS...]     run from the project's directory
#
# Settings (environment variables):
#   LOCALSVC_REQ  what pip installs (default: localsvc[test]; a checkout: /path/to/localsvc[test])
#   MANIFESTS     the manifests directory for the smoke `localsvc up` (default: k8s/)
#   LOCALSVC_ENV  name of the smoke environment (default: ci-<pid>-<time>)
#   VENV          virtualenv to create/use (default: .ci-venv)
#
# Steps: make a Docker engine available (as localsvc's scripts/provision-docker does), install,
# start the app once with `localsvc up -d` as a smoke check, run pytest, and always remove the
# smoke environment, also when a step fails or the job is interrupted.
set -euo pipefail

LOCALSVC_REQ=${LOCALSVC_REQ:-localsvc[test]}
MANIFESTS=${MANIFESTS:-k8s/}
VENV=${VENV:-.ci-venv}
export LOCALSVC_ENV=${LOCALSVC_ENV:-ci-$$-$(date +%s)}
export NO_COLOR=1

say() { printf 'plain-ci: %s\n' "$*"; }
die() { printf 'plain-ci: %s\n' "$*" >&2; exit 1; }

provision_docker() {
    # scripts/provision-docker's semantics: nothing when `docker info` works; as root install
    # docker.io (and debootstrap, for building the base image without a registry), start dockerd
    # and wait up to 60 s; otherwise say what to do.
    docker info >/dev/null 2>&1 && return 0
    [ "$(id -u)" -eq 0 ] || die "no working Docker engine ('docker info' fails) and not root:
start Docker and give this user access to it (the 'docker' group), or run this script as root"
    if ! command -v dockerd >/dev/null 2>&1; then
        say "installing docker.io"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            docker.io debootstrap >/dev/null
    fi
    say "starting dockerd (log: /var/log/localsvc-dockerd.log)"
    nohup dockerd >>/var/log/localsvc-dockerd.log 2>&1 </dev/null &
    for _ in $(seq 60); do
        docker info >/dev/null 2>&1 && { say "docker engine is up"; return 0; }
        sleep 1
    done
    tail -n 20 /var/log/localsvc-dockerd.log >&2 || true
    die "the Docker engine did not answer within 60 s"
}

provision_docker

if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV"
    python3 -m venv "$VENV"
fi
say "installing $LOCALSVC_REQ"
"$VENV/bin/python" -m pip install -q "$LOCALSVC_REQ"
[ -f requirements.txt ] && "$VENV/bin/python" -m pip install -q -r requirements.txt
export PATH="$PWD/$VENV/bin:$PATH"

# From here on the smoke environment may exist: remove it however the script ends.
trap 'say "removing environment $LOCALSVC_ENV"; localsvc down >/dev/null || true' EXIT
trap 'exit 130' INT TERM

say "smoke check: localsvc up -d -f $MANIFESTS (environment $LOCALSVC_ENV)"
localsvc up -d -f "$MANIFESTS"
localsvc get pods -o wide

say "pytest $*"
set +e
python -m pytest -q "$@"
code=$?
set -e
if [ "$code" -ne 0 ]; then
    localsvc get pods -A -o wide || true
fi
exit "$code"
