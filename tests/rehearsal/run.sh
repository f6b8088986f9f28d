#!/usr/bin/env bash
# README command 1, forwarded to build.ps1 Rehearsal: backup of a local vault, restore into a second one.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
dotnet tool restore
exec dotnet pwsh -NoLogo -NoProfile -File ./build.ps1 Rehearsal
