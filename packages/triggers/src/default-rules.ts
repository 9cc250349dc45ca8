/**
 * The rule set that ships on by default (`processors.triggers.default_rules`): execution from a
 * world-writable temporary directory, a running executable deleted from disk, a shell or interpreter
 * spawned by a network service, and a new setuid/setgid file (which fires once a filesystem source
 * reports permissions). Each asks the binary hasher for a SHA-256, except the deleted executable, which
 * starts the default analysis workflow `deleted-executable-triage` (see default-workflows.ts) through
 * the analysis chain coordinator. Definitions only.
 */
import { TriggerPriority } from '@daemoneye/core';
import type { TriggerCondition, TriggerInput } from './condition.ts';

const NETWORK_SERVICES = [
  'nginx',
  'apache2',
  'httpd',
  'lighttpd',
  'caddy',
  'php-fpm',
  'uwsgi',
  'gunicorn',
  'mysqld',
  'postgres',
  'redis-server',
  'named',
  'vsftpd',
];
const INTERPRETERS = [
  'sh',
  'bash',
  'dash',
  'zsh',
  'ksh',
  'python',
  'python3',
  'perl',
  'ruby',
  'php',
  'nc',
  'ncat',
  'socat',
];
const list = (xs: readonly string[]) => xs.map((x) => `'${x}'`).join(', ');

/** The default rules. */
export const DEFAULT_RULES: readonly TriggerInput<TriggerCondition>[] = Object.freeze([
  {
    id: 'exec-from-temp-dir',
    description: 'A program runs from /tmp, /var/tmp or /dev/shm',
    sqlCondition:
      "subtype IN ('exec', 'snapshot') AND (executable_path GLOB '/tmp/*' OR executable_path GLOB '/var/tmp/*' OR executable_path GLOB '/dev/shm/*')",
    analysisType: 'BinaryHash',
    priority: TriggerPriority.High,
    targetCollector: 'binary-hasher',
  },
  {
    id: 'deleted-executable',
    description: 'A running executable was deleted or replaced on disk',
    sqlCondition: "subtype IN ('exec', 'snapshot') AND executable_deleted = 1",
    // Starts the default workflow `deleted-executable-triage`, which names this rule in its `triggers`.
    analysisType: 'Custom',
    priority: TriggerPriority.High,
    targetCollector: 'analysis-chains',
  },
  {
    id: 'interpreter-from-network-service',
    description: 'A network service spawned a shell or an interpreter',
    sqlCondition: `subtype = 'exec' AND parent_name IN (${list(NETWORK_SERVICES)}) AND name IN (${list(INTERPRETERS)})`,
    analysisType: 'BinaryHash',
    priority: TriggerPriority.Critical,
    targetCollector: 'binary-hasher',
  },
  {
    id: 'new-setuid-file',
    description: 'A file became setuid or setgid',
    sqlCondition:
      "kind = 'filesystem' AND operation IN ('create', 'attrib', 'modify') AND (permissions GLOB '[4-7][0-7][0-7][0-7]' OR permissions GLOB '0[4-7][0-7][0-7][0-7]')",
    analysisType: 'BinaryHash',
    priority: TriggerPriority.Normal,
    targetCollector: 'binary-hasher',
  },
]);
