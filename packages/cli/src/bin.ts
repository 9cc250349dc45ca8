#!/usr/bin/env node
/**
 * Executable entry of `daemoneye-collector`: runs `main` with the process arguments and exits with
 * its code, once the worker threads have ended (at most 5 s): exiting while a worker is still inside a
 * native call, as one whose start an early SIGINT aborted can be, would abort the process.
 */
import { allWorkersEnded } from '@daemoneye/native';
import { main } from './main.ts';

const code = await main(process.argv.slice(2));
await allWorkersEnded(5000);
process.exit(code);
