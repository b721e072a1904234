# shellcheck shell=bash disable=SC2034 # the variables are read by the scripts that source this
# Sourced by .ci/run and .ci/podman-env.sh: where this host's pip finds packages besides PyPI (local
# wheel folders, torch among them, named in pip's configuration), for the tools that do not read
# pip's configuration: uv, which makes CI's virtualenvs, and the image builds.
HOST_FIND_LINKS=$(pip config get global.find-links 2>/dev/null || true)
HOST_EXTRA_INDEX=$(pip config get global.extra-index-url 2>/dev/null || true)
HOST_CERT=$(pip config get global.cert 2>/dev/null || true)
