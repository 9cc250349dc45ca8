#!/usr/bin/env node
/**
 * Executable entry of `daemoneye-collector`: for `run`, first starts over in place with the Node
 * options the service runs with (see `node-flags.ts`); then runs `main` with the process arguments
 * and exits with its code, once the worker threads have ended (at most 5 s): exiting while a worker is
 * still inside a native call, as one whose start an early SIGINT aborted can be, would abort the
 * process.
 */
import { allWorkersEnded } from '@daemoneye/native';
import { applyRunNodeFlags } from './node-flags.ts';

applyRunNodeFlags(process.argv.slice(2));
const { main } = await import('./main.ts');
const code = await main(process.argv.slice(2));
await allWorkersEnded(5000);
process.exit(code);
