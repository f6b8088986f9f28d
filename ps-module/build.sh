#!/usr/bin/env bash
# Builds the tvmkeys engine (cargo, dev profile) and the C# shim, then stages the module folder
# target/TvmBackupUtils/ (psd1, psm1, dll, formats, help, runtimes/<rid>/native/<engine library>).
# The staged folder is a build output: it is wiped and rebuilt on every run. Runnable from any directory.
#
#   bash ps-module/build.sh               build both, then stage
#   bash ps-module/build.sh --skip-cargo  stage with the engine library already in the cargo target folder
set -euo pipefail

module_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$module_dir/.." && pwd)"
cargo_target="${CARGO_TARGET_DIR:-$repo_root/target}"
stage="$repo_root/target/TvmBackupUtils"

skip_cargo=0
for arg in "$@"; do
    case "$arg" in
        --skip-cargo) skip_cargo=1 ;;
        *) echo "build.sh: unknown argument '$arg' (known: --skip-cargo)" >&2; exit 2 ;;
    esac
done

# The runtime identifier and library name, as the shim's loader computes them at run time.
case "$(uname -s)" in
    Linux) os=linux; lib=libtvmkeys.so ;;
    Darwin) os=osx; lib=libtvmkeys.dylib ;;
    MINGW* | MSYS* | CYGWIN*) os=win; lib=tvmkeys.dll ;;
    *) echo "build.sh: unsupported operating system $(uname -s)" >&2; exit 1 ;;
esac
case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    i386 | i686) arch=x86 ;;
    *) echo "build.sh: unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac
rid="$os-$arch"

if [[ "$skip_cargo" -eq 0 ]]; then
    (cd "$repo_root" && cargo build)
fi
native="$cargo_target/debug/$lib"
if [[ ! -f "$native" ]]; then
    echo "build.sh: the engine library $native does not exist; run cargo build at $repo_root" >&2
    exit 1
fi

dotnet build "$module_dir/src" -c Release --nologo -v minimal
dll_dir="$module_dir/src/bin/Release/netstandard2.0"

rm -rf "$stage"
mkdir -p "$stage/runtimes/$rid/native"
cp "$module_dir/TvmBackupUtils.psd1" "$module_dir/TvmBackupUtils.psm1" "$stage/"
cp "$dll_dir/TvmBackupUtils.dll" "$stage/"
if [[ -f "$dll_dir/TvmBackupUtils.pdb" ]]; then
    cp "$dll_dir/TvmBackupUtils.pdb" "$stage/"
fi
if [[ -f "$module_dir/TvmBackupUtils.Format.ps1xml" ]]; then
    cp "$module_dir/TvmBackupUtils.Format.ps1xml" "$stage/"
fi
if [[ -d "$module_dir/en-US" ]]; then
    cp -R "$module_dir/en-US" "$stage/"
fi
cp "$native" "$stage/runtimes/$rid/native/$lib"

echo "Staged TvmBackupUtils ($rid) in $stage"
