/**
 * Options of the network source, their documented defaults (declared once in
 * `networkSourceSchema`), and their validation: bad values throw `ERR_CONFIG_INVALID` at
 * construction, naming the field and the value. The ports (`openSockDiag`, `readProcNet`,
 * `owners`) let tests and other platforms replace OS access; users do not normally set them. This
 * module reads nothing from the OS.
 */
import { BlockList, isIP } from 'node:net';
import { CollectorError, type ConfigSchema, field, type Logger } from '@daemoneye/core';
import type { BackendChoice, OpenSockDiag, ReadProcNet } from './internal/inventory.ts';
import type { OwnerResolver } from './internal/owner-client.ts';
import type { SocketProtocol } from './socket-record.ts';

/** Options of {@link createNetworkSource}; every field is optional. */
export interface NetworkSourceOptions {
  /** The source's name (default `'network'`). */
  readonly name?: string;
  /** Milliseconds between dumps (default 1,000). */
  readonly intervalMs?: number;
  /** Protocols to dump (default both). */
  readonly protocols?: readonly SocketProtocol[];
  /** IP versions to dump (default both). */
  readonly families?: readonly (4 | 6)[];
  /** Report only events whose state (or state before a close/change) is one of these (default: all). */
  readonly states?: readonly string[];
  /** Map sockets to their owning processes through /proc/PID/fd (default `'auto'`). */
  readonly pidMapping?: 'auto' | 'off';
  /** Keep only sockets with a local or remote address in one of these addresses or CIDR blocks (default: all). */
  readonly addresses?: readonly string[];
  /** Keep only sockets with a local or remote port among these (default: all). */
  readonly ports?: readonly number[];
  /** Ask the kernel for tcp_info byte, retransmission and RTT counters (default true; sock_diag only). */
  readonly counters?: boolean;
  /** Report Unix domain sockets too (default false; sock_diag only). */
  readonly unix?: boolean;
  /** `auto` (sock_diag, then /proc/net, then systeminformation off Linux) or one backend. */
  readonly backend?: BackendChoice;
  readonly logger?: Logger;
  /** Port: opens the sock_diag reader. */
  readonly openSockDiag?: OpenSockDiag;
  /** Port: reads /proc/net files for the fallback. */
  readonly readProcNet?: ReadProcNet;
  /** Port: maps inodes to processes. */
  readonly owners?: OwnerResolver;
}

/** The `[sources.network]` section. */
export const networkSourceSchema = {
  interval: field('duration', 1000, 'Time between socket dumps', { min: 10 }),
  protocols: field('string[]', ['tcp', 'udp'], 'Protocols to dump: tcp, udp'),
  families: field('string[]', ['4', '6'], 'IP versions to dump: 4, 6'),
  states: field('string[]', [], 'Report only these states, such as ESTABLISHED or LISTEN (empty: all)'),
  pid_mapping: field('enum', 'auto', 'Find the process owning each socket through /proc/PID/fd (auto) or not (off)', {
    values: ['auto', 'off'],
  }),
  addresses: field('string[]', [], 'Keep only sockets with an endpoint in these addresses or CIDR blocks (empty: all)'),
  ports: field('string[]', [], 'Keep only sockets with an endpoint on these ports (empty: all)'),
  counters: field('boolean', true, 'Read byte, retransmission and RTT counters from tcp_info (sock_diag backend)'),
  unix: field('boolean', false, 'Report Unix domain sockets too (sock_diag backend)'),
  backend: field('enum', 'auto', 'Socket listing: auto, netlink (sock_diag), procfs (/proc/net), systeminformation', {
    values: ['auto', 'netlink', 'procfs', 'systeminformation'],
  }),
} as const satisfies ConfigSchema;

const F = networkSourceSchema;

/** Defaults of the plain options (from {@link networkSourceSchema}). */
export const DEFAULT_NETWORK_SOURCE_OPTIONS = Object.freeze({
  name: 'network',
  intervalMs: F.interval.default,
  protocols: ['tcp', 'udp'] as readonly SocketProtocol[],
  families: [4, 6] as readonly (4 | 6)[],
  states: [] as readonly string[],
  pidMapping: F.pid_mapping.default,
  addresses: [] as readonly string[],
  ports: [] as readonly number[],
  counters: F.counters.default,
  unix: F.unix.default,
  backend: F.backend.default as BackendChoice,
});

/** Options with defaults applied and filters compiled. */
export interface ResolvedNetworkSourceOptions {
  readonly name: string;
  readonly intervalMs: number;
  readonly protocols: readonly SocketProtocol[];
  readonly families: readonly (4 | 6)[];
  readonly states: ReadonlySet<string>;
  readonly pidMapping: 'auto' | 'off';
  /** undefined: every address. */
  readonly addresses: BlockList | undefined;
  readonly ports: ReadonlySet<number>;
  readonly counters: boolean;
  readonly unix: boolean;
  readonly backend: BackendChoice;
  readonly logger: Logger | undefined;
  readonly openSockDiag: OpenSockDiag | undefined;
  readonly readProcNet: ReadProcNet | undefined;
  readonly owners: OwnerResolver | undefined;
}

const LAYER = 'NetworkSourceOptions';

function invalid(name: string, value: unknown, expected: string): never {
  throw new CollectorError('ERR_CONFIG_INVALID', `${LAYER}.${name} must be ${expected}, got ${JSON.stringify(value)}`, {
    details: { field: name, value, layer: LAYER },
  });
}

function list<T>(
  name: string,
  value: unknown,
  fallback: readonly T[],
  ok: (v: unknown) => boolean,
  expected: string,
): readonly T[] {
  if (value === undefined) return fallback;
  if (!Array.isArray(value)) invalid(name, value, `a list of ${expected}`);
  for (const v of value) if (!ok(v)) invalid(name, value, `a list of ${expected}`);
  return [...new Set(value as T[])];
}

/** Compiles address filters (`10.0.0.0/8`, `::1`, `127.0.0.1`) into a BlockList; throws naming a bad entry. */
export function compileAddresses(entries: readonly string[]): BlockList | undefined {
  if (entries.length === 0) return undefined;
  const bl = new BlockList();
  for (const e of entries) {
    const [addr = '', prefix] = e.split('/');
    const type = isIP(addr);
    if (type === 0) invalid('addresses', e, 'an IP address or CIDR block');
    const family = type === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) {
      bl.addAddress(addr, family);
      continue;
    }
    const bits = Number(prefix);
    if (!Number.isInteger(bits) || bits < 0 || bits > (type === 6 ? 128 : 32)) {
      invalid('addresses', e, 'an IP address or CIDR block');
    }
    bl.addSubnet(addr, bits, family);
  }
  return bl;
}

/** Applies defaults and validates; throws `ERR_CONFIG_INVALID` naming the first bad field. */
export function resolveNetworkSourceOptions(o: NetworkSourceOptions = {}): ResolvedNetworkSourceOptions {
  const d = DEFAULT_NETWORK_SOURCE_OPTIONS;
  const name = o.name ?? d.name;
  if (typeof name !== 'string' || name.trim() === '') invalid('name', name, 'a non-empty string');
  const intervalMs = o.intervalMs ?? d.intervalMs;
  const minInterval = F.interval.min ?? 10;
  if (typeof intervalMs !== 'number' || !Number.isInteger(intervalMs) || intervalMs < minInterval) {
    invalid('intervalMs', intervalMs, `an integer >= ${minInterval}`);
  }
  const protocols = list<SocketProtocol>(
    'protocols',
    o.protocols,
    d.protocols,
    (v) => v === 'tcp' || v === 'udp',
    "'tcp' or 'udp'",
  );
  if (protocols.length === 0) invalid('protocols', o.protocols, 'at least one protocol');
  const families = list<4 | 6>('families', o.families, d.families, (v) => v === 4 || v === 6, '4 or 6');
  if (families.length === 0) invalid('families', o.families, 'at least one IP version');
  const states = list<string>(
    'states',
    o.states,
    d.states,
    (v) => typeof v === 'string' && /^[A-Z_0-9]+$/.test(v),
    'upper-case state names',
  );
  const ports = list<number>(
    'ports',
    o.ports,
    d.ports,
    (v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65535,
    'ports 0-65535',
  );
  const addrs = list<string>('addresses', o.addresses, d.addresses, (v) => typeof v === 'string', 'addresses');
  const pidMapping = o.pidMapping ?? d.pidMapping;
  if (pidMapping !== 'auto' && pidMapping !== 'off') invalid('pidMapping', pidMapping, "'auto' or 'off'");
  const counters = o.counters ?? d.counters;
  if (typeof counters !== 'boolean') invalid('counters', counters, 'a boolean');
  const unix = o.unix ?? d.unix;
  if (typeof unix !== 'boolean') invalid('unix', unix, 'a boolean');
  const backend = o.backend ?? d.backend;
  const backends: readonly string[] = F.backend.values ?? [];
  if (!backends.includes(backend)) invalid('backend', backend, backends.join(', '));
  return {
    name,
    intervalMs,
    protocols,
    families,
    states: new Set(states),
    pidMapping,
    addresses: compileAddresses(addrs),
    ports: new Set(ports),
    counters,
    unix,
    backend,
    logger: o.logger,
    openSockDiag: o.openSockDiag,
    readProcNet: o.readProcNet,
    owners: o.owners,
  };
}
