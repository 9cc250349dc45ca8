/**
 * `SourceCaps`: the capability bits an event source declares, with the seed's values (PROCESS = 1 …
 * SYSTEM_WIDE = 64) and labels. Capabilities are plain unsigned numbers so they combine with `|`;
 * `SourceCapsFlags` gives the typed helper view. It says what a source can do, not whether it works.
 */
import { defineFlags } from './flags.ts';

/** Capability bits, as in DaemonEye's collector-core. Combine with `|`. */
export const SourceCaps = {
  NONE: 0,
  PROCESS: 1 << 0,
  NETWORK: 1 << 1,
  FILESYSTEM: 1 << 2,
  PERFORMANCE: 1 << 3,
  REALTIME: 1 << 4,
  KERNEL_LEVEL: 1 << 5,
  SYSTEM_WIDE: 1 << 6,
} as const;

/** A capability bit set: an unsigned 32-bit number made of {@link SourceCaps} bits. */
export type SourceCapsBits = number;

/** Typed flags over {@link SourceCaps}: `SourceCapsFlags.from(bits).names()`, `.parse('process|realtime')`. */
export const SourceCapsFlags = defineFlags({
  PROCESS: SourceCaps.PROCESS,
  NETWORK: SourceCaps.NETWORK,
  FILESYSTEM: SourceCaps.FILESYSTEM,
  PERFORMANCE: SourceCaps.PERFORMANCE,
  REALTIME: SourceCaps.REALTIME,
  KERNEL_LEVEL: SourceCaps.KERNEL_LEVEL,
  SYSTEM_WIDE: SourceCaps.SYSTEM_WIDE,
});

/** The seed's registration labels for each capability. */
export const SourceCapsLabels = {
  process: 'PROCESS',
  network: 'NETWORK',
  filesystem: 'FILESYSTEM',
  performance: 'PERFORMANCE',
  realtime: 'REALTIME',
  kernel: 'KERNEL_LEVEL',
  'system-wide': 'SYSTEM_WIDE',
} as const;

const LABEL_OF: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(SourceCapsLabels).map(([label, name]) => [name, label]),
);

/** The seed's labels (`process`, `kernel`, `system-wide`, …) of the bits set in `caps`. */
export function capabilityLabels(caps: SourceCapsBits): string[] {
  return SourceCapsFlags.names(caps).map((n) => LABEL_OF[n] ?? n);
}

/** Parses labels or flag names (`"process|realtime"`, `"PROCESS, KERNEL_LEVEL"`) into bits. */
export function parseCapabilities(text: string): SourceCapsBits {
  return SourceCapsFlags.parse(text, SourceCapsLabels).bits;
}

/** True when every bit of `wanted` is set in `caps`. */
export function hasCapabilities(caps: SourceCapsBits, wanted: SourceCapsBits): boolean {
  return (caps & wanted) >>> 0 === wanted >>> 0;
}
