#!/usr/bin/env node
// Checks that the shipped process.bpf.o is exactly what its sources build (a CI step; needs clang,
// llvm-strip, bpftool and the libbpf headers; Debian: clang llvm bpftool libbpf-dev):
//   1. the inputs the bytes depend on (the C sources, vmlinux.h, the libbpf headers and the clang
//      version) match the pins in process.bpf.o.inputs;
//   2. a rebuild is byte-identical to the shipped object;
//   3. struct de_event and struct de_config in the object's BTF have the offsets the decoder reads
//      (EBPF_EVENT_LAYOUT, EBPF_CONFIG_LAYOUT of the built package);
//   4. as root on a kernel with BTF, the verifier accepts every program (loaded into a private bpffs
//      that is unmounted afterwards, so nothing stays pinned).
// `node drift-check.mjs record` rewrites the pins after a deliberate rebuild (./build.sh).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const pins = join(here, 'process.bpf.o.inputs');
const object = join(here, 'process.bpf.o');
const clang = process.env.CLANG ?? 'clang';
const headers = ['bpf_helpers.h', 'bpf_helper_defs.h', 'bpf_core_read.h', 'bpf_tracing.h'];
const includeDir = process.env.LIBBPF_INCLUDE ?? '/usr/include/bpf';

const sha = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: 'utf8', ...opts });

function inputs() {
  const out = {};
  for (const f of ['process.bpf.c', 'process.h', 'vmlinux.h', 'build.sh']) out[f] = sha(join(here, f));
  for (const h of headers) out[`bpf/${h}`] = sha(join(includeDir, h));
  out.clang = run(clang, ['--version']).split('\n')[0].trim();
  return out;
}

if (process.argv[2] === 'record') {
  writeFileSync(pins, `${JSON.stringify({ ...inputs(), 'process.bpf.o': sha(object) }, null, 2)}\n`);
  console.log(`recorded ${pins}`);
  process.exit(0);
}

let ok = true;
const report = (pass, line) => {
  console.log(`${pass ? 'ok  ' : 'FAIL'} ${line}`);
  if (!pass) ok = false;
};

// 1. pins
const pinned = JSON.parse(readFileSync(pins, 'utf8'));
const now = inputs();
const changed = Object.keys({ ...pinned, ...now }).filter((k) => k !== 'process.bpf.o' && pinned[k] !== now[k]);
report(
  changed.length === 0,
  `inputs pinned (${Object.keys(now).length}): ${changed.length === 0 ? 'unchanged' : `changed: ${changed.map((k) => `${k} ${pinned[k] ?? '-'} -> ${now[k] ?? '-'}`).join('; ')}`}`,
);
report(pinned['process.bpf.o'] === sha(object), 'process.bpf.o matches its pinned hash');

// 2. rebuild
const dir = mkdtempSync(join(tmpdir(), 'daemoneye-bpf-'));
try {
  const rebuilt = join(dir, 'process.bpf.o');
  run(join(here, 'build.sh'), [rebuilt], { stdio: ['ignore', 'inherit', 'inherit'] });
  const a = readFileSync(rebuilt);
  const b = readFileSync(object);
  report(a.equals(b), `rebuild is byte-identical (${b.length} bytes)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// 3. layout
const btf = run('bpftool', ['btf', 'dump', 'file', object, 'format', 'raw']);
function members(struct) {
  const lines = btf.split('\n');
  const start = lines.findIndex((l) => l.includes(`STRUCT '${struct}'`));
  if (start < 0) return undefined;
  const size = Number(/size=(\d+)/.exec(lines[start])?.[1]);
  const out = {};
  for (const l of lines.slice(start + 1)) {
    const m = /^\s+'(\w+)' type_id=\d+ bits_offset=(\d+)/.exec(l);
    if (!m) break;
    out[m[1]] = Number(m[2]) / 8;
  }
  return { size, members: out };
}
const decoder = await import(new URL('../dist/ebpf-event.js', import.meta.url).href);
for (const [struct, want, size] of [
  ['de_event', decoder.EBPF_EVENT_LAYOUT, decoder.EBPF_HEADER_BYTES],
  ['de_config', decoder.EBPF_CONFIG_LAYOUT, 16],
]) {
  const got = members(struct);
  const same = got !== undefined && got.size === size && JSON.stringify(got.members) === JSON.stringify(want);
  report(
    same,
    `struct ${struct} in the object's BTF matches the decoder${same ? '' : `: BTF ${JSON.stringify(got)} decoder ${JSON.stringify(want)} size ${size}`}`,
  );
}

// 4. verifier
if (existsSync('/sys/kernel/btf/vmlinux') && process.getuid?.() === 0) {
  const fs = mkdtempSync(join(tmpdir(), 'daemoneye-bpffs-'));
  try {
    run('mount', ['-t', 'bpf', 'bpf', fs]);
    try {
      run('bpftool', ['prog', 'loadall', object, join(fs, 'p')], { stdio: ['ignore', 'pipe', 'pipe'] });
      const progs = readdirSync(join(fs, 'p'));
      report(progs.length === 3, `the verifier accepts ${progs.join(', ')} on ${run('uname', ['-r']).trim()}`);
    } catch (e) {
      report(false, `bpftool prog loadall failed: ${e.stderr ?? e.message}`);
    } finally {
      run('umount', [fs]);
    }
  } finally {
    rmSync(fs, { recursive: true, force: true });
  }
} else {
  console.log('skip verifier load (needs root and /sys/kernel/btf/vmlinux)');
}

console.log(
  ok ? 'drift check: OK' : 'drift check: FAILED (rebuild with ./build.sh, then `node drift-check.mjs record`)',
);
process.exit(ok ? 0 : 1);
