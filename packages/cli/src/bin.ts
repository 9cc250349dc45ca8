#!/usr/bin/env node
/**
 * Executable entry of `daemoneye-collector`: runs `main` with the process arguments and exits with
 * its code.
 */
import { main } from './main.ts';

const code = await main(process.argv.slice(2));
process.exit(code);
