#!/usr/bin/env bash
# README command 2: every test, on a fresh machine.
#   1. cargo test: the engine, the Python-made vectors, every C ABI export, the committed header.
#   2. the module is built and staged (ps-module/build.sh).
#   3. dotnet test: xunit tests that Import-Module the staged module into the real PowerShell 7.6 engine.
#   4. README command 1, the rehearsal, end to end through the console host (one more test).
# Ends with one line `tests: N passed, N failed` summing them.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

cargo test --offline 2>&1 | tee "$logs/cargo.log"
bash ps-module/build.sh
dotnet test tests/TvmBackupUtils.Tests --nologo --logger "console;verbosity=normal" 2>&1 | tee "$logs/dotnet.log"
bash tests/rehearsal/run.sh 2>&1 | tee "$logs/rehearsal.log"
grep -q '^REHEARSAL PASSED' "$logs/rehearsal.log"

# Both runners exited 0 (set -e and pipefail), so only the counts remain to be summed.
# Sums the numbers of every match of $2 on the lines that match $1 (awk alone: a pattern may match nothing).
sum() {
    awk -v line="$1" -v item="$2" '$0 ~ line {
        while (match($0, item)) { t = substr($0, RSTART, RLENGTH); gsub(/[^0-9]/, "", t); s += t; $0 = substr($0, RSTART + RLENGTH) }
    } END { print s + 0 }' "$3"
}
cargo_passed=$(sum '^test result:' '[0-9]+ passed' "$logs/cargo.log")
cargo_failed=$(sum '^test result:' '[0-9]+ failed' "$logs/cargo.log")
dotnet_passed=$(sum '^ *Passed: *[0-9]+' 'Passed: *[0-9]+' "$logs/dotnet.log")
dotnet_failed=$(sum '^ *Failed: *[0-9]+' 'Failed: *[0-9]+' "$logs/dotnet.log")
if [[ "$dotnet_passed" -eq 0 ]]; then
    echo "tests/run-all.sh: dotnet test ran no test" >&2
    exit 1
fi
echo "tests: $((cargo_passed + dotnet_passed + 1)) passed, $((cargo_failed + dotnet_failed)) failed"
