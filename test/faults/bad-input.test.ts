/**
 * Bad input, one table (design.md, "Bad input"): every row is refused by the API server where
 * the schema can say so, or else ends in Reconciled=False with a message naming the field and a
 * Warning Event naming it too. For every row, nothing of the user's is deleted, and a healthy
 * neighbour in the same namespace, created after all the bad CRs, completes a sync. A few rows
 * are about limits and accidents rather than mistakes (a name at the length limit, a source PVC
 * deleted during a sync, a destination PVC too small for the source's data, which needs the
 * local runtime's capacity-enforcing `scribe-local-sized` class): their expectation says what
 * must happen instead. The rows' CRs are all created up front, on a local system of this file's
 * own (and a MinIO for restic and rclone), and the rows then wait for their outcome side by side.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { ReplicationDestination, ReplicationSource } from '../../src/api/index.js';
import { ApiError, kubeRequest } from '../../src/kube/rest.js';
import { collectionPath, objectPath, RESOURCES } from '../../src/kube/resources.js';
import { SIZED_CLASS } from '../../src/local/agent/kinds.js';
import { startS3Server, type S3Server } from '../../src/local/s3.js';
import {
  copySecret,
  create,
  createPvc,
  get,
  listeningAddress,
  patch,
  pvcDirectory,
  waitForObject,
} from '../../src/local/objects.js';
import { waitFor } from '../../src/local/processes.js';
import { generateRsyncSecretContents } from '../../src/movers/rsync/keys.js';
import { localSystemOfThisFile } from '../support/local-system.js';

const API = 'scribe.backube/v1alpha1';
const NS = { src: 'bad-src', dst: 'bad-dst', obj: 'bad-obj' } as const;
type Ns = keyof typeof NS;
type Kind = 'ReplicationSource' | 'ReplicationDestination';
type ScribeObject = ReplicationSource | ReplicationDestination;

/** A Secret a row creates (the user's: it must still exist afterwards). */
interface SecretSpec {
  name: string;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

/** What the rows build on: the running system and the healthy objects beforeAll made. */
interface Fixtures {
  kc: KubeConfig;
  s3: S3Server;
  bucket: string;
  /** Listening rsync destinations in NS.dst by name: address and key Secret (copied to NS.src). */
  dest: Record<string, { address: string; keys: string; keyData: Record<string, string> }>;
}

/** What must happen to a row. */
type Expectation =
  | { refusedByApiServer: RegExp }
  | {
      condition: { field: string; message: RegExp };
      /** A failed transfer: retried later, with the time of the retry in the condition. */
      retried?: boolean;
      timeoutMs?: number;
    }
  | { outcome: string; check: (f: Fixtures, row: Row) => Promise<void> };

interface Row {
  name: string;
  ns: Ns;
  kind: Kind;
  /** The CR's metadata.name. */
  cr: string;
  spec: (f: Fixtures) => object;
  secrets?: (f: Fixtures) => SecretSpec[];
  /** The user's PVCs (in the row's namespace) the row uses besides its Secrets. */
  pvcs?: string[];
  /** Something to do once the CR exists (started in beforeAll, awaited by the row). */
  after?: (f: Fixtures, row: Row) => Promise<void>;
  expect: Expectation;
}

const rsyncTo = (f: Fixtures, dest: string, extra: object = {}) => ({
  copyMethod: 'Clone',
  address: f.dest[dest]?.address,
  sshKeys: f.dest[dest]?.keys,
  ...extra,
});
/** A source of the shared volume `data`, pushing to the healthy destination. */
const source =
  (extra: object = {}, rsync: object = {}) =>
  (f: Fixtures) => ({
    sourcePVC: 'data',
    trigger: { manual: 'go' },
    rsync: rsyncTo(f, 'good', rsync),
    ...extra,
  });
/** The healthy destination's key Secret without `key` (and with `changes`). */
const sourceKeysWithout =
  (name: string, key: string | undefined, changes: Record<string, string> = {}) =>
  (f: Fixtures): SecretSpec[] => {
    const data = { ...f.dest.good?.keyData };
    if (key) delete data[key];
    for (const [k, v] of Object.entries(changes)) data[k] = Buffer.from(v).toString('base64');
    return [{ name, data }];
  };
/** A destination's own keys (generated here, as a user would with ssh-keygen) without `key`. */
const destinationKeysWithout =
  (name: string, key: string, changes: Record<string, string> = {}) =>
  (): SecretSpec[] => {
    const data: Record<string, string> = { ...generateRsyncSecretContents().destination, ...changes };
    if (!(key in changes)) delete data[key];
    return [{ name, stringData: data }];
  };
const listeningDestination = (sshKeys: string) => () => ({
  rsync: { copyMethod: 'None', capacity: '1Gi', accessModes: ['ReadWriteOnce'], sshKeys },
});
const resticSource =
  (repository: string, extra: object = {}) =>
  () => ({
    sourcePVC: 'data',
    trigger: { manual: 'go' },
    restic: { copyMethod: 'Clone', repository, ...extra },
  });
const resticSecret = (f: Fixtures, path: string, password = 'right-password') => ({
  RESTIC_REPOSITORY: `s3:${f.s3.endpoint}/${f.bucket}/${path}`,
  RESTIC_PASSWORD: password,
  AWS_ACCESS_KEY_ID: f.s3.accessKey,
  AWS_SECRET_ACCESS_KEY: f.s3.secretKey,
});
const rcloneConf = (f: Fixtures) =>
  [
    '[aws-s3-bucket]',
    'type = s3',
    'provider = Minio',
    'env_auth = false',
    `access_key_id = ${f.s3.accessKey}`,
    `secret_access_key = ${f.s3.secretKey}`,
    `endpoint = ${f.s3.endpoint}`,
    '',
  ].join('\n');
const rcloneSource =
  (secret: string, section = 'aws-s3-bucket') =>
  (f: Fixtures) => ({
    sourcePVC: 'data',
    trigger: { manual: 'go' },
    rclone: {
      copyMethod: 'Clone',
      rcloneConfig: secret,
      rcloneConfigSection: section,
      rcloneDestPath: `${f.bucket}/rc`,
    },
  });

/** A DNS subdomain of exactly `length` characters, with dots, as long CR names may have. */
const longName = (prefix: string, length: number) => {
  const body = `${prefix}-${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(80)}`;
  return `${body.slice(0, length - 1)}z`;
};
const LONG = longName('long', 253);
const TOKEN_AT_LIMIT = `t${'0123456789'.repeat(26)}`.slice(0, 256);

const readCr = (kc: KubeConfig, row: { kind: Kind; ns: Ns; cr: string }) =>
  get<ScribeObject>(kc, row.kind, NS[row.ns], row.cr);
const condition = (cr: ScribeObject | undefined, type: string) => cr?.status?.conditions?.find((c) => c.type === type);
const synced = (kc: KubeConfig, row: { kind: Kind; ns: Ns; cr: string }, token: string, timeoutMs = 240_000) =>
  waitForObject(
    `${row.cr.slice(0, 40)} synced ${token.slice(0, 20)}`,
    () => readCr(kc, row),
    (cr) => cr.status?.lastManualSync === token && cr.status?.state === 'idle',
    timeoutMs,
  );

// ---- the table ----------------------------------------------------------------------------------

const ROWS: Row[] = [
  // Refused by the API server: the schema says so.
  {
    name: 'a 6-field cron (with seconds)',
    ns: 'src',
    kind: 'ReplicationSource',
    cr: 'six-field-cron',
    spec: source({ trigger: { schedule: '*/30 * * * * *' } }),
    expect: { refusedByApiServer: /spec\.trigger\.schedule.*6-field expressions with seconds are not supported/ },
  },
  {
    name: 'an unknown copyMethod',
    ns: 'src',
    kind: 'ReplicationSource',
    cr: 'copy-method-copy',
    spec: source({}, { copyMethod: 'Copy' }),
    expect: { refusedByApiServer: /spec\.rsync\.copyMethod: Unsupported value: "Copy"/ },
  },
  {
    name: 'copyMethod Clone on a destination',
    ns: 'dst',
    kind: 'ReplicationDestination',
    cr: 'copy-method-clone',
    spec: () => ({ rsync: { copyMethod: 'Clone', capacity: '1Gi' } }),
    expect: { refusedByApiServer: /spec\.rsync\.copyMethod: Unsupported value: "Clone"/ },
  },
  {
    name: 'two movers in one CR (rsync and restic)',
    ns: 'src',
    kind: 'ReplicationSource',
    cr: 'two-movers',
    spec: (f) => ({ ...source()(f), restic: { copyMethod: 'Clone', repository: 'restic-good' } }),
    expect: { refusedByApiServer: /exactly one of spec\.rsync, spec\.rclone, spec\.restic or spec\.external/ },
  },
  {
    name: 'no mover at all',
    ns: 'src',
    kind: 'ReplicationSource',
    cr: 'no-mover',
    spec: () => ({ sourcePVC: 'data', trigger: { manual: 'go' } }),
    expect: { refusedByApiServer: /exactly one of spec\.rsync, spec\.rclone, spec\.restic or spec\.external/ },
  },
  {
    name: 'no sourcePVC',
    ns: 'src',
    kind: 'ReplicationSource',
    cr: 'no-source-pvc',
    spec: (f) => ({ trigger: { manual: 'go' }, rsync: rsyncTo(f, 'good') }),
    expect: { refusedByApiServer: /spec\.sourcePVC is required: name the PVC to replicate/ },
  },
  {
    name: 'port 0',
    ns: 'dst',
    kind: 'ReplicationDestination',
    cr: 'port-zero',
    spec: () => ({ rsync: { copyMethod: 'None', capacity: '1Gi', port: 0 } }),
    expect: { refusedByApiServer: /spec\.rsync\.port: Invalid value: 0: .*greater than or equal to 1/ },
  },
  {
    name: 'port 70000',
    ns: 'src',
    kind: 'ReplicationSource',
    cr: 'port-70000',
    spec: source({}, { port: 70000 }),
    expect: { refusedByApiServer: /spec\.rsync\.port: Invalid value: 70000: .*less than or equal to 65535/ },
  },
  {
    name: 'a negative retain.daily',
    ns: 'obj',
    kind: 'ReplicationSource',
    cr: 'retain-daily',
    spec: resticSource('restic-good', { retain: { daily: -1 } }),
    expect: { refusedByApiServer: /spec\.restic\.retain\.daily: Invalid value: -1/ },
  },
  {
    name: 'a negative retain.last',
    ns: 'obj',
    kind: 'ReplicationSource',
    cr: 'retain-last',
    spec: resticSource('restic-good', { retain: { last: -3, weekly: 2 } }),
    expect: { refusedByApiServer: /spec\.restic\.retain\.last: Invalid value: -3/ },
  },
  {
    name: 'a 10,000-character manual token',
    ns: 'src',
    kind: 'ReplicationSource',
    cr: 'manual-10000',
    spec: source({ trigger: { manual: 'x'.repeat(10_000) } }),
    expect: { refusedByApiServer: /spec\.trigger\.manual: Too long: .*256/ },
  },
  {
    name: 'a CR name one past the length limit (254 characters)',
    ns: 'src',
    kind: 'ReplicationSource',
    cr: longName('over', 254),
    spec: source(),
    expect: { refusedByApiServer: /metadata\.name: Invalid value: .*must be no more than 253 characters/ },
  },

  // Accepted by the schema, refused by the machine or reported from the mover.
  {
    name: 'a cron minute that does not exist (61)',
    ns: 'src',
    kind: 'ReplicationSource',
    cr: 'cron-minute-61',
    spec: source({ trigger: { schedule: '61 * * * *' } }),
    expect: { condition: { field: 'spec.trigger.schedule', message: /61/ } },
  },
  {
    name: 'a cron month that does not exist (13)',
    ns: 'src',
    kind: 'ReplicationSource',
    cr: 'cron-month-13',
    spec: source({ trigger: { schedule: '0 0 1 13 *' } }),
    expect: { condition: { field: 'spec.trigger.schedule', message: /13/ } },
  },
  {
    name: 'a capacity smaller than the source PVC (a clone cannot shrink)',
    ns: 'src',
    kind: 'ReplicationSource',
    cr: 'capacity-too-small',
    spec: source({}, { capacity: '1Mi' }),
    expect: { condition: { field: 'spec.rsync.capacity', message: /1Mi is smaller than PVC data's 1Gi/ } },
  },
  {
    name: 'a key Secret that does not exist',
    ns: 'src',
    kind: 'ReplicationSource',
    cr: 'keys-absent',
    spec: source({}, { sshKeys: 'never-copied' }),
    expect: { condition: { field: 'spec.rsync.sshKeys', message: /Secret "never-copied" is missing/ } },
  },
  {
    name: 'a source key Secret without "source"',
    ns: 'src',
    kind: 'ReplicationSource',
    cr: 'src-keys-no-source',
    secrets: sourceKeysWithout('keys-no-source', 'source'),
    spec: source({}, { sshKeys: 'keys-no-source' }),
    expect: {
      condition: {
        field: 'spec.rsync.sshKeys',
        message: /Secret "keys-no-source" has no key "source"; it must hold source, source.pub, destination.pub/,
      },
      retried: true,
    },
  },
  {
    name: 'a source key Secret without "destination.pub"',
    ns: 'src',
    kind: 'ReplicationSource',
    cr: 'src-keys-no-destination-pub',
    secrets: sourceKeysWithout('keys-no-destination-pub', 'destination.pub'),
    spec: source({}, { sshKeys: 'keys-no-destination-pub' }),
    expect: {
      condition: {
        field: 'spec.rsync.sshKeys',
        message: /Secret "keys-no-destination-pub" has no key "destination.pub"/,
      },
      retried: true,
    },
  },
  {
    name: 'a source key Secret whose destination.pub is not an OpenSSH key',
    ns: 'src',
    kind: 'ReplicationSource',
    cr: 'src-keys-bad-destination-pub',
    secrets: sourceKeysWithout('keys-bad-destination-pub', undefined, { 'destination.pub': 'not a key\n' }),
    spec: source({}, { sshKeys: 'keys-bad-destination-pub' }),
    expect: {
      condition: {
        field: 'spec.rsync.sshKeys',
        message: /key "destination.pub" of Secret "keys-bad-destination-pub" is not an OpenSSH public key/,
      },
      retried: true,
    },
  },
  {
    name: 'a source key Secret whose private key is not a key',
    ns: 'src',
    kind: 'ReplicationSource',
    cr: 'src-keys-bad-source',
    secrets: sourceKeysWithout('keys-bad-source', undefined, {
      source: '-----BEGIN OPENSSH PRIVATE KEY-----\nbm90IGEga2V5IGF0IGFsbA==\n-----END OPENSSH PRIVATE KEY-----\n',
    }),
    spec: source({}, { sshKeys: 'keys-bad-source' }),
    expect: {
      condition: { field: 'spec.rsync.sshKeys', message: /Secret "keys-bad-source": the destination refused/ },
      retried: true,
    },
  },
  {
    name: 'a source key Secret without "source.pub" (which the source never uses)',
    ns: 'src',
    kind: 'ReplicationSource',
    cr: 'src-keys-no-source-pub',
    secrets: (f) => {
      const data = { ...f.dest.srcpub?.keyData };
      delete data['source.pub'];
      return [{ name: 'keys-no-source-pub', data }];
    },
    spec: (f) => ({
      sourcePVC: 'data',
      trigger: { manual: 'go' },
      rsync: rsyncTo(f, 'srcpub', { sshKeys: 'keys-no-source-pub' }),
    }),
    expect: {
      outcome: 'syncs: only the destination needs the source public key, and it has its own copy',
      check: async (f, row) => {
        const done = await synced(f.kc, row, 'go');
        expect(done.status?.latestMoverStatus?.result).toBe('Successful');
      },
    },
  },
  {
    name: 'a destination key Secret without "destination"',
    ns: 'dst',
    kind: 'ReplicationDestination',
    cr: 'dst-keys-no-destination',
    secrets: destinationKeysWithout('dkeys-no-destination', 'destination'),
    spec: listeningDestination('dkeys-no-destination'),
    expect: {
      condition: {
        field: 'spec.rsync.sshKeys',
        message:
          /Secret "dkeys-no-destination" has no key "destination"; it must hold destination, destination.pub, source.pub/,
      },
      retried: true,
    },
  },
  {
    name: 'a destination key Secret without "destination.pub"',
    ns: 'dst',
    kind: 'ReplicationDestination',
    cr: 'dst-keys-no-destination-pub',
    secrets: destinationKeysWithout('dkeys-no-destination-pub', 'destination.pub'),
    spec: listeningDestination('dkeys-no-destination-pub'),
    expect: {
      condition: {
        field: 'spec.rsync.sshKeys',
        message: /Secret "dkeys-no-destination-pub" has no key "destination.pub"/,
      },
      retried: true,
    },
  },
  {
    name: 'a destination key Secret without "source.pub"',
    ns: 'dst',
    kind: 'ReplicationDestination',
    cr: 'dst-keys-no-source-pub',
    secrets: destinationKeysWithout('dkeys-no-source-pub', 'source.pub'),
    spec: listeningDestination('dkeys-no-source-pub'),
    expect: {
      condition: { field: 'spec.rsync.sshKeys', message: /Secret "dkeys-no-source-pub" has no key "source.pub"/ },
      retried: true,
    },
  },
  {
    name: 'a destination key Secret whose source.pub is not an OpenSSH key',
    ns: 'dst',
    kind: 'ReplicationDestination',
    cr: 'dst-keys-bad-source-pub',
    secrets: destinationKeysWithout('dkeys-bad-source-pub', 'source.pub', { 'source.pub': 'ssh-rsa AAAA' }),
    spec: listeningDestination('dkeys-bad-source-pub'),
    expect: {
      condition: {
        field: 'spec.rsync.sshKeys',
        message: /key "source.pub" of Secret "dkeys-bad-source-pub" is not an OpenSSH public key/,
      },
      retried: true,
    },
  },
  {
    name: 'a restic repository Secret that does not exist',
    ns: 'obj',
    kind: 'ReplicationSource',
    cr: 'restic-secret-absent',
    spec: resticSource('restic-never-made'),
    expect: { condition: { field: 'spec.restic.repository', message: /Secret "restic-never-made" does not exist/ } },
  },
  {
    name: 'a restic repository Secret without RESTIC_PASSWORD',
    ns: 'obj',
    kind: 'ReplicationSource',
    cr: 'restic-no-password',
    secrets: (f) => {
      const { RESTIC_PASSWORD: _, ...rest } = resticSecret(f, 'no-password');
      return [{ name: 'restic-no-password', stringData: rest }];
    },
    spec: resticSource('restic-no-password'),
    expect: {
      condition: { field: 'spec.restic.repository', message: /Secret "restic-no-password" has no RESTIC_PASSWORD key/ },
      retried: true,
    },
  },
  {
    name: 'a restic repository Secret without RESTIC_REPOSITORY',
    ns: 'obj',
    kind: 'ReplicationSource',
    cr: 'restic-no-repository',
    secrets: (f) => {
      const { RESTIC_REPOSITORY: _, ...rest } = resticSecret(f, 'unused');
      return [{ name: 'restic-no-repository', stringData: rest }];
    },
    spec: resticSource('restic-no-repository'),
    expect: {
      condition: {
        field: 'spec.restic.repository',
        message: /Secret "restic-no-repository" has no RESTIC_REPOSITORY key/,
      },
      retried: true,
    },
  },
  {
    name: 'a wrong restic password for a repository that exists',
    ns: 'obj',
    kind: 'ReplicationSource',
    cr: 'restic-wrong-password',
    secrets: (f) => [{ name: 'restic-wrong-password', stringData: resticSecret(f, 'existing', 'wrong-password') }],
    spec: resticSource('restic-wrong-password'),
    expect: {
      condition: {
        field: 'spec.restic.repository',
        message: /RESTIC_PASSWORD of Secret "restic-wrong-password" does not open the repository/,
      },
      retried: true,
    },
  },
  {
    name: 'an rclone config Secret without rclone.conf',
    ns: 'obj',
    kind: 'ReplicationSource',
    cr: 'rclone-no-conf',
    secrets: (f) => [{ name: 'rclone-no-conf', stringData: { 'rclone.config': rcloneConf(f) } }],
    spec: rcloneSource('rclone-no-conf'),
    expect: {
      condition: { field: 'spec.rclone.rcloneConfig', message: /Secret "rclone-no-conf" has no key "rclone.conf"/ },
      retried: true,
    },
  },
  {
    name: 'an rclone config section that rclone.conf does not have',
    ns: 'obj',
    kind: 'ReplicationSource',
    cr: 'rclone-no-section',
    secrets: (f) => [{ name: 'rclone-no-section', stringData: { 'rclone.conf': rcloneConf(f) } }],
    spec: rcloneSource('rclone-no-section', 'gcs-bucket'),
    expect: {
      condition: {
        field: 'spec.rclone.rcloneConfigSection',
        message: /rclone.conf of Secret "rclone-no-section" has no section \[gcs-bucket\]; it has: aws-s3-bucket/,
      },
      retried: true,
    },
  },

  // Limits and accidents.
  {
    name: 'CR names at the length limit (253 characters) and a manual token at its limit (256)',
    ns: 'src',
    kind: 'ReplicationSource',
    cr: LONG,
    spec: (f) => ({ sourcePVC: 'data', trigger: { manual: TOKEN_AT_LIMIT }, rsync: rsyncTo(f, LONG) }),
    expect: {
      outcome: 'both sides sync; every object Scribe names for them is a valid, shortened name',
      check: async (f, row) => {
        const done = await synced(f.kc, row, TOKEN_AT_LIMIT);
        expect(done.status?.latestMoverStatus?.result).toBe('Successful');
        const rd = await waitForObject(
          'the long destination image',
          () => get<ReplicationDestination>(f.kc, 'ReplicationDestination', NS.dst, LONG),
          (d) => Boolean(d.status?.latestImage?.name),
        );
        // A shortened name has a doubled dash after its prefix, which no full name can have (naming.ts).
        expect(rd.status?.latestImage?.name).toMatch(/^scribe-dest--long-a+-[0-9a-f]{10}-\d{14}$/);
        expect(rd.status?.latestImage?.name?.length).toBeLessThanOrEqual(63);
        expect(f.dest[LONG]?.keys).toMatch(/^scribe-rsync-dest-src--long-a+-[0-9a-f]{10}$/);
        // Their Events are recorded too, under names shortened to fit (src/kube/events.ts).
        expect(await eventsFor(f.kc, NS.src, 'ReplicationSource', LONG)).not.toEqual([]);
        expect(await eventsFor(f.kc, NS.dst, 'ReplicationDestination', LONG)).not.toEqual([]);
      },
    },
  },
  {
    name: 'a destinationPVC smaller than the source',
    ns: 'src',
    kind: 'ReplicationSource',
    cr: 'into-small',
    spec: (f) => ({ sourcePVC: 'data', trigger: { manual: 'go' }, rsync: rsyncTo(f, 'small') }),
    expect: {
      outcome:
        'the destination names spec.rsync.destinationPVC (its volume, of a class that enforces capacity, is full); the source says the destination volume is full; the PVC stays as it is',
      check: async (f) => {
        const small = { kind: 'ReplicationDestination', ns: 'dst', cr: 'small' } as const;
        const rd = await expectReported(
          f.kc,
          small,
          'spec.rsync.destinationPVC',
          /the source could not write everything into PVC small-pvc \(rsync exit code 11.*\): is it full\?/,
          { retried: true },
        );
        expect((rd as ReplicationDestination).status?.latestImage).toBeUndefined();
        await expectReported(
          f.kc,
          { kind: 'ReplicationSource', ns: 'src', cr: 'into-small' },
          'transfer failed',
          /mover exited with code 11: error in file I\/O \(is the destination volume full\?\)/,
          { retried: true },
        );
        // Scribe made no PVC of its own instead, and left the given one as it was.
        expect(await get(f.kc, 'PersistentVolumeClaim', NS.dst, 'scribe-dest-small')).toBeUndefined();
        const pvc = await get<KubernetesObject & { spec?: { resources?: { requests?: { storage?: string } } } }>(
          f.kc,
          'PersistentVolumeClaim',
          NS.dst,
          'small-pvc',
        );
        expect(pvc?.spec?.resources?.requests?.storage).toBe('1Mi');
      },
    },
  },
  {
    name: 'the source PVC deleted during a sync',
    ns: 'src',
    kind: 'ReplicationSource',
    cr: 'vanishing',
    pvcs: ['vanishing'],
    spec: (f) => ({
      sourcePVC: 'vanishing',
      trigger: { manual: 'one' },
      rsync: rsyncTo(f, 'vanishing', { copyMethod: 'None' }),
    }),
    // Delete the PVC while the mover has it mounted.
    after: async (f) => {
      await waitFor(
        'the mover of vanishing running',
        async () => {
          const pods = await kubeRequest<{ items: Array<{ status?: { phase?: string } }> }>(f.kc, {
            method: 'GET',
            path: collectionPath(RESOURCES.Pod, NS.src),
            query: { labelSelector: 'scribe.backube/mover-job=scribe-rsync-src-vanishing' },
          });
          return pods.items.some((p) => p.status?.phase === 'Running');
        },
        { timeoutMs: 180_000, intervalMs: 20 },
      );
      await kubeRequest(f.kc, {
        method: 'DELETE',
        path: objectPath(RESOURCES.PersistentVolumeClaim, NS.src, 'vanishing'),
      });
      // It is a deletion during the sync: the mover still holds the PVC, which only goes once it is done.
      const pvc = await get(f.kc, 'PersistentVolumeClaim', NS.src, 'vanishing');
      if (!pvc?.metadata?.deletionTimestamp) throw new Error('the PVC was not held by a running mover when deleted');
      const rs = await get<ReplicationSource>(f.kc, 'ReplicationSource', NS.src, 'vanishing');
      if (rs?.status?.state !== 'moving') throw new Error(`deleted in state ${rs?.status?.state}, not during the sync`);
    },
    expect: {
      outcome:
        'the sync in flight completes from the volume the mover holds; the next one waits for the PVC (decision 3) and runs once it is back',
      check: async (f, row) => {
        const first = await synced(f.kc, row, 'one');
        expect(first.status?.latestMoverStatus?.result).toBe('Successful');
        await waitForObject(
          'the deleted PVC gone',
          async () => ({ pvc: await get(f.kc, 'PersistentVolumeClaim', NS.src, 'vanishing') }),
          ({ pvc }) => pvc === undefined,
        );
        await patch(f.kc, 'ReplicationSource', NS.src, 'vanishing', { spec: { trigger: { manual: 'two' } } });
        const waiting = await waitForObject(
          'vanishing waits for its PVC',
          () => readCr(f.kc, row),
          (cr) => cr.status?.state === 'waitingForPvc',
        );
        expect(condition(waiting, 'Synchronizing')).toMatchObject({ reason: 'WaitingForPVC' });
        expect(condition(waiting, 'Synchronizing')?.message).toMatch(/PersistentVolumeClaim vanishing/);
        await createPvc(f.kc, NS.src, 'vanishing');
        const again = await synced(f.kc, row, 'two');
        expect(again.status?.latestMoverStatus?.result).toBe('Successful');
      },
    },
  },
  {
    // Last: it waits for the mover's own retry deadline (SCRIBE_RETRY_DEADLINE_SECONDS, 300 s).
    name: 'an address where nothing listens',
    ns: 'src',
    kind: 'ReplicationSource',
    cr: 'unreachable',
    spec: source({}, { address: '127.0.0.1', port: 1 }),
    expect: {
      condition: {
        field: 'spec.rsync.address',
        message: /nothing answers at 127\.0\.0\.1 port 1 \(spec\.rsync\.port\): .*Connection refused/,
      },
      retried: true,
      timeoutMs: 420_000,
    },
  },
];

// ---- the system ---------------------------------------------------------------------------------

const system = localSystemOfThisFile({}, { names: Object.values(NS) });
let s3: S3Server | undefined;
let fixtures: Fixtures;
/** What the API server answered to each row's create. */
const created = new Map<string, { object?: ScribeObject; error?: unknown }>();
/** Each row's `after` action, started in beforeAll. */
const afters = new Map<string, Promise<unknown>>();
/** Each namespace's healthy neighbour completing a sync after all bad CRs were created. */
const neighbours = new Map<Ns, Promise<unknown>>();

const rowKey = (row: Row) => `${row.ns}/${row.cr}`;

async function createSecret(kc: KubeConfig, ns: string, secret: SecretSpec) {
  await create(kc, 'Secret', ns, { apiVersion: 'v1', kind: 'Secret', metadata: { name: secret.name }, ...secret });
}

/** Writes `files` files of sample data into a PVC's directory, and one larger file. */
async function fill(kc: KubeConfig, ns: string, pvc: string, files: number) {
  const dir = await pvcDirectory(kc, ns, pvc);
  await mkdir(join(dir, 'sub'), { recursive: true });
  for (let i = 0; i < files; i++) await writeFile(join(dir, 'sub', `f${i}`), `${pvc} ${i}\n`.repeat(2000));
  await writeFile(join(dir, 'sub', 'big'), randomBytes(3 * 1024 * 1024));
}

/** A listening rsync destination in NS.dst; its key Secret is copied to NS.src. */
async function destination(kc: KubeConfig, name: string, rsync: object = {}) {
  await create(kc, 'ReplicationDestination', NS.dst, {
    apiVersion: API,
    kind: 'ReplicationDestination',
    metadata: { name },
    spec: { rsync: { copyMethod: 'Snapshot', capacity: '1Gi', accessModes: ['ReadWriteOnce'], ...rsync } },
  });
  const { address, keys } = await listeningAddress(kc, NS.dst, name, `address of ${name.slice(0, 40)}`);
  const secret = await copySecret(kc, keys, NS.dst, NS.src);
  return { address, keys, keyData: secret?.data ?? {} };
}

beforeAll(async () => {
  s3 = await startS3Server();
  const kc = system.runtime.kc;
  const objectStore = s3;
  const bucket = `bad-${randomBytes(3).toString('hex')}`;
  // MinIO may still answer "Server not initialized yet" (503) for a moment after it listens.
  await waitFor(
    'the bucket',
    () =>
      objectStore.createBucket(bucket).then(
        () => true,
        (error: Error) => {
          if (!/XMinioServerNotInitialized|503/.test(error.message)) throw error;
          return false;
        },
      ),
    { timeoutMs: 60_000, intervalMs: 500 },
  );
  await createPvc(kc, NS.src, 'data');
  await createPvc(kc, NS.src, 'vanishing');
  await createPvc(kc, NS.obj, 'data');
  // Of the class whose volumes hold no more than their capacity (tmpfs, so a write can fail with ENOSPC).
  await createPvc(kc, NS.dst, 'small-pvc', {
    storageClassName: SIZED_CLASS,
    resources: { requests: { storage: '1Mi' } },
  });
  await fill(kc, NS.src, 'data', 100);
  await fill(kc, NS.src, 'vanishing', 1500);
  await fill(kc, NS.obj, 'data', 20);

  const dests = await Promise.all([
    destination(kc, 'good'),
    destination(kc, 'srcpub'),
    destination(kc, 'vanishing'),
    destination(kc, 'small', { copyMethod: 'None', capacity: undefined, destinationPVC: 'small-pvc' }),
    destination(kc, LONG),
  ]);
  const dest = Object.fromEntries(['good', 'srcpub', 'vanishing', 'small', LONG].map((n, i) => [n, dests[i]]));
  fixtures = { kc, s3: objectStore, bucket, dest } as Fixtures;

  // The repository the wrong password is tried against exists, made with the right one.
  await promisify(execFile)('restic', ['init'], {
    env: { ...process.env, ...resticSecret(fixtures, 'existing') },
  });

  // The bad rows, in the table's order except that the slowest (the unreachable address) goes first.
  const order = [...ROWS.filter((r) => r.cr === 'unreachable'), ...ROWS.filter((r) => r.cr !== 'unreachable')];
  for (const row of order) {
    for (const secret of row.secrets?.(fixtures) ?? []) await createSecret(kc, NS[row.ns], secret);
    const body = { apiVersion: API, kind: row.kind, metadata: { name: row.cr }, spec: row.spec(fixtures) };
    const answer: { object?: ScribeObject; error?: unknown } = await create<ScribeObject>(
      kc,
      row.kind,
      NS[row.ns],
      body,
    ).then(
      (object) => ({ object }),
      (error: unknown) => ({ error }),
    );
    created.set(rowKey(row), answer);
    // Failures surface in the row's own test.
    if (row.after && answer.object)
      afters.set(
        rowKey(row),
        row.after(fixtures, row).then(
          () => undefined,
          (e: unknown) => e,
        ),
      );
  }

  // The healthy neighbours, after every bad CR.
  const after = Date.now();
  await create(kc, 'ReplicationSource', NS.src, {
    apiVersion: API,
    kind: 'ReplicationSource',
    metadata: { name: 'good' },
    spec: source()(fixtures),
  });
  await createSecret(kc, NS.obj, { name: 'restic-good', stringData: resticSecret(fixtures, 'good') });
  await create(kc, 'ReplicationSource', NS.obj, {
    apiVersion: API,
    kind: 'ReplicationSource',
    metadata: { name: 'good' },
    spec: resticSource('restic-good')(),
  });
  const quiet = (p: Promise<unknown>) => {
    p.catch(() => undefined); // awaited by every row; not an unhandled rejection meanwhile
    return p;
  };
  neighbours.set('src', quiet(synced(kc, { kind: 'ReplicationSource', ns: 'src', cr: 'good' }, 'go')));
  neighbours.set('obj', quiet(synced(kc, { kind: 'ReplicationSource', ns: 'obj', cr: 'good' }, 'go')));
  neighbours.set(
    'dst',
    quiet(
      waitForObject(
        'the healthy destination completes a sync',
        () => get<ReplicationDestination>(kc, 'ReplicationDestination', NS.dst, 'good'),
        (d) =>
          Boolean(d.status?.latestImage) && Date.parse(d.status?.lastSyncTime ?? '') >= Math.floor(after / 1000) * 1000,
        240_000,
      ),
    ),
  );
});

afterAll(async () => {
  await s3?.stop();
});

// ---- the checks ---------------------------------------------------------------------------------

interface EventItem {
  type: string;
  reason: string;
  note?: string;
  regarding?: { name?: string; kind?: string };
}

async function eventsFor(kc: KubeConfig, ns: string, kind: Kind, name: string): Promise<EventItem[]> {
  const events = await kubeRequest<{ items: EventItem[] }>(kc, {
    method: 'GET',
    path: collectionPath(RESOURCES.Event, ns),
  });
  return events.items.filter((e) => e.regarding?.kind === kind && e.regarding.name === name);
}

async function warningsFor(kc: KubeConfig, ns: string, kind: Kind, name: string): Promise<EventItem[]> {
  return (await eventsFor(kc, ns, kind, name)).filter((e) => e.type === 'Warning');
}

/**
 * Waits for Reconciled=False naming `field` with a message matching `message`, then for a
 * Warning Event about the CR saying the same.
 */
async function expectReported(
  kc: KubeConfig,
  target: { kind: Kind; ns: Ns; cr: string },
  field: string,
  message: RegExp,
  options: { retried?: boolean | undefined; timeoutMs?: number | undefined } = {},
) {
  const cr = await waitForObject(
    `${target.cr}: Reconciled=False naming ${field}`,
    () => readCr(kc, target),
    (o) => {
      const reconciled = condition(o, 'Reconciled');
      return reconciled?.status === 'False' && reconciled.message.includes(field) && message.test(reconciled.message);
    },
    options.timeoutMs ?? 240_000,
  );
  const reconciled = condition(cr, 'Reconciled');
  expect(reconciled?.reason).toBe('ReconcileError');
  if (options.retried) {
    // Not a loop: the next attempt waits (capped exponential backoff), and the condition says when.
    expect(reconciled?.message).toMatch(/; retry \d+ at \d{4}-\d\d-\d\dT[\d:.]+Z$/);
    expect(Date.parse(cr.status?.cycle?.retryAfter ?? '')).toBeGreaterThan(
      Date.parse(reconciled?.lastTransitionTime ?? ''),
    );
  }
  const warnings = await waitForObject(
    `${target.cr}: a Warning Event naming ${field}`,
    () => warningsFor(kc, NS[target.ns], target.kind, target.cr),
    (items) => items.some((e) => e.note?.includes(field) && message.test(e.note)),
    60_000,
  );
  expect(warnings.length).toBeGreaterThan(0);
  return cr;
}

async function checkRow(row: Row) {
  const f = fixtures;
  const ns = NS[row.ns];
  const answer = created.get(rowKey(row));
  expect(answer, 'the row was created in beforeAll').toBeDefined();
  const expectation = row.expect;

  if ('refusedByApiServer' in expectation) {
    expect(answer?.object, 'the API server accepted a CR the schema should refuse').toBeUndefined();
    expect(answer?.error).toBeInstanceOf(ApiError);
    expect((answer?.error as ApiError).status).toBe(422);
    expect((answer?.error as ApiError).message).toMatch(expectation.refusedByApiServer);
    expect(await readCr(f.kc, row)).toBeUndefined();
  } else {
    if (answer?.error) throw answer.error;
    const failure = await afters.get(rowKey(row));
    if (failure) throw failure;
    if ('condition' in expectation) {
      const { field, message } = expectation.condition;
      await expectReported(f.kc, row, field, message, expectation);
    } else {
      await expectation.check(f, row);
    }
  }

  // Nothing of the user's went away: the row's Secrets, its PVCs and the shared source volume.
  for (const secret of row.secrets?.(f) ?? [])
    expect(await get(f.kc, 'Secret', ns, secret.name), `Secret ${secret.name}`).toBeDefined();
  for (const pvc of [...(row.pvcs ?? []), ...(row.ns === 'dst' ? ['small-pvc'] : ['data'])])
    expect(await get(f.kc, 'PersistentVolumeClaim', ns, pvc), `PVC ${pvc}`).toBeDefined();
  // ... and the healthy neighbour in the same namespace synced after every bad CR existed.
  await neighbours.get(row.ns);
}

describe('bad input', () => {
  it('has a row for every item of the list, and at least 20', () => {
    expect(ROWS.length).toBeGreaterThanOrEqual(20);
    expect(new Set(ROWS.map(rowKey)).size).toBe(ROWS.length);
  });

  for (const row of ROWS) {
    const timeout = ('condition' in row.expect ? (row.expect.timeoutMs ?? 0) : 0) + 300_000;
    it(row.name, () => checkRow(row), Math.min(timeout, 480_000));
  }

  it('leaves every Secret and PVC of the user in place', async () => {
    const kc = fixtures.kc;
    for (const row of ROWS) {
      for (const secret of row.secrets?.(fixtures) ?? [])
        expect(await get(kc, 'Secret', NS[row.ns], secret.name), secret.name).toBeDefined();
    }
    for (const [ns, pvc] of [
      ['src', 'data'],
      ['src', 'vanishing'],
      ['obj', 'data'],
      ['dst', 'small-pvc'],
    ] as const) {
      expect(await get(kc, 'PersistentVolumeClaim', NS[ns], pvc), `${ns}/${pvc}`).toBeDefined();
    }
  });
});
