/** Line the test guest prints on its serial console once it has read its cloud-init seed. */
export const GUEST_READY_PREFIX = 'virtkit-guest ready';
/** Line the test guest prints every second after it is ready. */
export const GUEST_HEARTBEAT_PREFIX = 'virtkit-guest heartbeat';

/**
 * /init of the test guest (busybox sh as PID 1). It loads the few modules it needs, finds the NoCloud seed
 * by label, applies the hostname, starts acpid so the ACPI power button powers it off (plain init ignores
 * it), prints the ready line, runs a `#!` user-data script if there is one, then prints a heartbeat.
 */
export function initScript(): string {
  return `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp /mnt/cidata
while read -r m; do insmod "/lib/modules/$m" 2>/dev/null; done < /etc/modules
dev=
i=0
while [ $i -lt 100 ]; do
  dev=$(findfs LABEL=cidata 2>/dev/null) && break
  i=$((i+1))
  sleep 0.1
done
id=none
host=$(hostname)
if [ -n "$dev" ] && mount -t iso9660 -o ro "$dev" /mnt/cidata; then
  val() { sed -n "s/^$1: *//p" /mnt/cidata/meta-data | head -n 1 | sed 's/^"\\(.*\\)"$/\\1/'; }
  id=$(val instance-id)
  h=$(val local-hostname)
  [ -n "$h" ] && hostname "$h" && host=$h
else
  echo "virtkit-guest: no cidata seed found"
fi
# busybox acpid exits at once when it cannot open its log file.
mkdir -p /var/log /var/run
acpid
# Ready means the power button works: busybox acpid opens the input devices after it has forked, and a
# button pressed before that is lost. Wait (bounded, 2 s) until it has them open.
i=0
while [ $i -lt 100 ]; do
  p=$(pidof acpid) && ls -l "/proc/$p/fd" 2>/dev/null | grep -q /dev/input/event && break
  i=$((i+1))
  sleep 0.02
done
echo "${GUEST_READY_PREFIX} instance-id=$id hostname=$host"
if head -c 2 /mnt/cidata/user-data 2>/dev/null | grep -q '^#!'; then
  cp /mnt/cidata/user-data /tmp/user-data && chmod +x /tmp/user-data && /tmp/user-data &
fi
n=0
while :; do
  n=$((n+1))
  echo "${GUEST_HEARTBEAT_PREFIX} $n"
  sleep 1
done
`;
}

/** Handler busybox acpid runs for the power button (its built-in table maps PWRF to PWRF/00000080). */
export function powerButtonHandler(): string {
  return '#!/bin/sh\necho "virtkit-guest: power button, powering off" > /dev/console\npoweroff -f\n';
}
