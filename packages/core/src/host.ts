/**
 * The identity of the host a collector runs on, for sinks that must say where events come from (a
 * forwarder's subject, a store's column): the hostname and, on Linux, the machine id from
 * `/etc/machine-id` (systemd) or `/var/lib/dbus/machine-id`. Read once per collector; it never changes
 * the host.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/** Who this host is. */
export interface HostIdentity {
  readonly hostname: string;
  /** The 32-hex-digit machine id, when the host has one. */
  readonly machineId?: string;
}

const MACHINE_ID_FILES = ['/etc/machine-id', '/var/lib/dbus/machine-id'] as const;

/** Reads the host identity; `read` is a port for tests (returns undefined for a missing file). */
export function readHostIdentity(
  read: (path: string) => string | undefined = (path) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  },
): HostIdentity {
  for (const file of MACHINE_ID_FILES) {
    const id = read(file)?.trim();
    if (id !== undefined && /^[0-9a-f]{32}$/i.test(id)) return { hostname: hostname(), machineId: id.toLowerCase() };
  }
  return { hostname: hostname() };
}
