# shellcheck shell=bash
# Sourced by .ci/containers: makes podman usable on this CI host, which has no Docker engine,
# no registry and a hybrid cgroup setup. Everything host-specific lives here, never in the
# Dockerfiles. Exports CONTAINERS_CONF, CONTAINERS_STORAGE_CONF and the BENCH_CONTAINER_* flags
# that `nox -s docker-cpu` passes to the engine.
#
# BENCH_PODMAN_STATE: where podman's storage and the base image's root file system go
#                     (default: a new temporary folder, removed by the caller).

BASE_TAG=docker.io/library/python:3.11-slim-bookworm   # what Dockerfile.cpu says FROM
CA=/etc/ssl/certs/ca-certificates.crt

need_packages() {
    local missing=()
    for tool in podman runc mmdebstrap; do
        command -v "$tool" >/dev/null || PATH=$PATH:/usr/sbin command -v "$tool" >/dev/null || missing+=("$tool")
    done
    if ((${#missing[@]})); then
        echo "ci: installing ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman runc mmdebstrap >/dev/null
    fi
    export PATH=$PATH:/usr/sbin
}

write_config() {
    mkdir -p "$STATE"
    # crun refuses this host's cgroups (runc + cgroupfs work); podman's default 1M open files
    # cannot be granted here.
    cat >"$STATE/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
EOF
    cat >"$STATE/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$STATE/storage"
runroot = "$STATE/run"
EOF
    export CONTAINERS_CONF=$STATE/containers.conf CONTAINERS_STORAGE_CONF=$STATE/storage.conf
}

debian_mirror() {
    # The host's own Debian mirror, read from its apt sources rather than written down here.
    grep -h -E '^(URIs:|deb) ' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
        grep -oE 'https?://[^ ]+/debian/?( |$)' | head -n 1 | tr -d ' ' || true
}

make_base_image() {
    # No registry can be reached, so the python:3.11-slim-bookworm the Dockerfile names is made
    # here: Debian bookworm's own Python 3.11 (in /usr/bin, not the official image's /usr/local).
    # mmdebstrap (apt's parallel downloads, a tar stream straight into podman): 25 CPU-s here,
    # where debootstrap, writing the tree to disk and reading it back, took 52.
    if podman image exists "$BASE_TAG"; then return; fi
    local mirror
    mirror=$(debian_mirror)
    [[ -n $mirror ]] || { echo "ci: no Debian mirror in the apt sources" >&2; return 1; }
    echo "ci: mmdebstrap bookworm (minbase + python3) from the host's mirror"
    # shellcheck disable=SC2016 # $1 is the hook's own argument: the tree being made
    mmdebstrap --quiet --variant=minbase --include=python3,python3-pip,python3-venv,ca-certificates \
        --customize-hook='rm -f "$1"/usr/lib/python3.*/EXTERNALLY-MANAGED' \
        --customize-hook='ln -sf python3 "$1/usr/bin/python"' \
        bookworm - "$mirror" 2>"$STATE/mmdebstrap.log" |
        podman import --change 'CMD ["python3"]' --change 'ENV LANG=C.UTF-8' - "$BASE_TAG" >/dev/null ||
        { tail -n 20 "$STATE/mmdebstrap.log" >&2; return 1; }
}

pip_sources_here() {
    # This host's pip reads wheels from local folders (torch among them); show them to the build.
    local flags=()
    # shellcheck source=.ci/pip-sources.sh
    source .ci/pip-sources.sh
    for url in $HOST_FIND_LINKS $HOST_EXTRA_INDEX; do
        local dir=${url#file://}
        dir=${dir%/simple}
        [[ -d $dir ]] && flags+=("-v" "$dir:$dir:ro")
    done
    [[ -n $HOST_FIND_LINKS ]] && flags+=("--build-arg" "PIP_FIND_LINKS=$HOST_FIND_LINKS")
    [[ -n $HOST_EXTRA_INDEX ]] && flags+=("--build-arg" "PIP_EXTRA_INDEX_URL=$HOST_EXTRA_INDEX")
    printf '%q ' "${flags[@]}"  # one line that the nox session splits as a shell would
}

podman_env() {
    STATE=${BENCH_PODMAN_STATE:?}
    need_packages
    write_config
    make_base_image
    export BENCH_CONTAINER_ENGINE=podman
    # chroot isolation builds on the host network without touching its firewall; the host's CA
    # bundle is mounted, not baked in (TLS here goes through an intercepting proxy).
    BENCH_CONTAINER_BUILD_FLAGS="--pull=never --isolation chroot -v $CA:$CA:ro $(pip_sources_here)"
    BENCH_CONTAINER_RUN_FLAGS="--network host -v $CA:$CA:ro"
    export BENCH_CONTAINER_BUILD_FLAGS BENCH_CONTAINER_RUN_FLAGS
}
