/**
 * The capabilities this process holds, from the `CapEff` line of /proc/self/status, so the readers
 * can log which privileges they found. Reading fails soft: an unreadable file yields `undefined`.
 * It decides nothing; the kernel does when a call is made.
 */
import { readFileSync } from 'node:fs';

/** Capability numbers the readers care about. */
const CAPABILITIES = {
  CAP_NET_ADMIN: 12,
  CAP_SYS_ADMIN: 21,
  CAP_AUDIT_CONTROL: 30,
  CAP_AUDIT_READ: 37,
  CAP_PERFMON: 38,
  CAP_BPF: 39,
} as const;

/** The name of a capability the readers care about. */
export type CapabilityName = keyof typeof CAPABILITIES;

/** Whether each of `names` is in the effective set; `undefined` when /proc/self/status cannot be read. */
export function effectiveCapabilities(
  names: readonly CapabilityName[],
): Partial<Record<CapabilityName, boolean>> | undefined {
  let hex: string | undefined;
  try {
    hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'latin1'))?.[1];
  } catch {
    return undefined;
  }
  if (hex === undefined) return undefined;
  const set = BigInt(`0x${hex}`);
  const out: Partial<Record<CapabilityName, boolean>> = {};
  for (const n of names) out[n] = ((set >> BigInt(CAPABILITIES[n])) & 1n) === 1n;
  return out;
}
