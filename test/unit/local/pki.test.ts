import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { createCertificateAuthority, createCertificateRequest, issueCertificate } from '../../../src/local/pki.js';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

describe('local PKI', () => {
  const ca = createCertificateAuthority('unit test CA');
  const caCert = new X509Certificate(ca.cert);

  it('makes a self-signed CA', () => {
    expect(caCert.ca).toBe(true);
    expect(caCert.subject).toBe('CN=unit test CA');
    expect(caCert.verify(caCert.publicKey)).toBe(true);
  });

  it('issues a server certificate for its addresses, signed by the CA, with its own key', () => {
    const pair = issueCertificate(ca, {
      commonName: 'etcd',
      ips: ['127.0.0.1'],
      dnsNames: ['localhost'],
      usages: ['server', 'client'],
    });
    const cert = new X509Certificate(pair.cert);
    expect(cert.ca).toBe(false);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkHost('example.com')).toBeUndefined();
    expect(cert.keyUsage).toEqual([SERVER_AUTH, CLIENT_AUTH]);
    expect(cert.checkPrivateKey(createPrivateKey(pair.key))).toBe(true);
  });

  it('issues a client certificate naming a Kubernetes user and groups, for client auth only', () => {
    const cert = new X509Certificate(
      issueCertificate(ca, { commonName: 'system:kube-scheduler', organizations: ['a', 'b'], usages: ['client'] }).cert,
    );
    expect(cert.subject.split('\n')).toEqual(['O=a', 'O=b', 'CN=system:kube-scheduler']);
    expect(cert.keyUsage).toEqual([CLIENT_AUTH]);
    expect(cert.subjectAltName).toBeUndefined();
  });

  it('a certificate of another CA does not verify against this one', () => {
    const other = createCertificateAuthority('another CA');
    const cert = new X509Certificate(issueCertificate(other, { commonName: 'x', usages: ['client'] }).cert);
    expect(cert.verify(caCert.publicKey)).toBe(false);
  });

  it('refuses a server certificate without an address, and a subject with a slash', () => {
    expect(() => issueCertificate(ca, { commonName: 'nowhere', usages: ['server'] })).toThrow(/no IP or DNS name/);
    expect(() => issueCertificate(ca, { commonName: 'a/b', usages: ['client'] })).toThrow(/no "\/" allowed/);
    expect(() => issueCertificate(ca, { commonName: 'x', usages: [] })).toThrow(/no usage/);
  });

  it('makes a signing request carrying the subject and addresses', () => {
    const request = createCertificateRequest({
      commonName: 'system:node:n1',
      organizations: ['system:nodes'],
      ips: ['127.0.0.1'],
    });
    const text = execFileSync('openssl', ['req', '-noout', '-text', '-verify'], { input: request.csr, stdio: 'pipe' });
    expect(text.toString()).toMatch(/Subject: O = system:nodes, CN = system:node:n1/);
    expect(text.toString()).toMatch(/IP Address:127\.0\.0\.1/);
    expect(createPrivateKey(request.key).asymmetricKeyType).toBe('ec');
  });
});
