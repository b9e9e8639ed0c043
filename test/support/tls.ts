/**
 * A private CA and a server certificate it signs for 127.0.0.1 and localhost (src/local/pki.ts):
 * for MinIO serving TLS in tests.
 */
import { createCertificateAuthority, issueCertificate } from '../../src/local/pki.js';

/** PEM texts of a CA and a server certificate it signed. */
export interface TestPki {
  ca: string;
  certificate: string;
  privateKey: string;
}

/** Makes a CA named `name` and a certificate for 127.0.0.1 signed by it. */
export function makeTestPki(name = 'Scribe test CA'): TestPki {
  const ca = createCertificateAuthority(name, 2);
  const server = issueCertificate(ca, {
    commonName: '127.0.0.1',
    ips: ['127.0.0.1'],
    dnsNames: ['localhost'],
    usages: ['server'],
    days: 2,
  });
  return { ca: ca.cert, certificate: server.cert, privateKey: server.key };
}
