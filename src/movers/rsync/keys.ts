/**
 * SSH key pairs for the rsync mover and the two Secrets that carry them.
 *
 * Keys are ed25519: every OpenSSH since 6.5 (2014) accepts them, they are small enough to read in a
 * Secret, and generation is instant. A FIPS-restricted sshd that refuses ed25519 needs user-supplied
 * RSA or ECDSA keys; the validator below accepts any OpenSSH key type, so such Secrets still work.
 *
 * Generation uses node:crypto and writes the OpenSSH formats itself, so the operator image needs no
 * ssh-keygen; the tests check the result with the real ssh-keygen, ssh and sshd.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';

/** One SSH key pair in OpenSSH text formats: `privateKey` (PEM) and `publicKey` (one authorized_keys line). */
export interface SshKeyPair {
  privateKey: string;
  publicKey: string;
}

/** Which side of the replication a Secret is for. */
export type RsyncRole = 'source' | 'destination';

/** Keys each side's Secret must hold: its own pair and the peer's public key. */
export const REQUIRED_KEYS: Record<RsyncRole, readonly string[]> = {
  source: ['source', 'source.pub', 'destination.pub'],
  destination: ['destination', 'destination.pub', 'source.pub'],
};

const ED25519 = 'ssh-ed25519';

/** DER prefixes of an ed25519 SPKI public key and PKCS #8 private key (RFC 8410): the raw 32 bytes follow. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** The raw 32 bytes after an RFC 8410 DER prefix, checking the prefix. */
function rawKey(der: Buffer, prefix: Buffer, what: string): Buffer {
  if (der.length !== prefix.length + 32 || !der.subarray(0, prefix.length).equals(prefix))
    throw new Error(`node:crypto returned an ed25519 ${what} of an unexpected form`);
  return der.subarray(prefix.length);
}

/**
 * Generates an ed25519 key pair in OpenSSH formats; `comment` ends up in both halves. The job
 * encodes both keys itself (DER): exporting a KeyObject instead (`export({ format: 'jwk' })`)
 * deadlocked the operator in Node 20 when a garbage collection during the export ran the finished
 * generation job's destructor, which takes the same key's lock (seen in bench/controller.ts with
 * 1 MiB semi-spaces, which collect often).
 */
export function generateSshKeyPair(comment = ''): SshKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519', {
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'der' },
  });
  const pub = rawKey(publicKey, ED25519_SPKI_PREFIX, 'public key');
  const seed = rawKey(privateKey, ED25519_PKCS8_PREFIX, 'private key');
  return {
    privateKey: encodeOpenSshEd25519PrivateKey(seed, pub, comment),
    publicKey: encodeEd25519PublicKey(pub, comment),
  };
}

/** The `ssh-ed25519 AAAA… comment` line for a raw 32-byte ed25519 public key. */
export function encodeEd25519PublicKey(pub: Buffer, comment = ''): string {
  const blob = Buffer.concat([sshString(ED25519), sshString(pub)]);
  return `${ED25519} ${blob.toString('base64')}${comment === '' ? '' : ` ${comment}`}\n`;
}

/** An unencrypted `openssh-key-v1` private key (PROTOCOL.key in OpenSSH) for a raw ed25519 seed and public key. */
export function encodeOpenSshEd25519PrivateKey(
  seed: Buffer,
  pub: Buffer,
  comment = '',
  checkInt = randomBytes(4),
): string {
  const publicBlob = Buffer.concat([sshString(ED25519), sshString(pub)]);
  const secret = Buffer.concat([
    // The repeated check integer lets a reader detect a wrong passphrase; it is random by convention.
    checkInt,
    checkInt,
    sshString(ED25519),
    sshString(pub),
    sshString(Buffer.concat([seed, pub])),
    sshString(comment),
  ]);
  // Cipher "none" has a block size of 8; the padding bytes are 1, 2, 3, … as the format requires.
  const padLength = (8 - (secret.length % 8)) % 8;
  const padding = Buffer.from(Array.from({ length: padLength }, (_, i) => i + 1));
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0', 'latin1'),
    sshString('none'),
    sshString('none'),
    sshString(''),
    uint32(1),
    sshString(publicBlob),
    sshString(Buffer.concat([secret, padding])),
  ]);
  const lines = body.toString('base64').match(/.{1,70}/g) ?? [];
  return ['-----BEGIN OPENSSH PRIVATE KEY-----', ...lines, '-----END OPENSSH PRIVATE KEY-----', ''].join('\n');
}

/** Both key pairs of one replication, laid out as the two Secrets' contents (plain text, not base64). */
export function rsyncSecretContents(
  source: SshKeyPair,
  destination: SshKeyPair,
): Record<RsyncRole, Record<string, string>> {
  return {
    source: { source: source.privateKey, 'source.pub': source.publicKey, 'destination.pub': destination.publicKey },
    destination: {
      destination: destination.privateKey,
      'destination.pub': destination.publicKey,
      'source.pub': source.publicKey,
    },
  };
}

/** Generates fresh key pairs for a replication and returns the two Secrets' contents. */
export function generateRsyncSecretContents(): Record<RsyncRole, Record<string, string>> {
  return rsyncSecretContents(generateSshKeyPair('scribe-source'), generateSshKeyPair('scribe-destination'));
}

/** The part of a Kubernetes Secret the validator reads; `data` values are base64 as the API returns them. */
export interface SecretLike {
  metadata?: { name?: string };
  data?: Record<string, string>;
}

/**
 * Problems with a user-supplied key Secret for `role`, one clear message each (empty when usable):
 * a missing or empty key, a public key that is not one OpenSSH line, a private key that is not PEM.
 */
export function rsyncSecretProblems(secret: SecretLike, role: RsyncRole): string[] {
  const name = secret.metadata?.name ?? '(unnamed)';
  const problems: string[] = [];
  for (const key of REQUIRED_KEYS[role]) {
    const encoded = secret.data?.[key];
    if (encoded === undefined) {
      problems.push(`Secret "${name}" lacks key "${key}", which the rsync ${role} needs`);
      continue;
    }
    const text = Buffer.from(encoded, 'base64').toString('utf8').trim();
    if (text === '') problems.push(`Secret "${name}" has an empty key "${key}"`);
    else if (key.endsWith('.pub') && !isOpenSshPublicKey(text))
      problems.push(`Secret "${name}" key "${key}" is not an OpenSSH public key ("<type> <base64> [comment]")`);
    else if (!key.endsWith('.pub') && !isPemPrivateKey(text))
      problems.push(`Secret "${name}" key "${key}" is not a PEM private key (-----BEGIN … PRIVATE KEY-----)`);
  }
  return problems;
}

/** True for a single `<type> <base64> [comment]` line whose blob names the same type. */
export function isOpenSshPublicKey(text: string): boolean {
  const lines = text.trim().split('\n');
  if (lines.length !== 1) return false;
  const [type, blob] = (lines[0] ?? '').split(/\s+/);
  if (type === undefined || blob === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(blob)) return false;
  const raw = Buffer.from(blob, 'base64');
  if (raw.length < 4) return false;
  const length = raw.readUInt32BE(0);
  return raw.subarray(4, 4 + length).toString('latin1') === type;
}

function isPemPrivateKey(text: string): boolean {
  return /^-----BEGIN [A-Z ]*PRIVATE KEY-----\n[\s\S]+\n-----END [A-Z ]*PRIVATE KEY-----$/.test(text);
}

function sshString(value: string | Buffer): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([uint32(bytes.length), bytes]);
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
