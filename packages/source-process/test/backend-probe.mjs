// Starts the built process source with its defaults, prints the backend it chose and its health
// report as one JSON line, and stops. Run by ebpf-backend.integration.test.ts with reduced
// capabilities (setpriv), so the start-up probe runs in a process that really lacks them.
import { createProcessSource } from '../dist/index.js';

const source = createProcessSource({ hashing: { enabled: false } });
const ctl = new AbortController();
let ready;
const isReady = new Promise((r) => {
  ready = r;
});
const tx = {
  send: async () => true,
  trySend: () => true,
  reportLoss: () => {},
  pressure: () => 0,
  underPressure: false,
  ready: () => ready(),
  get closed() {
    return false;
  },
};
const done = source.start(tx, ctl.signal);
await isReady;
const health = await source.healthCheck();
console.log(JSON.stringify({ backend: source.backend(), health }));
ctl.abort();
await source.stop();
await done;
