#!/usr/bin/env bash
# What a fresh machine needs before the demo or the tests build anything (README, "Requirements"):
# says in one line what is missing and exits 1, or says nothing. --real-node adds what the real node
# needs (it runs containers): root and Debian's runc, containernetworking-plugins, iptables, conntrack,
# iproute2; test/plane/node.ts runs it with that flag before it starts a node.
set -u
missing=()

if ! node -e 'const [major, minor] = process.versions.node.split(".").map(Number); process.exit(major > 20 || (major === 20 && minor >= 19) ? 0 : 1)' 2>/dev/null; then
  missing+=("Node.js >= 20.19 (found $(node --version 2>/dev/null || echo none))")
fi
go_version=$(go env GOVERSION 2>/dev/null || true)
if ! printf '%s\n' "$go_version" | awk -F'[go.]+' '{ exit !($2 > 1 || ($2 == 1 && $3 >= 26)) }'; then
  missing+=("Go >= 1.26, to build the control plane from its modules (found ${go_version:-none})")
fi
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  missing+=("Python 3 with venv (Debian: python3-venv)")
fi
if [ "${1:-}" = --real-node ]; then
  [ "$(id -u)" = 0 ] || missing+=("root, to run the real node's containers")
  packages=()
  command -v runc >/dev/null || packages+=(runc)
  [ -x /usr/lib/cni/bridge ] || packages+=(containernetworking-plugins)
  command -v iptables >/dev/null || packages+=(iptables)
  command -v conntrack >/dev/null || packages+=(conntrack)
  command -v ip >/dev/null || packages+=(iproute2)
  [ ${#packages[@]} -eq 0 ] || missing+=("apt-get install ${packages[*]}")
fi

if [ ${#missing[@]} -gt 0 ]; then
  line=$(printf '; %s' "${missing[@]}")
  echo "missing before anything is built: ${line#; }" >&2
  exit 1
fi
