#!/usr/bin/env bash
# README command 2: every test, on a fresh machine.
#   1. cargo test: the engine, the Python-made vectors, every C ABI export, the committed header.
#   2. the module is built and staged (ps-module/build.sh).
#   3. dotnet test: xunit tests that Import-Module the staged module into the real PowerShell 7.6 engine.
# Ends with one line `tests: N passed, N failed` summing both runners.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

cargo test --offline 2>&1 | tee "$logs/cargo.log"
bash ps-module/build.sh --skip-cargo
dotnet test tests/TvmBackupUtils.Tests --nologo --logger "console;verbosity=normal" 2>&1 | tee "$logs/dotnet.log"

# Both runners exited 0 (set -e and pipefail), so only the counts remain to be summed.
cargo_passed=$(grep -Eo '[0-9]+ passed' "$logs/cargo.log" | awk '{s+=$1} END {print s+0}')
cargo_failed=$(grep -Eo '[0-9]+ failed' "$logs/cargo.log" | awk '{s+=$1} END {print s+0}')
dotnet_passed=$(grep -Eo 'Passed: +[0-9]+' "$logs/dotnet.log" | awk '{s+=$2} END {print s+0}')
dotnet_failed=$(grep -Eo 'Failed: +[0-9]+' "$logs/dotnet.log" | awk '{s+=$2} END {print s+0}')
if [[ "$dotnet_passed" -eq 0 ]]; then
    echo "tests/run-all.sh: dotnet test ran no test" >&2
    exit 1
fi
echo "tests: $((cargo_passed + dotnet_passed)) passed, $((cargo_failed + dotnet_failed)) failed"
