/**
 * Secrets stay data (issue 21): a mover's Job takes no environment from a whole Secret (envFrom);
 * the restic mover takes the repository Secret's keys restic documents, each by an optional
 * secretKeyRef, and every SCRIBE_* variable from the operator; options that run programs are
 * allowed only in a namespace annotated for privileged movers.
 */
import { describe, expect, it } from 'vitest';
import type { ScribeCr } from '../../../machines/api.js';
import type { KubeObject, MoverFacts } from '../../../machines/mover.js';
import { resticMover } from '../../../src/movers/restic/mover.js';
import { rcloneMover } from '../../../src/movers/rclone/mover.js';
import { RESTIC_SECRET_ENV } from '../../../src/movers/restic/secret-env.js';
import { ALLOW_COMMANDS_ENV } from '../../../src/movers/commands.js';
import type { MoverRuntime } from '../../../src/movers/catalog.js';

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } };
}
type Container = { env: EnvVar[]; envFrom?: unknown };

function cr(kind: ScribeCr['kind'], section: 'restic' | 'rclone'): ScribeCr {
  const mover =
    section === 'restic'
      ? { restic: { repository: 'repo-secret' } }
      : { rclone: { rcloneConfig: 'conf-secret', rcloneConfigSection: 'remote', rcloneDestPath: 'bucket/path' } };
  return {
    apiVersion: 'scribe.backube/v1alpha1',
    kind,
    metadata: { name: 'db', namespace: 'ns', uid: 'uid-1', creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: { ...(kind === 'ReplicationSource' ? { sourcePVC: 'data' } : {}), ...mover },
  } as unknown as ScribeCr;
}

function container(mover: MoverRuntime, resource: ScribeCr, facts: MoverFacts = {}): Container {
  const plan = mover.build(resource, { cycleId: '1-20260101000000', attempt: 0, volume: 'vol' }, facts);
  const job = plan.objects.find((o) => o.kind === 'Job') as KubeObject & {
    spec: { template: { spec: { containers: Container[] } } };
  };
  return job.spec.template.spec.containers[0] as Container;
}

/** The fixed allow-list: restic 0.19.1's doc/075_scripting.rst, less commands, paths and the mover's own. */
const EXPECTED = [
  'RESTIC_REPOSITORY',
  'RESTIC_PASSWORD',
  'RESTIC_KEY_HINT',
  'RESTIC_COMPRESSION',
  'RESTIC_PACK_SIZE',
  'RESTIC_READ_CONCURRENCY',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_DEFAULT_REGION',
  'RESTIC_AWS_ASSUME_ROLE_ARN',
  'RESTIC_AWS_ASSUME_ROLE_SESSION_NAME',
  'RESTIC_AWS_ASSUME_ROLE_EXTERNAL_ID',
  'RESTIC_AWS_ASSUME_ROLE_POLICY',
  'RESTIC_AWS_ASSUME_ROLE_REGION',
  'RESTIC_AWS_ASSUME_ROLE_STS_ENDPOINT',
  'AZURE_ACCOUNT_NAME',
  'AZURE_ACCOUNT_KEY',
  'AZURE_ACCOUNT_SAS',
  'AZURE_ENDPOINT_SUFFIX',
  'B2_ACCOUNT_ID',
  'B2_ACCOUNT_KEY',
  'GOOGLE_PROJECT_ID',
  'GOOGLE_ACCESS_TOKEN',
  'OS_AUTH_URL',
  'OS_REGION_NAME',
  'OS_USERNAME',
  'OS_USER_ID',
  'OS_PASSWORD',
  'OS_TENANT_ID',
  'OS_TENANT_NAME',
  'OS_USER_DOMAIN_NAME',
  'OS_USER_DOMAIN_ID',
  'OS_PROJECT_NAME',
  'OS_PROJECT_DOMAIN_NAME',
  'OS_PROJECT_DOMAIN_ID',
  'OS_TRUST_ID',
  'OS_APPLICATION_CREDENTIAL_ID',
  'OS_APPLICATION_CREDENTIAL_NAME',
  'OS_APPLICATION_CREDENTIAL_SECRET',
  'OS_STORAGE_URL',
  'OS_AUTH_TOKEN',
  'ST_AUTH',
  'ST_USER',
  'ST_KEY',
  'RESTIC_REST_USERNAME',
  'RESTIC_REST_PASSWORD',
  'RCLONE_BWLIMIT',
];

describe('the restic Job takes documented keys of the repository Secret, one by one', () => {
  it.each(['ReplicationSource', 'ReplicationDestination'] as const)('%s: no envFrom, a fixed allow-list', (kind) => {
    const c = container(resticMover, cr(kind, 'restic'));
    expect(c.envFrom).toBeUndefined();
    const fromSecret = c.env.filter((e) => e.valueFrom?.secretKeyRef);
    expect(fromSecret.map((e) => e.name)).toEqual(EXPECTED);
    expect([...RESTIC_SECRET_ENV]).toEqual(EXPECTED);
    for (const e of fromSecret)
      expect(e.valueFrom?.secretKeyRef).toEqual({ name: 'repo-secret', key: e.name, optional: true });
    // Each name once: a later duplicate would override an earlier one.
    expect(new Set(c.env.map((e) => e.name)).size).toBe(c.env.length);
  });

  it('never takes a variable that runs code, names a file of the pod, or is the mover own', () => {
    const dangerous = [
      'NODE_OPTIONS',
      'PATH',
      'LD_PRELOAD',
      'LD_LIBRARY_PATH',
      'HOME',
      'TMPDIR',
      'RESTIC_PASSWORD_COMMAND',
      'RESTIC_PASSWORD_FILE',
      'RESTIC_REPOSITORY_FILE',
      'RESTIC_CACERT',
      'RESTIC_CACHE_DIR',
      'RESTIC_HOST',
      'AZURE_FORCE_CLI_CREDENTIAL',
      'AWS_SHARED_CREDENTIALS_FILE',
      'GOOGLE_APPLICATION_CREDENTIALS',
    ];
    for (const name of dangerous) expect(RESTIC_SECRET_ENV).not.toContain(name);
    expect(RESTIC_SECRET_ENV.filter((n) => n.startsWith('SCRIBE_'))).toEqual([]);
    const c = container(resticMover, cr('ReplicationSource', 'restic'));
    for (const e of c.env.filter((v) => v.name.startsWith('SCRIBE_'))) expect(e.valueFrom).toBeUndefined();
  });
});

describe('the rclone Job takes nothing from a Secret as environment', () => {
  it.each(['ReplicationSource', 'ReplicationDestination'] as const)('%s: no envFrom, no secretKeyRef', (kind) => {
    const c = container(rcloneMover, cr(kind, 'rclone'));
    expect(c.envFrom).toBeUndefined();
    expect(c.env.filter((e) => e.valueFrom?.secretKeyRef)).toEqual([]);
  });
});

describe('options that run programs: allowed by the namespace, told to the entrypoint', () => {
  it.each([
    [resticMover, 'restic'],
    [rcloneMover, 'rclone'],
  ] as const)('%#: %s', (mover, section) => {
    const value = (facts: MoverFacts) =>
      container(mover, cr('ReplicationSource', section), facts).env.find((e) => e.name === ALLOW_COMMANDS_ENV)?.value;
    expect(value({})).toBe('false');
    expect(value({ privilegedNamespace: false })).toBe('false');
    expect(value({ privilegedNamespace: true })).toBe('true');
  });
});
