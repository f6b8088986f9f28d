#!/usr/bin/env bash
# Builds the tvmkeys engine (cargo, release profile) and the C# shim, then stages the module folder
# target/TvmBackupUtils/ (psd1, psm1, dll, formats, help, runtimes/<rid>/native/<engine library>).
# The staged folder is a build output: it is wiped and rebuilt on every run. Runnable from any directory.
#
# One version and one cmdlet list, stamped here into the staged manifest:
#   - the version is Cargo.toml's (the engine reports it as tvm_version(); the assembly is built with it);
#   - the cmdlets are the [Cmdlet(Verbs..., "Noun")] attributes of ps-module/src/Commands/*.cs.
#
#   bash ps-module/build.sh               release build of both, then stage
#   bash ps-module/build.sh --debug       a debug build of the engine instead (faster to build, slower to run)
#   bash ps-module/build.sh --skip-cargo  stage with the engine library already in the cargo target folder
set -euo pipefail

module_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$module_dir/.." && pwd)"
cargo_target="${CARGO_TARGET_DIR:-$repo_root/target}"
stage="$repo_root/target/TvmBackupUtils"

skip_cargo=0
profile=release
for arg in "$@"; do
    case "$arg" in
        --skip-cargo) skip_cargo=1 ;;
        --debug) profile=debug ;;
        *) echo "build.sh: unknown argument '$arg' (known: --debug, --skip-cargo)" >&2; exit 2 ;;
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

# The one version: the first `version = "..."` of Cargo.toml, which is [package]'s.
version="$(sed -n 's/^version = "\([0-9][0-9.]*\)"$/\1/p' "$repo_root/Cargo.toml" | head -n 1)"
if [[ -z "$version" ]]; then
    echo "build.sh: no version = \"x.y.z\" line in $repo_root/Cargo.toml" >&2
    exit 1
fi
# The one cmdlet list, from the attributes, in file order: 'Backup-TVMKeys', 'Import-TVMKeys', ...
cmdlets="$(sed -n 's/.*\[Cmdlet(Verbs[A-Za-z]*\.\([A-Za-z]*\), "\([A-Za-z]*\)".*/\1-\2/p' "$module_dir"/src/Commands/*.cs)"
if [[ -z "$cmdlets" ]]; then
    echo "build.sh: found no [Cmdlet(...)] attribute in $module_dir/src/Commands" >&2
    exit 1
fi
cmdlet_list="$(printf "'%s', " $cmdlets)"
cmdlet_list="${cmdlet_list%, }"

echo "build.sh: TvmBackupUtils $version ($rid), engine $profile build; cmdlets: $cmdlet_list"
if [[ "$skip_cargo" -eq 0 ]]; then
    if [[ "$profile" == release ]]; then
        (cd "$repo_root" && cargo build --release --offline)
    else
        (cd "$repo_root" && cargo build --offline)
    fi
fi
native="$cargo_target/$profile/$lib"
if [[ ! -f "$native" ]]; then
    flag=""
    [[ "$profile" == release ]] && flag=" --release"
    echo "build.sh: the engine library $native does not exist; run cargo build$flag --offline at $repo_root" >&2
    exit 1
fi

dotnet build "$module_dir/src" -c Release --nologo -v minimal "-p:Version=$version"
dll_dir="$module_dir/src/bin/Release/netstandard2.0"

rm -rf "$stage"
mkdir -p "$stage/runtimes/$rid/native"
sed -e "s/{{Version}}/$version/" -e "s/{{Cmdlets}}/$cmdlet_list/" "$module_dir/TvmBackupUtils.psd1" > "$stage/TvmBackupUtils.psd1"
if grep -q '{{' "$stage/TvmBackupUtils.psd1"; then
    echo "build.sh: $stage/TvmBackupUtils.psd1 still has a {{placeholder}}" >&2
    exit 1
fi
cp "$module_dir/TvmBackupUtils.psm1" "$stage/"
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

echo "Staged TvmBackupUtils $version ($rid, $profile engine) in $stage"
