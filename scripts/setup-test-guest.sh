#!/usr/bin/env bash
# Pre-builds the agent's test guest (Debian kernel + busybox initramfs, cached under
# /var/cache/virtkit/test-guest) and caches the KVM probe verdict, so the first agent test does not pay
# for a 70 MB kernel download or a 10 s probe. Run as root after scripts/setup-libvirt.sh (./dev test does).
# Idempotent: a cached guest built from the same recipe is reused.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE="$ROOT/.tools/node-24.21.0/bin/node"
[ -x "$NODE" ] || NODE="$(command -v node)"
step() { printf '[setup-test-guest] %s\n' "$*"; }

[ "$(id -u)" = 0 ] || { echo "[setup-test-guest] FAILED: must run as root" >&2; exit 1; }
for tool in apt-get dpkg xz genisoimage; do
  command -v "$tool" >/dev/null || { echo "[setup-test-guest] FAILED: $tool missing (run scripts/setup-libvirt.sh)" >&2; exit 1; }
done
[ -x /bin/busybox ] || { echo "[setup-test-guest] FAILED: /bin/busybox missing (busybox-static)" >&2; exit 1; }
# apt-get download needs package lists; a fresh machine may have none yet.
if ! apt-cache depends linux-image-amd64 2>/dev/null | grep -q 'Depends: linux-image-'; then
  step "apt lists missing: apt-get update"
  apt-get -q -o DPkg::Lock::Timeout=600 update >/tmp/setup-test-guest-apt.log 2>&1
fi
start=$SECONDS
"$NODE" --conditions=@virtkit/source "$ROOT/packages/agent/src/testing/build-test-guest.ts"
step "guest and KVM verdict ready in $((SECONDS - start)) s"
