/**
 * The metrics server's certificate: tls.crt and tls.key from a directory (cert-manager or a
 * Secret mounted there), or a self-signed pair made at start with the openssl CLI. The pair is
 * read from openssl's stdout, so nothing is written to a read-only root filesystem.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A PEM certificate (chain) and its private key. */
export interface ServingCert {
  cert: string;
  key: string;
}

/** The serving certificate: from `certDir` when given, else a new self-signed one. */
export async function servingCert(certDir?: string): Promise<ServingCert> {
  return certDir ? readCertDir(certDir) : selfSignedCert([hostname(), 'localhost'], ['127.0.0.1', '::1']);
}

/** Reads tls.crt and tls.key (the names of a kubernetes.io/tls Secret) from `dir`. */
export async function readCertDir(dir: string): Promise<ServingCert> {
  const [cert, key] = await Promise.all([
    readFile(join(dir, 'tls.crt'), 'utf8'),
    readFile(join(dir, 'tls.key'), 'utf8'),
  ]);
  return { cert, key };
}

/** A self-signed P-256 certificate for these DNS names and IPs, valid for ten years. */
export async function selfSignedCert(dnsNames: string[], ips: string[]): Promise<ServingCert> {
  const san = [...dnsNames.map((name) => `DNS:${name}`), ...ips.map((ip) => `IP:${ip}`)].join(',');
  const { stdout } = await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '3650',
    '-subj',
    '/CN=scribe-metrics',
    '-addext',
    `subjectAltName=${san}`,
    '-keyout',
    '-',
    '-out',
    '-',
  ]);
  const key = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----\n?/.exec(stdout)?.[0];
  const cert = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/.exec(stdout)?.[0];
  if (!key || !cert) throw new Error('openssl printed no certificate and key');
  return { cert, key };
}
