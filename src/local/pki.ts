/**
 * The local runtime's certificates: certificate authorities and the leaf certificates they sign
 * (servers with their addresses, clients with their user and groups), made with the openssl CLI
 * in a temporary directory that is removed before returning. Keys are ECDSA P-256, so making one
 * takes milliseconds and the calls can stay synchronous. The control plane (etcd, kube-apiserver,
 * controllers), the node agent's kubelet endpoint and the tests' TLS servers all use it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A certificate and its private key, PEM. */
export interface KeyPair {
  cert: string;
  key: string;
}

/** A certificate signing request and the private key it was made for, PEM. */
export interface CertificateRequest {
  csr: string;
  key: string;
}

/** The subject of a certificate: for a client of Kubernetes, CN is the user and O its groups. */
export interface Subject {
  commonName: string;
  organizations?: string[];
}

/** Where a server answers: the subjectAltNames clients check. */
export interface AltNames {
  ips?: string[];
  dnsNames?: string[];
}

/** A leaf certificate: who it names, where it serves and what it may be used for. */
export interface LeafOptions extends Subject, AltNames {
  /** serverAuth, clientAuth or both (etcd's members use theirs both ways). */
  usages: ('server' | 'client')[];
  days?: number;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** Runs `work` with an openssl runner in a fresh temporary directory, removed afterwards. */
function inTempDir<T>(work: (openssl: (...args: string[]) => void, dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'scribe-pki-'));
  try {
    return work((...args) => {
      execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    }, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The -subj argument for `subject`: /O=.../CN=... (names must not contain a slash). */
function subjectArg({ commonName, organizations = [] }: Subject): string {
  for (const name of [commonName, ...organizations]) {
    if (name.includes('/')) throw new Error(`certificate subject ${JSON.stringify(name)}: no "/" allowed`);
  }
  return [...organizations.map((o) => `/O=${o}`), `/CN=${commonName}`].join('');
}

/** The subjectAltName value for `names`, or undefined when there is none. */
function altNamesValue({ ips = [], dnsNames = [] }: AltNames): string | undefined {
  const names = [...ips.map((ip) => `IP:${ip}`), ...dnsNames.map((dns) => `DNS:${dns}`)];
  return names.length ? names.join(',') : undefined;
}

/** A self-signed certificate authority named `commonName`. */
export function createCertificateAuthority(commonName: string, days = 3650): KeyPair {
  return inTempDir((openssl, dir) => {
    writeFileSync(
      join(dir, 'ca.cnf'),
      [
        '[req]',
        'distinguished_name = dn',
        '[dn]',
        '[ca]',
        'basicConstraints = critical,CA:TRUE',
        'keyUsage = critical,keyCertSign,cRLSign,digitalSignature',
        'subjectKeyIdentifier = hash',
        '',
      ].join('\n'),
    );
    openssl(
      'req',
      '-x509',
      ...EC_KEY,
      '-config',
      'ca.cnf',
      '-extensions',
      'ca',
      '-subj',
      subjectArg({ commonName }),
      '-days',
      String(days),
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
    );
    return { cert: readFileSync(join(dir, 'ca.crt'), 'utf8'), key: readFileSync(join(dir, 'ca.key'), 'utf8') };
  });
}

/** A certificate for `options` signed by `ca`, with a key of its own. */
export function issueCertificate(ca: KeyPair, options: LeafOptions): KeyPair {
  if (options.usages.length === 0) throw new Error(`certificate ${options.commonName}: no usage given`);
  const altNames = altNamesValue(options);
  if (options.usages.includes('server') && !altNames) {
    throw new Error(`server certificate ${options.commonName}: no IP or DNS name to serve`);
  }
  return inTempDir((openssl, dir) => {
    writeFileSync(join(dir, 'ca.crt'), ca.cert);
    writeFileSync(join(dir, 'ca.key'), ca.key, { mode: 0o600 });
    const usage = { server: 'serverAuth', client: 'clientAuth' } as const;
    writeFileSync(
      join(dir, 'leaf.cnf'),
      [
        'basicConstraints = critical,CA:FALSE',
        'keyUsage = critical,digitalSignature,keyEncipherment',
        `extendedKeyUsage = ${options.usages.map((u) => usage[u]).join(',')}`,
        'authorityKeyIdentifier = keyid',
        ...(altNames ? [`subjectAltName = ${altNames}`] : []),
        '',
      ].join('\n'),
    );
    openssl('req', '-new', ...EC_KEY, '-subj', subjectArg(options), '-keyout', 'leaf.key', '-out', 'leaf.csr');
    openssl(
      'x509',
      '-req',
      '-in',
      'leaf.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial', // a random serial (OpenSSL 3), so reissued certificates never share one
      '-days',
      String(options.days ?? 365),
      '-extfile',
      'leaf.cnf',
      '-out',
      'leaf.crt',
    );
    return { cert: readFileSync(join(dir, 'leaf.crt'), 'utf8'), key: readFileSync(join(dir, 'leaf.key'), 'utf8') };
  });
}

/** A new key and a signing request for it (the node agent's, for the cluster's signer). */
export function createCertificateRequest(subject: Subject & AltNames): CertificateRequest {
  const altNames = altNamesValue(subject);
  return inTempDir((openssl, dir) => {
    openssl(
      'req',
      '-new',
      ...EC_KEY,
      '-subj',
      subjectArg(subject),
      ...(altNames ? ['-addext', `subjectAltName=${altNames}`] : []),
      '-keyout',
      'request.key',
      '-out',
      'request.csr',
    );
    return {
      csr: readFileSync(join(dir, 'request.csr'), 'utf8'),
      key: readFileSync(join(dir, 'request.key'), 'utf8'),
    };
  });
}

/** Paths of a key pair written to disk. */
export interface KeyPairFiles {
  certFile: string;
  keyFile: string;
}

/** Writes `pair` as `<dir>/<name>.crt` and `<dir>/<name>.key` (the key readable by its owner only). */
export function writeKeyPair(dir: string, name: string, pair: KeyPair): KeyPairFiles {
  const files = { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
  writeFileSync(files.certFile, pair.cert);
  writeFileSync(files.keyFile, pair.key, { mode: 0o600 });
  return files;
}

/** Reads `<dir>/<name>.crt` and `.key`, or undefined when either is missing. */
export function readKeyPair(dir: string, name: string): KeyPair | undefined {
  try {
    return {
      cert: readFileSync(join(dir, `${name}.crt`), 'utf8'),
      key: readFileSync(join(dir, `${name}.key`), 'utf8'),
    };
  } catch {
    return undefined;
  }
}
