#!/usr/bin/env bash
# README command 1: builds everything, then runs the rehearsal (Rehearsal.ps1) in real PowerShell:
# `pwsh` where there is one, else the project's small host over the NuGet PowerShell 7.6 engine.
# Each run works in a new folder under target/rehearsal/ and leaves it there for inspection.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bash "$repo/ps-module/build.sh"
work="$repo/target/rehearsal/$(date +%Y%m%d%H%M%S)-$$"
mkdir -p "$work"
script="$repo/tests/rehearsal/Rehearsal.ps1"
if command -v pwsh >/dev/null 2>&1; then
    exec pwsh -NoLogo -NoProfile -NonInteractive -File "$script" -ModulePath "$repo/target/TvmBackupUtils" -WorkPath "$work"
fi
dotnet build "$repo/tests/TvmHost" -c Release --nologo -v quiet
exec dotnet "$repo/tests/TvmHost/bin/Release/net10.0/TvmHost.dll" -NonInteractive -File "$script" \
    -ModulePath "$repo/target/TvmBackupUtils" -WorkPath "$work"
