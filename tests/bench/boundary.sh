#!/usr/bin/env bash
# Compares two staged module folders (before and after a change) on Boundary.ps1: backup and restore of
# BENCH_KEYS keys on the local vault. Each module runs in its own PowerShell process, alternating
# before/after/before/after... (BENCH_ROUNDS processes each), so machine noise hits both alike; each process
# does BENCH_RUNS timed runs. The medians are taken over all runs of all processes of a module.
#
#   bash tests/bench/boundary.sh BEFORE_MODULE [AFTER_MODULE]
#
# BEFORE_MODULE / AFTER_MODULE: staged module folders (as ps-module/build.sh stages target/TvmBackupUtils/).
# Without AFTER_MODULE only BEFORE_MODULE is measured.
#
# Environment:
#   BENCH_KEYS=1000     keys in the vault
#   BENCH_RUNS=3        timed runs per process
#   BENCH_ROUNDS=2      processes per module
#   PWSH=<path>         the pwsh to use (default: pwsh on PATH, else the tool manifest's pwsh)
#   BENCH_WORK=<dir>    where the vaults and logs go (default: a new folder under /tmp, removed at the end
#                       unless BENCH_KEEP=1; a given BENCH_WORK keeps its logs). Every vault write is
#                       fsync'ed, so on disk the figures include the disk's sync latency and its noise;
#                       BENCH_WORK=/dev/shm/<name> (tmpfs) leaves mostly the CPU work (engine, C ABI, cmdlets)
#   BENCH_KEEP=1        keep each process's vaults and backups too
#   BENCH_SETTLE=3      seconds of pause (after a sync) between two processes
set -euo pipefail

bench_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$bench_dir/../.." && pwd)"
script="$bench_dir/Boundary.ps1"
keys="${BENCH_KEYS:-1000}"
runs="${BENCH_RUNS:-3}"
rounds="${BENCH_ROUNDS:-2}"

if [[ $# -lt 1 || $# -gt 2 ]]; then
    echo "usage: bash tests/bench/boundary.sh BEFORE_MODULE [AFTER_MODULE]" >&2
    exit 2
fi
labels=(before)
modules=("$(cd "$1" && pwd)")
if [[ $# -eq 2 ]]; then
    labels+=(after)
    modules+=("$(cd "$2" && pwd)")
fi
for m in "${modules[@]}"; do
    if [[ ! -f "$m/TvmBackupUtils.psd1" ]]; then
        echo "boundary.sh: $m is not a staged module folder (no TvmBackupUtils.psd1)" >&2
        exit 2
    fi
done

# One host for both modules: $PWSH, else pwsh on PATH, else the pwsh of the repository's tool manifest
# (`dotnet tool restore` installs it).
pwsh_bin="${PWSH:-}"
if [[ -z "$pwsh_bin" ]]; then
    if command -v pwsh >/dev/null 2>&1; then
        pwsh_bin="$(command -v pwsh)"
    else
        (cd "$repo" && dotnet tool restore >/dev/null)
        pwsh_bin="$(cd "$repo" && dotnet pwsh -NoProfile -Command '[IO.Path]::Combine($PSHOME, "pwsh")')"
    fi
fi
[[ -x "$pwsh_bin" ]] || { echo "boundary.sh: no pwsh at '$pwsh_bin' (set PWSH)" >&2; exit 2; }
host_cmd=("$pwsh_bin" -NoLogo -NoProfile -NonInteractive -File)

work="${BENCH_WORK:-$(mktemp -d /tmp/tvm-bench.XXXXXX)}"
mkdir -p "$work"
echo "host: ${host_cmd[*]} $script"
echo "keys=$keys runs/process=$runs processes/module=$rounds work=$work"
for i in "${!labels[@]}"; do echo "${labels[$i]}: ${modules[$i]}"; done

for ((round = 1; round <= rounds; round++)); do
    for i in "${!labels[@]}"; do
        label="${labels[$i]}"
        dir="$work/$label-$round"
        log="$work/$label-$round.log"
        rm -rf "$dir"
        echo "== $label, process $round of $rounds"
        if ! "${host_cmd[@]}" "$script" -ModulePath "${modules[$i]}" -WorkPath "$dir" -Keys "$keys" -Runs "$runs" \
            >"$log" 2>&1; then
            sed 's/^/   | /' "$log"
            echo "boundary.sh: the $label process $round failed (log: $log)" >&2
            exit 1
        fi
        grep -E '^(HOST|SEED|RUN|BENCH) ' "$log" | sed 's/^/   /'
        [[ "${BENCH_KEEP:-0}" == 1 ]] || rm -rf "$dir"
        # Let the deletes and write-back settle before the next process, the same for every module.
        sync
        sleep "${BENCH_SETTLE:-3}"
    done
done

# Medians over every RUN line of a module's processes.
median() { # label field
    cat "$work/$1"-*.log | awk -v f="$2" '
        $1 == "RUN" { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == f) v[n++] = kv[2] + 0 } }
        END {
            if (n == 0) { print "-"; exit }
            for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
            m = (n % 2) ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2
            printf "%.1f", m
        }'
}
allruns() { # label field
    cat "$work/$1"-*.log | awk -v f="$2" '
        $1 == "RUN" { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == f) { printf "%s%s", sep, kv[2]; sep = " " } } }'
}

echo
echo "== medians over $((runs * rounds)) runs per module, $keys keys (ms)"
header="$(printf '%-12s' '')"
for label in "${labels[@]}"; do header+="$(printf '%12s' "$label")"; done
[[ ${#labels[@]} -eq 2 ]] && header+="$(printf '%14s' 'after/before')"
echo "$header"
for field in backup_ms restore_ms; do
    line="$(printf '%-12s' "$field")"
    vals=()
    for label in "${labels[@]}"; do
        v="$(median "$label" "$field")"
        vals+=("$v")
        line+="$(printf '%12s' "$v")"
    done
    if [[ ${#labels[@]} -eq 2 ]]; then
        line+="$(printf '%14s' "$(awk -v a="${vals[1]}" -v b="${vals[0]}" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }')")"
    fi
    echo "$line"
done
for label in "${labels[@]}"; do
    echo "$label all runs: backup_ms [$(allruns "$label" backup_ms)] restore_ms [$(allruns "$label" restore_ms)]"
done
for label in "${labels[@]}"; do
    echo "BOUNDARY $label keys=$keys runs=$((runs * rounds)) backup_ms=$(median "$label" backup_ms) restore_ms=$(median "$label" restore_ms)"
done
[[ "${BENCH_KEEP:-0}" == 1 || -n "${BENCH_WORK:-}" ]] || rm -rf "$work"
