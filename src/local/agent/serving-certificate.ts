/**
 * The node's TLS identity on its kubelet endpoint, obtained from the cluster as a kubelet with
 * `serverTLSBootstrap: true` obtains it (pkg/kubelet/certificate/kubelet.go): a
 * CertificateSigningRequest for the `kubernetes.io/kubelet-serving` signer, with the subject
 * `system:node:<name>` in `system:nodes` and the node's addresses. The controller-manager signs it
 * with the cluster CA, which the API server checks the endpoint against
 * (--kubelet-certificate-authority). In a cluster an administrator or an approver approves such
 * requests; the local node agent runs with the admin's kubeconfig and approves its own.
 *
 * Callers of the endpoint are verified against the cluster's client CA, which the API server
 * publishes in kube-system/extension-apiserver-authentication (`client-ca-file`), where
 * aggregated API servers and the controllers read it too.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { hostname } from 'node:os';
import { kubeRequest } from '../../kube/rest.js';
import { objectPath, RESOURCES } from '../../kube/resources.js';
import { createCertificateRequest, type KeyPair } from '../pki.js';
import { waitFor } from '../processes.js';

const CSR_PATH = '/apis/certificates.k8s.io/v1/certificatesigningrequests';
const SIGNER = 'kubernetes.io/kubelet-serving';

interface CertificateSigningRequest {
  metadata: { name: string };
  status?: {
    certificate?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

/** Options of requestServingCertificate. */
export interface ServingCertificateOptions {
  kc: KubeConfig;
  nodeName: string;
  /** The node's addresses (its InternalIP). */
  ips: string[];
  log?: (line: string) => void;
  /** How long the signer may take (default 60 s). */
  timeoutMs?: number;
}

/** A serving certificate for the node's kubelet endpoint, signed by the cluster's signer. */
export async function requestServingCertificate(options: ServingCertificateOptions): Promise<KeyPair> {
  const { kc, nodeName } = options;
  const request = createCertificateRequest({
    commonName: `system:node:${nodeName}`,
    organizations: ['system:nodes'],
    ips: options.ips,
    dnsNames: [...new Set([nodeName, hostname()])],
  });
  const created = await kubeRequest<CertificateSigningRequest>(kc, {
    method: 'POST',
    path: CSR_PATH,
    body: {
      apiVersion: 'certificates.k8s.io/v1',
      kind: 'CertificateSigningRequest',
      metadata: { generateName: `${nodeName}-serving-` },
      spec: {
        request: Buffer.from(request.csr).toString('base64'),
        signerName: SIGNER,
        // ECDSA keys: no key encipherment (the signer accepts exactly these for them).
        usages: ['digital signature', 'server auth'],
      },
    },
  });
  const path = `${CSR_PATH}/${created.metadata.name}`;
  try {
    await kubeRequest(kc, {
      method: 'PUT',
      path: `${path}/approval`,
      body: {
        ...created,
        status: {
          conditions: [
            {
              type: 'Approved',
              status: 'True',
              reason: 'LocalNodeAgent',
              message: 'the local node agent approves its own kubelet serving certificate',
            },
          ],
        },
      },
    });
    let certificate: string | undefined;
    await waitFor(
      `the signer to issue ${created.metadata.name} (is kube-controller-manager running with --cluster-signing-*?)`,
      async () => {
        const csr = await kubeRequest<CertificateSigningRequest>(kc, { method: 'GET', path });
        const refused = csr.status?.conditions?.find((c) => c.type === 'Failed' || c.type === 'Denied');
        if (refused) throw new Error(`${created.metadata.name} ${refused.type}: ${refused.message ?? refused.reason}`);
        certificate = csr.status?.certificate;
        return Boolean(certificate);
      },
      { timeoutMs: options.timeoutMs ?? 60_000, intervalMs: 200 },
    );
    options.log?.(`kubelet serving certificate issued (${created.metadata.name})`);
    return { cert: Buffer.from(certificate ?? '', 'base64').toString('utf8'), key: request.key };
  } finally {
    // The certificate is in hand (or never will be): the request has done its work.
    await kubeRequest(kc, { method: 'DELETE', path }).catch(() => undefined);
  }
}

/** The CA whose client certificates the API server accepts, as it publishes it. */
export async function clusterClientCa(kc: KubeConfig, timeoutMs = 60_000): Promise<string> {
  let ca: string | undefined;
  await waitFor(
    'the client CA in kube-system/extension-apiserver-authentication',
    async () => {
      const configMap = await kubeRequest<{ data?: Record<string, string> }>(kc, {
        method: 'GET',
        path: objectPath(RESOURCES.ConfigMap, 'kube-system', 'extension-apiserver-authentication'),
      });
      ca = configMap.data?.['client-ca-file'];
      return Boolean(ca);
    },
    { timeoutMs, intervalMs: 250 },
  );
  return ca ?? '';
}
