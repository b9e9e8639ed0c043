/**
 * rclone argument lists (pure). `--links` stores symlinks as `.rclonelink` objects and restores
 * them; mtimes are kept by rclone's default modtime handling (S3 metadata); the root lost+found
 * and the metadata record are excluded both ways (excluded files are also never deleted).
 */
import { RECORD_NAME } from './record.js';

/** What the argument lists depend on. */
export interface RcloneArgsConfig {
  /** The copy of rclone.conf rclone reads (and may rewrite, so never the Secret mount). */
  configFile: string;
  /** `<rcloneConfigSection>:<rcloneDestPath>` */
  remote: string;
  dataDir: string;
  /** customCA's bundle, trusted besides the system's (--ca-cert). */
  caCert?: string | undefined;
}

/** The remote path `<section>:<destPath>`, checked. */
export function remotePath(section: string, destPath: string): string {
  if (!/^[\w.@+ -]+$/.test(section) || section.startsWith(' ') || section.endsWith(' '))
    throw new Error(`rcloneConfigSection "${section}" is not an rclone remote name`);
  const path = destPath.replace(/^\/+/, '');
  if (path === '' || path.split('/').includes('..'))
    throw new Error(`rcloneDestPath "${destPath}" must name a bucket or directory, without ".."`);
  return `${section}:${path}`;
}

function common(config: RcloneArgsConfig, verbose = true): string[] {
  // Verbose for the data (its statistics go into the summary); quiet for the record, whose
  // statistics would only hide them.
  return [
    '--config',
    config.configFile,
    '--links',
    ...(config.caCert !== undefined ? ['--ca-cert', config.caCert] : []),
    ...(verbose ? ['--verbose'] : []),
  ];
}

const FILTERS = ['--exclude', '/lost+found/**', '--exclude', `/${RECORD_NAME}`];

/**
 * Both: the first contact with the remote, before any data moves: a stat of the remote path
 * that gives up at the first error instead of retrying (rclone's S3 back end retries a refused
 * TLS handshake for minutes: --low-level-retries are the SDK's attempts, with back-off), so an
 * untrusted certificate is told in a second. Not verbose: its errors are NOTICE and ERROR lines.
 */
export function probeArgs(config: RcloneArgsConfig): string[] {
  return [
    'lsjson',
    '--stat',
    config.remote,
    '--retries',
    '1',
    '--low-level-retries',
    '1',
    '--contimeout',
    '10s',
    '--timeout',
    '30s',
    ...common(config, false),
  ];
}

/** Source: make the remote equal the volume. */
export function uploadArgs(config: RcloneArgsConfig): string[] {
  return ['sync', config.dataDir, config.remote, ...FILTERS, ...common(config)];
}

/** Source: upload the record after the data, so a record always describes data already there. */
export function uploadRecordArgs(config: RcloneArgsConfig, recordFile: string): string[] {
  return ['copyto', recordFile, `${config.remote}/${RECORD_NAME}`, ...common(config, false)];
}

/** Destination: fetch the record (first: a missing one means nothing was replicated yet). */
export function downloadRecordArgs(config: RcloneArgsConfig, recordFile: string): string[] {
  return ['copyto', `${config.remote}/${RECORD_NAME}`, recordFile, ...common(config, false)];
}

/** Destination: make the volume equal the remote (reads the remote only). */
export function downloadArgs(config: RcloneArgsConfig): string[] {
  return ['sync', config.remote, config.dataDir, ...FILTERS, ...common(config)];
}
