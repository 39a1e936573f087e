#!/bin/sh
# The image's entrypoint. A Procfile process type (`web`, `worker`, `release`) runs that line of the
# Procfile as a Procfile platform does: through a shell, so ${PORT:-8000} and the like expand, and
# exec'd, so the process itself receives SIGTERM and drains. Anything else runs as given, e.g. the
# `sh -c "exec ..."` commands that `python -m cli deploy` writes for ECS and Kubernetes.
set -eu
if [ "$#" -eq 1 ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    case $line in
      "$1:"*) eval "exec ${line#"$1:"}" ;;
    esac
  done < Procfile
fi
exec "$@"
