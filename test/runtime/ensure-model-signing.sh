#!/usr/bin/env bash
# Idempotent: .venv-model-signing with the OpenSSF model-signing CLI from PyPI, every package pinned by
# model-signing-constraints.txt; prints the CLI's path.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# pyOpenSSL: model-signing 1.1.1 imports it without declaring it.
bin="$(bash "$here/../support/ensure-tool-venv.sh" model-signing "$here/model-signing-constraints.txt" model-signing==1.1.1 pyOpenSSL==26.4.0)"
echo "$bin/model_signing"
