/**
 * TLS, NKeys and passwords reach the NATS client's connection options: each against a real server
 * that requires them, and the same sink without them stays Degraded with the server's reason while
 * its events wait in the spool.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createUser } from '@nats-io/nkeys';
import { afterEach, describe, expect, it } from 'vitest';
import { batchAt, runtime, waitFor } from './__test__/support.ts';
import { createNatsSink, type NatsSink, type NatsSinkOptions } from './nats-sink.ts';
import { type NatsServer, startConfiguredServer } from './testing.ts';

const servers: NatsServer[] = [];
const sinks: NatsSink[] = [];
afterEach(async () => {
  for (const s of sinks.splice(0)) await s.close();
  for (const s of servers.splice(0)) await s.stop();
});
const never = new AbortController().signal;

async function forwards(options: NatsSinkOptions): Promise<NatsSink> {
  const s = createNatsSink({ reconnectWaitMs: 200, ackTimeoutMs: 2000, ...options });
  sinks.push(s);
  await s.open(never, runtime());
  await s.write(batchAt(0, 100), never);
  return s;
}

describe('authentication and TLS', () => {
  it('authenticates with an NKey seed file, and is Degraded without it', async () => {
    const user = createUser();
    const srv = await startConfiguredServer(`authorization { users: [ { nkey: "${user.getPublicKey()}" } ] }`);
    servers.push(srv);
    const dir = mkdtempSync(join(tmpdir(), 'de-nkey-'));
    const seedFile = join(dir, 'user.nk');
    writeFileSync(seedFile, `${new TextDecoder().decode(user.getSeed())}\n`);
    const ok = await forwards({ servers: [srv.url], nkeySeedFile: seedFile });
    await waitFor(() => ok.stats().acked === 100, 'the acks with the NKey');
    const refused = await forwards({ servers: [srv.url] });
    await waitFor(
      () => /authoriz/i.test(refused.health().reason ?? ''),
      `an authorization reason: ${refused.health().reason}`,
    );
    expect(refused.stats()).toMatchObject({ acked: 0, spoolPendingEvents: 100 });
  });

  it('authenticates with a user and password', async () => {
    const srv = await startConfiguredServer('authorization { user: collector, password: "s3cret-pass" }');
    servers.push(srv);
    const ok = await forwards({ servers: [srv.url], user: 'collector', password: 's3cret-pass' });
    await waitFor(() => ok.stats().acked === 100, 'the acks with the password');
    const wrong = await forwards({ servers: [srv.url], user: 'collector', password: 'wrong' });
    await waitFor(() => /authoriz/i.test(wrong.health().reason ?? ''), 'an authorization reason');
    expect(wrong.stats().acked).toBe(0);
  });

  it('connects over TLS verifying the server with the configured CA', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'de-tls-'));
    const f = (n: string) => join(dir, n);
    const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
    ssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=test CA',
      '-keyout',
      f('ca.key'),
      '-out',
      f('ca.pem'),
    );
    ssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=127.0.0.1',
      '-keyout',
      f('server.key'),
      '-out',
      f('server.csr'),
    );
    writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    ssl(
      'x509',
      '-req',
      '-in',
      f('server.csr'),
      '-CA',
      f('ca.pem'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      f('ext.cnf'),
      '-out',
      f('server.pem'),
    );
    const srv = await startConfiguredServer(`tls { cert_file: "${f('server.pem')}", key_file: "${f('server.key')}" }`);
    servers.push(srv);
    const ok = await forwards({ servers: [srv.url], tlsCaFile: f('ca.pem') });
    await waitFor(() => ok.stats().acked === 100, 'the acks over TLS', 8000).catch((e) => {
      throw new Error(`${e.message}: ${ok.health().reason}`);
    });
    // Without the CA the server's certificate cannot be verified.
    const untrusted = await forwards({ servers: [srv.url], tls: true });
    await waitFor(() => untrusted.health().reason?.includes('cannot connect') === true, 'a TLS failure', 8000).catch(
      (e) => {
        throw new Error(`${e.message}: ${untrusted.health().reason}`);
      },
    );
    expect(untrusted.stats().acked).toBe(0);
  });
});
