// Runs the filesystem source with the inotify backend on the directory given, prints its health and
// watch count as JSON, and exits. The integration test starts it inside a user namespace whose
// inotify watch limit it lowered.
import { RecordingSender } from '@daemoneye/core/testing';
import { createFsSource } from '../dist/index.js';

const source = createFsSource({ paths: [process.argv[2]], backend: 'inotify' });
const tx = new RecordingSender();
const ctl = new AbortController();
const done = source.start(tx, ctl.signal);
await tx.waitFor((t) => t.readyCalled, 10_000);
const health = await source.healthCheck();
const watches = source.stats().watches;
ctl.abort();
await done;
process.stdout.write(JSON.stringify({ health, watches }));
