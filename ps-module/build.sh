#!/usr/bin/env bash
# Forwards to build.ps1 Stage (the one build script): stages target/TvmBackupUtils/.
#   bash ps-module/build.sh           release build of the engine
#   bash ps-module/build.sh --debug   a debug build of the engine
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
args=()
for arg in "$@"; do
    case "$arg" in
        --debug) args+=(-DebugEngine) ;;
        *) echo "build.sh: unknown argument '$arg' (known: --debug)" >&2; exit 2 ;;
    esac
done
cd "$repo"
dotnet tool restore >/dev/null
exec dotnet pwsh -NoLogo -NoProfile -File ./build.ps1 Stage "${args[@]}"
