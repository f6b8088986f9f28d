#!/usr/bin/env bash
# README command 2, forwarded to build.ps1 Test: every test, ending with `tests: N passed, N failed`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dotnet tool restore
exec dotnet pwsh -NoLogo -NoProfile -File ./build.ps1 Test
