// The client side of ipc.bench.mjs, in a worker thread (its own event loop): counts streamed events,
// or times request round trips, with IpcClient — or with newline-delimited JSON over a plain socket,
// the hand-rolled alternative.
import { connect } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { IpcClient } from '../dist/index.js';

const { socket, mode, events, requests } = workerData;

function jsonLines(onLine) {
  return new Promise((resolve) => {
    const s = connect(socket, () => resolve(s));
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d) => {
      buf += d;
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        onLine(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
      }
    });
  });
}

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

if (mode === 'ipc-stream') {
  const client = new IpcClient({ socketPath: socket });
  let got = 0;
  let last = 0;
  let dropped = 0;
  for await (const item of client.subscribe({})) {
    if (item.type === 'subscribed') parentPort.postMessage({ ready: true });
    if (item.type === 'dropped') dropped += item.notice.dropped;
    if (item.type === 'events') {
      got += item.events.length;
      last = item.events[item.events.length - 1].event.timestamp;
      if (got + dropped >= events) break;
    }
  }
  parentPort.postMessage({ done: performance.now(), got, dropped, last });
  await client.close();
} else if (mode === 'json-stream') {
  let got = 0;
  const s = await jsonLines(() => {
    got++;
    if (got === events) {
      parentPort.postMessage({ done: performance.now(), got, dropped: 0 });
      s.destroy();
    }
  });
  parentPort.postMessage({ ready: true });
} else if (mode === 'ipc-rtt') {
  const client = new IpcClient({ socketPath: socket });
  await client.capabilities();
  const times = [];
  for (let i = 0; i < requests; i++) {
    const t = performance.now();
    await client.capabilities();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  parentPort.postMessage({ p50: quantile(times, 0.5), p99: quantile(times, 0.99), max: times.at(-1) });
  await client.close();
} else if (mode === 'json-rtt') {
  let resolveOne;
  const s = await jsonLines((m) => resolveOne(m));
  const ask = () =>
    new Promise((r) => {
      resolveOne = r;
      s.write(`${JSON.stringify({ id: 1, type: 'capabilities' })}\n`);
    });
  await ask();
  const times = [];
  for (let i = 0; i < requests; i++) {
    const t = performance.now();
    await ask();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  parentPort.postMessage({ p50: quantile(times, 0.5), p99: quantile(times, 0.99), max: times.at(-1) });
  s.destroy();
}
