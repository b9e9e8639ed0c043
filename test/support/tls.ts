/**
 * A private CA and a server certificate it signs for 127.0.0.1 and localhost, made with the
 * openssl CLI in a temporary directory (removed before returning): for MinIO serving TLS in tests.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** PEM texts of a CA and a server certificate it signed. */
export interface TestPki {
  ca: string;
  certificate: string;
  privateKey: string;
}

/** Makes a CA named `name` and a certificate for 127.0.0.1 signed by it. */
export function makeTestPki(name = 'Scribe test CA'): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'scribe-pki-'));
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  try {
    return makeSigned(dir, name, openssl);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function makeSigned(dir: string, name: string, openssl: (...args: string[]) => Buffer): TestPki {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl('req', '-x509', ...ec, '-days', '2', '-subj', `/CN=${name}`, '-keyout', 'ca.key', '-out', 'ca.crt');
  openssl('req', ...ec, '-subj', '/CN=127.0.0.1', '-keyout', 'server.key', '-out', 'server.csr');
  writeFileSync(
    join(dir, 'ext.cnf'),
    'subjectAltName = IP:127.0.0.1, DNS:localhost\nextendedKeyUsage = serverAuth\nbasicConstraints = CA:FALSE\n',
  );
  openssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
    '-out',
    'server.crt',
  );
  const read = (file: string) => readFileSync(join(dir, file), 'utf8');
  return { ca: read('ca.crt'), certificate: read('server.crt'), privateKey: read('server.key') };
}
