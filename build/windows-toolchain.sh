#!/usr/bin/env bash
# The Windows toolchain of the engine, on a Debian 12 (bookworm) machine, as docs/windows.md describes
# (and ../shared/docs/WINDOWS.md measured): the engine is cross-built for x86_64-pc-windows-gnu by Debian
# trixie's rust-web 1.96 toolchain, which brings the std source and std's own crates, with -Z build-std
# and bookworm's mingw-w64 linker; it runs under bookworm's wine64.
#
#   build/windows-toolchain.sh setup           fetch, unpack and patch everything (idempotent; cached)
#   build/windows-toolchain.sh cargo ARGS...   cargo for the Windows target, with the toolchain's env
#   build/windows-toolchain.sh wine ARGS...    wine64 with the project's prefix (for the test host)
#   build/windows-toolchain.sh env             the environment `cargo` and `wine` use, as shell lines
#
# Everything it fetches or makes stays under build/windows/ (or $TVM_WINDOWS_TOOLCHAIN): trixie's packages
# are downloaded through a separate apt list there and unpacked, never installed; the system's apt
# sources are not changed. Only bookworm's own packages are installed, by apt-get. No prebuilt binary comes
# from anywhere but Debian's archive.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
W=${TVM_WINDOWS_TOOLCHAIN:-$repo/build/windows}
TARGET=x86_64-pc-windows-gnu
RUST_VERSION=1.96
# bookworm: the linker, Wine, patchelf.
HOST_PACKAGES=(gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 wine64 patchelf)
# trixie: the compiler, cargo and the std source (with std's vendored crates) ...
TOOLCHAIN_PACKAGES=(rustc-web "libstd-rust-web-$RUST_VERSION" libstd-rust-web-dev cargo-web libllvm22 rust-web-src)
# ... and the trixie libraries they need, which bookworm's are too old for.
RUNTIME_PACKAGES=(libc6 libstdc++6 libgcc-s1 libz3-4 libzstd1 libgit2-1.9 libmbedtls21 libmbedx509-7 libmbedcrypto16 libhttp-parser2.9)
WINE=/usr/lib/wine/wine64

say() { echo "windows-toolchain: $*" >&2; }
die() { say "$*"; exit 1; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else die "'$*' needs root: run this script as root or install sudo."
    fi
}

install_host_packages() {
    local missing=()
    for p in "${HOST_PACKAGES[@]}"; do
        dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        say "bookworm packages present: ${HOST_PACKAGES[*]}"
        return
    fi
    say "apt-get install ${missing[*]} (bookworm)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# apt-get with trixie's list and its own state and cache under $W/apt; the system's dpkg status is read
# (never written) so that apt resolves names as it would.
trixie_apt() {
    apt-get -o Dir::Etc::sourcelist="$W/apt/trixie.list" -o Dir::Etc::sourceparts=- \
        -o Dir::State::Lists="$W/apt/lists" -o Dir::Cache="$W/apt/cache" \
        -o Dir::State::status=/var/lib/dpkg/status -o Debug::NoLocking=1 -o APT::Sandbox::User=root "$@"
}

fetch_trixie_packages() {
    local stamp=$W/debs/.complete
    if [ -f "$stamp" ]; then
        say "trixie packages cached in $W/debs"
        return
    fi
    mkdir -p "$W/apt/lists/partial" "$W/apt/cache/archives/partial" "$W/debs/toolchain" "$W/debs/runtime"
    local uri
    uri=$(apt-get indextargets --format '$(REPO_URI)' | grep -v -- -security | sort -u | head -1 || true)
    [ -n "$uri" ] || die "found no Debian mirror in the system's apt sources (apt-get indextargets)."
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri trixie main" >"$W/apt/trixie.list"
    say "apt-get update with a separate list for trixie ($uri), state in $W/apt"
    trixie_apt update -qq
    say "downloading (not installing) ${TOOLCHAIN_PACKAGES[*]}"
    (cd "$W/debs/toolchain" && trixie_apt download -qq "${TOOLCHAIN_PACKAGES[@]}")
    say "downloading (not installing) ${RUNTIME_PACKAGES[*]}"
    (cd "$W/debs/runtime" && trixie_apt download -qq "${RUNTIME_PACKAGES[@]}")
    touch "$stamp"
}

unpack_and_patch() {
    local stamp=$W/root/.patched
    if [ -f "$stamp" ]; then
        say "toolchain unpacked and patched in $W/root"
        return
    fi
    rm -rf "$W/root" "$W/trixielibs"
    mkdir -p "$W/root" "$W/trixielibs"
    say "unpacking the toolchain into $W/root and trixie's libraries into $W/trixielibs"
    for d in "$W"/debs/toolchain/*.deb; do dpkg-deb -x "$d" "$W/root"; done
    for d in "$W"/debs/runtime/*.deb; do dpkg-deb -x "$d" "$W/trixielibs"; done
    local T=$W/trixielibs/usr/lib/x86_64-linux-gnu L=$W/root/usr/lib/x86_64-linux-gnu
    say "patchelf: rustc, rustdoc and cargo run with trixie's loader and libraries"
    for b in rustc rustdoc cargo; do
        patchelf --set-interpreter "$T/ld-linux-x86-64.so.2" --force-rpath --set-rpath "$T:$L" "$W/root/usr/bin/$b"
    done
    # LLVM's and the driver's own RUNPATH would hide the executable's.
    for lib in "$L"/libLLVM.so.* "$L"/librustc_driver-*.so; do
        [ -L "$lib" ] || patchelf --force-rpath --set-rpath "$T" "$lib"
    done
    "$W/root/usr/bin/rustc" -vV >&2 || die "the patched rustc does not run."
    touch "$stamp"
}

# One vendor folder: the project's crates and std's, for the one source replacement cargo applies to
# both. Where std vendors a crate at the same name and version as the project (identical checksums), the
# project's copy is kept: cargo refuses two of one package.
merge_vendor() {
    local src
    src=$(ls -d "$W"/root/usr/src/rustc-*/library 2>/dev/null | head -1 || true)
    [ -n "$src" ] || die "no std source under $W/root/usr/src (rust-web-src)."
    rm -rf "$W/vendor-all"
    mkdir -p "$W/vendor-all"
    local kept=0 dropped=()
    for d in "$repo"/vendor/*/; do ln -sfn "${d%/}" "$W/vendor-all/$(basename "$d")"; kept=$((kept + 1)); done
    for d in "$src"/vendor/*/; do
        local id
        id=$(package_id "$d")
        if [ -n "$id" ] && grep -qxF "$id" "$W/project-packages.txt"; then
            dropped+=("$(basename "$d")")
        else
            ln -sfn "${d%/}" "$W/vendor-all/std-$(basename "$d")"; kept=$((kept + 1))
        fi
    done
    say "vendor folder $W/vendor-all: $kept crates; std's copies dropped for the project's: ${dropped[*]:-none}"
}

# "name version" of the crate in folder $1, from its Cargo.toml's [package] table.
package_id() {
    awk -F' = ' '/^\[/{p=($0=="[package]")} p&&$1=="name"{gsub(/"/,"",$2);n=$2} p&&$1=="version"{gsub(/"/,"",$2);v=$2}
                 END{if(n!="")print n" "v}' "$1/Cargo.toml"
}

project_packages() {
    : >"$W/project-packages.txt"
    for d in "$repo"/vendor/*/; do package_id "$d" >>"$W/project-packages.txt"; done
}

# The environment of every Wine process: the project's prefix, quiet, no Gecko. TVM_UNDER_WINE tells the tests
# where Wine differs from Windows (security descriptors, docs/windows.md). .NET's W^X double mapping fails under
# Wine 8.0 (an "Internal CLR error" in a finalizer once Pester runs); without it the runtime maps code pages as
# older .NET did.
wine_env() {
    export WINEPREFIX=$W/wineprefix WINEDEBUG=-all WINEDLLOVERRIDES="mshtml=" TVM_UNDER_WINE=1 DOTNET_EnableWriteXorExecute=0
}

# Test-only, for Wine 8.0, which lacks bcryptprimitives.dll (Rust's std imports ProcessPrng from it on
# Windows 10 and later, where it always exists): one export, ProcessPrng, on BCryptGenRandom. It goes only
# into the test prefix, never into the module.
wine_prefix() {
    wine_env
    if [ ! -f "$WINEPREFIX/.tvm-ready" ]; then
        say "creating the Wine prefix $WINEPREFIX"
        "$WINE" wineboot -i >/dev/null 2>&1 || true
        "$WINE" wineserver -w 2>/dev/null || /usr/lib/wine/wineserver64 -w 2>/dev/null || true
        [ -d "$WINEPREFIX/drive_c/windows/system32" ] || die "wineboot did not create $WINEPREFIX."
        mkdir -p "$W/shim"
        cat >"$W/shim/bcryptprimitives.c" <<'EOF'
/* Test-only stand-in for Windows 10's bcryptprimitives.dll, which Wine 8.0 lacks. */
#include <windows.h>
#include <bcrypt.h>
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0) return FALSE;
        data += chunk; len -= chunk;
    }
    return TRUE;
}
EOF
        x86_64-w64-mingw32-gcc -shared -O2 -o "$W/shim/bcryptprimitives.dll" "$W/shim/bcryptprimitives.c" -lbcrypt
        cp "$W/shim/bcryptprimitives.dll" "$WINEPREFIX/drive_c/windows/system32/"
        touch "$WINEPREFIX/.tvm-ready"
    fi
}

setup() {
    mkdir -p "$W"
    install_host_packages
    fetch_trixie_packages
    unpack_and_patch
    project_packages
    merge_vendor
    wine_prefix
    say "ready: $("$W/root/usr/bin/rustc" --version), target $TARGET, Wine $("$WINE" --version)"
}

cargo_env() {
    [ -f "$W/root/.patched" ] && [ -d "$W/vendor-all" ] || die "the toolchain is not set up: run '$0 setup' (or build.ps1 WindowsToolchain)."
    export RUSTC=$W/root/usr/bin/rustc RUSTDOC=$W/root/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
    export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
    export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_AR=x86_64-w64-mingw32-ar
    export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$repo/build/windows-toolchain.sh wine"
    wine_env
    unset RUSTFLAGS
}

case "${1:-}" in
    setup) setup ;;
    cargo)
        shift
        cargo_env
        # std is built for the target from the source rust-web-src ships (test adds the test harness).
        std=std,panic_unwind
        [ "${1:-}" = test ] && std=std,panic_unwind,test
        cd "$repo"
        # The subcommand, the toolchain's flags, then the caller's arguments (so that `-- ARGS` stay the test
        # binary's).
        exec "$W/root/usr/bin/cargo" "$1" --offline --target "$TARGET" -Z build-std="$std" \
            --config "source.vendored-sources.directory=\"$W/vendor-all\"" "${@:2}"
        ;;
    wine)
        shift
        wine_env
        [ -f "$WINEPREFIX/.tvm-ready" ] || die "the Wine prefix is not set up: run '$0 setup'."
        exec "$WINE" "$@"
        ;;
    env)
        cargo_env
        env | grep -E '^(RUSTC|RUSTDOC|RUSTC_BOOTSTRAP|CARGO_TARGET_X86_64_PC_WINDOWS_GNU_[A-Z]+|WINE[A-Z]*)=' | sort
        ;;
    *) die "usage: $0 setup | cargo ARGS... | wine ARGS... | env" ;;
esac
