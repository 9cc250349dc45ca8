/**
 * Worker-thread entry of the eBPF process loader. This thread owns every piece of libbpf state —
 * the object, its links, the ring buffer and the koffi callbacks (registered here, so libbpf calls
 * them on this thread from inside `ring_buffer__consume`). It opens the shipped object, writes the
 * wake-up settings into .rodata, sizes the ring, loads and attaches the programs (nothing pinned:
 * the kernel releases all of it when this process's fds close, crash or not), then sleeps in
 * poll() on the ring's epoll fd and the host's wake-up eventfd. Records are decoded inside the
 * callback (the sample memory is valid only until it returns) and posted in batches; the kernel's
 * drop and truncation counters are read after activity and posted as loss. Loaded as a worker
 * script, never imported.
 */
import { workerData } from 'node:worker_threads';
import { decodeEbpfRecord, EBPF_CONFIG_LAYOUT, type EbpfProcessEvent } from '../ebpf-event.ts';
import { NativeError } from '../native-error.ts';
import { type Handle, loadLibbpf } from './libbpf.ts';
import { errnoName, libc } from './libc.ts';
import { runWorkerEntry } from './worker-entry.ts';
import { type HostMessage, InFlight, type WorkerMessage } from './worker-protocol.ts';

/** Settings of the eBPF worker (its `workerData`). */
export interface EbpfWorkerSettings {
  readonly objectPath: string;
  readonly libbpfPath: string;
  readonly ringBufferBytes: number;
  readonly wakeupBytes: number;
  readonly latencyMs: number;
  readonly fork: boolean;
  readonly exit: boolean;
  readonly wakeFd?: number;
}

const s = workerData as EbpfWorkerSettings;

/** Longest sleep in poll() with nothing pending (a safety net: the host's eventfd wakes it to stop). */
const IDLE_POLL_MS = 10_000;
/** Batches awaiting the host's acknowledgement before the loop stops consuming (the ring absorbs the rest). */
const MAX_IN_FLIGHT = 64;
/** Counter indices of bpf/process.h. */
const C_EXEC = 0;
const C_DROP = 1;
const C_TRUNC = 2;
const C_FNAME = 3;

runWorkerEntry((port) => {
  const bpf = loadLibbpf(s.libbpfPath);
  const c = libc();
  const log: string[] = [];
  bpf.setLog((level, line) => {
    if (level <= 1 && line !== '') log.push(line); // 0 warn, 1 info
    if (log.length > 64) log.shift();
  });
  const fail = (what: string, err: number): never => {
    const detail = log.length > 0 ? `\n${log.slice(-12).join('\n')}` : '';
    const errno = Math.abs(err);
    throw new NativeError(
      errno === 1 || errno === 13 ? 'ERR_NATIVE_UNAVAILABLE' : 'ERR_NATIVE_CALL',
      `${what}: ${bpf.strerror(-errno)} (${errnoName(errno)})${detail}`,
      { errno },
    );
  };

  const started = performance.now();
  const obj = bpf.openFile(s.objectPath);
  if (!obj) fail(`bpf_object__open_file(${s.objectPath})`, bpf.errno());
  const links: Handle[] = [];
  let rb: Handle = null;
  let sampleCb: bigint | undefined;
  const release = (): void => {
    if (rb) bpf.ringBufferFree(rb);
    rb = null;
    for (const l of links.splice(0)) bpf.destroyLink(l);
    bpf.close(obj);
    if (sampleCb !== undefined) bpf.unregister(sampleCb);
    sampleCb = undefined;
  };
  const items: EbpfProcessEvent[] = [];
  let malformed = 0;
  try {
    const wanted = new Set(['de_exec', ...(s.fork ? ['de_fork'] : []), ...(s.exit ? ['de_exit'] : [])]);
    const programs: Array<[string, Handle]> = [];
    for (let p = bpf.nextProgram(obj, null); p; p = bpf.nextProgram(obj, p)) {
      const name = bpf.programName(p);
      bpf.setAutoload(p, wanted.has(name));
      if (wanted.has(name)) programs.push([name, p]);
    }
    const events = bpf.findMap(obj, 'events');
    if (!events) fail('the object has no events map', 22);
    const rc = bpf.setMaxEntries(events, s.ringBufferBytes);
    if (rc < 0) fail('bpf_map__set_max_entries(events)', rc);
    const ro = bpf.findMap(obj, '.rodata');
    if (!ro) fail('the object has no .rodata', 22);
    const init = bpf.initialValue(ro);
    if (!init.ptr || init.size < 16) fail(`.rodata is ${init.size} bytes, not 16`, 22);
    const cfg = new DataView(bpf.koffi.view(init.ptr, 16));
    cfg.setBigUint64(EBPF_CONFIG_LAYOUT.wakeup_bytes, BigInt(s.wakeupBytes), true);
    cfg.setBigUint64(EBPF_CONFIG_LAYOUT.latency_ns, BigInt(s.latencyMs) * 1_000_000n, true);
    const loaded = bpf.load(obj);
    if (loaded < 0) fail('bpf_object__load', loaded);
    const loadMs = performance.now() - started;
    for (const [name, p] of programs) {
      const link = bpf.attach(p);
      if (!link) fail(`bpf_program__attach(${name})`, bpf.errno());
      links.push(link);
    }
    sampleCb = bpf.registerSample((_ctx, data, size) => {
      const n = Number(size);
      const ev = decodeEbpfRecord(Buffer.from(bpf.koffi.view(data, n)), n);
      if (ev === undefined) malformed++;
      else items.push(ev);
      return 0;
    });
    rb = bpf.ringBufferNew(bpf.mapFd(events), sampleCb);
    if (!rb) fail('ring_buffer__new', bpf.errno());
    const epollFd = bpf.ringBufferEpollFd(rb);
    const counters = bpf.findMap(obj, 'counters');
    const countersFd = counters ? bpf.mapFd(counters) : -1;
    const cpus = Math.max(1, bpf.possibleCpus());
    const key = Buffer.alloc(4);
    const value = Buffer.alloc(8 * cpus);
    const counter = (idx: number): number => {
      if (countersFd < 0) return 0;
      key.writeUInt32LE(idx);
      if (bpf.lookup(countersFd, key, value) < 0) return 0;
      let sum = 0;
      for (let i = 0; i < cpus; i++) sum += Number(value.readBigUInt64LE(i * 8));
      return sum;
    };
    const seen = { drop: 0, trunc: 0, fname: 0 };
    const post = (m: WorkerMessage<EbpfProcessEvent>): void => port.postMessage(m);
    const reportCounters = (): void => {
      const now = Date.now();
      const drop = counter(C_DROP);
      const trunc = counter(C_TRUNC);
      const fname = counter(C_FNAME);
      if (drop > seen.drop) post({ type: 'loss', reason: 'ring_full', count: drop - seen.drop, at: now });
      if (trunc > seen.trunc) post({ type: 'loss', reason: 'argv_truncated', count: trunc - seen.trunc, at: now });
      if (fname > seen.fname) post({ type: 'loss', reason: 'filename_truncated', count: fname - seen.fname, at: now });
      if (malformed > 0) post({ type: 'loss', reason: 'malformed', count: malformed, at: now });
      malformed = 0;
      seen.drop = drop;
      seen.trunc = trunc;
      seen.fname = fname;
    };
    post({
      type: 'ready',
      fd: epollFd,
      receiveBufferBytes: s.ringBufferBytes,
      detail: {
        programs: programs.map(([name]) => name),
        loadMs: Math.round(loadMs * 10) / 10,
        attachMs: Math.round((performance.now() - started - loadMs) * 10) / 10,
        execsBefore: counter(C_EXEC),
      },
    });

    const wakeFd = typeof s.wakeFd === 'number' && s.wakeFd >= 0 ? s.wakeFd : -1;
    const inFlight = new InFlight(workerData);
    let stopping = false;
    let timeoutMs = IDLE_POLL_MS;
    let lastCounters = 0;
    port.on('message', (m: HostMessage) => {
      if (m.type === 'ack') inFlight.acked();
      else if (m.type === 'stop') stopping = true;
    });
    const drain = (): number => {
      const before = items.length;
      const n = bpf.ringBufferConsume(rb);
      if (n < 0) fail('ring_buffer__consume', n);
      return items.length - before;
    };
    const flush = (): void => {
      if (items.length === 0) return;
      inFlight.posted();
      post({ type: 'batch', items: items.splice(0) });
    };
    const finish = (): void => {
      // What the programs wrote before the links went is still delivered.
      drain();
      flush();
      reportCounters();
      release();
      port.close();
    };
    const tick = (): void => {
      if (stopping) {
        finish();
        return;
      }
      if (inFlight.count() >= MAX_IN_FLIGHT) {
        setTimeout(tick, 5);
        return;
      }
      const r = wakeFd >= 0 ? c.pollWake(epollFd, wakeFd, timeoutMs) : c.pollIn(epollFd, Math.min(timeoutMs, 100));
      if (r < 0 && r !== -4) {
        post({
          type: 'error',
          code: 'ERR_NATIVE_CALL',
          message: `poll failed: ${errnoName(-r)}`,
          errno: -r,
          fatal: true,
        });
        release();
        port.close();
        return;
      }
      const got = drain();
      // Records written without a wake-up may follow: look again within the latency bound.
      timeoutMs = got > 0 ? s.latencyMs : IDLE_POLL_MS;
      flush();
      const now = performance.now();
      if (got > 0 && now - lastCounters >= 1000) {
        lastCounters = now;
        reportCounters();
      } else if (got === 0 && lastCounters > 0) {
        lastCounters = 0;
        reportCounters();
      }
      setImmediate(tick);
    };
    setImmediate(tick);
  } catch (e) {
    release();
    throw e;
  }
});
