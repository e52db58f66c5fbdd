#!/usr/bin/env bash
# Installs, configures and starts the system libvirtd + QEMU that the agent's tests run against.
# Runs as root on a fresh Debian 12 machine (no systemd) and in CI. Idempotent: a second run only
# checks and prints "ok" lines; it never restarts a healthy daemon whose configuration did not change.
#
# What it leaves behind:
#   - libvirtd on /var/run/libvirt/libvirt-sock (qemu:///system), listening on 127.0.0.1:16509 (TCP, no
#     auth) for peer-to-peer migration only; virtlogd beside it.
#   - a fixed host_uuid (dmidecode fails here, so libvirt would pick a random one per start).
#   - /dev/kvm usable by group kvm; cgroup_controllers = [ ] (two daemons share one cgroup tree).
#   - QEMU's capabilities probed once (the first call after a daemon start pays ~8 s).
set -euo pipefail

PACKAGES=(libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 qemu-utils
  genisoimage busybox-static xz-utils cpio)
SOCK=/var/run/libvirt/libvirt-sock
LIBVIRTD_CONF=/etc/libvirt/libvirtd.conf
QEMU_CONF=/etc/libvirt/qemu.conf
TCP_PORT=16509

step() { printf '[setup-libvirt] %s\n' "$*"; }
die() { printf '[setup-libvirt] FAILED: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (./dev test runs it when root)"

# --- packages ---------------------------------------------------------------------------------------
missing=()
for p in "${PACKAGES[@]}"; do
  if [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" != "ii " ]; then missing+=("$p"); fi
done
if [ "${#missing[@]}" -eq 0 ]; then
  step "packages: all ${#PACKAGES[@]} installed"
else
  export DEBIAN_FRONTEND=noninteractive
  # Another process may hold the dpkg lock (a concurrent set-up): wait for it instead of failing.
  apt_opts=(-q -o DPkg::Lock::Timeout=600)
  if ! apt-get "${apt_opts[@]}" install -y --no-install-recommends "${PACKAGES[@]}" >/tmp/setup-libvirt-apt.log 2>&1; then
    # Usually stale or missing package lists: update once, then retry.
    apt-get "${apt_opts[@]}" update >>/tmp/setup-libvirt-apt.log 2>&1 || die "apt-get update (see /tmp/setup-libvirt-apt.log)"
    apt-get "${apt_opts[@]}" install -y --no-install-recommends "${PACKAGES[@]}" >>/tmp/setup-libvirt-apt.log 2>&1 ||
      die "apt-get install (see /tmp/setup-libvirt-apt.log)"
    step "packages: apt-get update + installed ${missing[*]}"
  else
    step "packages: installed ${missing[*]}"
  fi
fi

# --- configuration ----------------------------------------------------------------------------------
changed=0
# Sets `key = value` in a libvirt config file: replaces an existing (possibly commented) line or appends.
set_conf() {
  local file="$1" key="$2" value="$3" line
  line="$key = $value"
  if grep -qxF "$line" "$file"; then return 0; fi
  if grep -qE "^[[:space:]]*#?[[:space:]]*$key[[:space:]]*=" "$file"; then
    # Replace only the first (un)commented occurrence; the key is a fixed identifier, value is ours.
    local tmp
    tmp="$(mktemp)"
    awk -v key="$key" -v line="$line" '
      !done && $0 ~ "^[[:space:]]*#?[[:space:]]*" key "[[:space:]]*=" { print line; done = 1; next }
      { print }' "$file" >"$tmp"
    cat "$tmp" >"$file"
    rm -f "$tmp"
  else
    printf '%s\n' "$line" >>"$file"
  fi
  changed=1
}

host_uuid="$(sed -nE 's/^host_uuid[[:space:]]*=[[:space:]]*"([0-9a-fA-F-]{36})"$/\1/p' "$LIBVIRTD_CONF" | head -n1)"
if [ -z "$host_uuid" ]; then host_uuid="$(cat /proc/sys/kernel/random/uuid)"; fi
set_conf "$LIBVIRTD_CONF" host_uuid "\"$host_uuid\""
set_conf "$LIBVIRTD_CONF" listen_tls 0
set_conf "$LIBVIRTD_CONF" listen_tcp 1
set_conf "$LIBVIRTD_CONF" auth_tcp '"none"'
set_conf "$LIBVIRTD_CONF" listen_addr '"127.0.0.1"'
set_conf "$LIBVIRTD_CONF" tcp_port "\"$TCP_PORT\""
# Shared cgroup tree between daemons on one machine: without controllers nothing collides (notes).
set_conf "$QEMU_CONF" cgroup_controllers '[ ]'
# migration_address/migration_host cannot name loopback (libvirt refuses the config); callers keep the
# migration stream on 127.0.0.1 per call with the migrate URI and listen-address parameters instead.
if [ "$changed" = 1 ]; then step "config: updated (host_uuid $host_uuid, tcp 127.0.0.1:$TCP_PORT)"; else
  step "config: unchanged (host_uuid $host_uuid, tcp 127.0.0.1:$TCP_PORT)"
fi

# --- /dev/kvm ---------------------------------------------------------------------------------------
# No udev here: the node is 0600 root. QEMU runs as libvirt-qemu (member of kvm); without access libvirt
# re-probes QEMU on every call (tens of seconds per define).
if [ -e /dev/kvm ]; then
  getent group kvm >/dev/null || groupadd --system kvm
  if id libvirt-qemu >/dev/null 2>&1 && ! id -nG libvirt-qemu | tr ' ' '\n' | grep -qx kvm; then
    usermod -aG kvm libvirt-qemu
    step "kvm: added libvirt-qemu to group kvm"
  fi
  if [ "$(stat -c '%G %a' /dev/kvm)" != "kvm 660" ]; then
    chgrp kvm /dev/kvm && chmod 660 /dev/kvm
    step "kvm: /dev/kvm set to root:kvm 0660"
  else
    step "kvm: /dev/kvm already root:kvm 0660"
  fi
else
  step "kvm: no /dev/kvm (guests use TCG)"
fi

# --- daemons ----------------------------------------------------------------------------------------
# Pid of a daemon from its pidfile when that process is alive and is the named program.
pid_of() {
  local pidfile="$1" name="$2" pid
  [ -s "$pidfile" ] || return 1
  pid="$(tr -dc 0-9 <"$pidfile")"
  [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$name" ] && printf '%s' "$pid"
}
# Stops the daemon we (or an earlier run) started, found through its pidfile; waits until it is gone.
stop_daemon() {
  local pidfile="$1" name="$2" pid i
  pid="$(pid_of "$pidfile" "$name")" || return 0
  kill -TERM "$pid"
  for i in $(seq 1 100); do
    # Gone, or a zombie (PID 1 here reaps orphans only now and then).
    [ -r "/proc/$pid/stat" ] || return 0
    [ "$(sed -E 's/^.*\) (.).*$/\1/' "/proc/$pid/stat" 2>/dev/null)" != Z ] || return 0
    sleep 0.1
  done
  die "$name (pid $pid) did not stop within 10 s"
}
answers() { timeout 30 virsh -q -c qemu:///system version >/dev/null 2>&1; }
tcp_listening() { timeout 2 bash -c ": </dev/tcp/127.0.0.1/$TCP_PORT" 2>/dev/null; }

if pid="$(pid_of /run/virtlogd.pid virtlogd)"; then
  step "virtlogd: running (pid $pid)"
else
  virtlogd -d
  step "virtlogd: started"
fi

if pid="$(pid_of /run/libvirtd.pid libvirtd)"; then
  if [ "$changed" = 1 ] || ! tcp_listening; then
    # New config, or started without --listen by someone else: restart it our way.
    stop_daemon /run/libvirtd.pid libvirtd
    libvirtd -d --listen
    step "libvirtd: restarted (config changed or no TCP listener; was pid $pid)"
  else
    step "libvirtd: running (pid $pid)"
  fi
else
  libvirtd -d --listen
  step "libvirtd: started"
fi

# Wait (bounded) until the socket answers an RPC.
deadline=$((SECONDS + 60))
until [ -S "$SOCK" ] && answers; do
  [ "$SECONDS" -lt "$deadline" ] || die "libvirtd did not answer on $SOCK within 60 s (see /var/log/libvirt/)"
  sleep 0.2
done
step "socket: $SOCK answers ($(virsh -q -c qemu:///system version 2>/dev/null | sed -n 's/^Running hypervisor: //p'))"
tcp_listening || die "libvirtd does not listen on 127.0.0.1:$TCP_PORT"
step "tcp: 127.0.0.1:$TCP_PORT listening (migration)"

start=$SECONDS
virsh -q -c qemu:///system domcapabilities --virttype qemu >/dev/null
step "warm-up: domcapabilities in $((SECONDS - start)) s"
