#!/usr/bin/env bash
# README command 2: every test. Builds the Rust engine, stages the module, runs `cargo test`, then the
# PowerShell tests (`dotnet test`) that load the staged module into the real PowerShell 7.6 engine.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --offline
