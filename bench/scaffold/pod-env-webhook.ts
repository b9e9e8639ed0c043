/**
 * A mutating admission webhook served by the benchmark itself, on loopback: it adds environment
 * variables to the containers of the pods it matches, as they are created. The cycle-tail
 * benchmark uses it to run the rsync source mover with another retry policy
 * (SCRIBE_RETRY_INITIAL_DELAY_SECONDS) without a field for it in the CRs and without other code:
 * the pods are what the operator and the Job controller made, plus those variables.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import { kubeRequest } from '../../src/kube/rest.js';
import { selfSignedCert } from '../../src/server/tls.js';

const CONFIGURATIONS = '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations';

/** What to add and to which pods. */
export interface PodEnvWebhookOptions {
  /** Name of the MutatingWebhookConfiguration (and, with a suffix, of its one webhook). */
  name: string;
  /** The namespace of the pods. */
  namespace: string;
  /** Labels the pods must carry. */
  matchLabels: Record<string, string>;
  /** Variables added to every container (after the ones the pod has: they win). */
  env: Record<string, string>;
}

/** A running webhook; stop() deletes its configuration and closes the server. */
export interface PodEnvWebhook {
  /** How many pods it changed so far. */
  mutated(): number;
  stop(): Promise<void>;
}

interface AdmissionReview {
  request?: { uid: string; object?: { spec?: { containers?: Array<{ env?: unknown[] }> } } };
}

/** The JSON patch that appends `env` to every container of the pod. */
export function envPatch(
  pod: { spec?: { containers?: Array<{ env?: unknown[] }> } },
  env: Record<string, string>,
): Array<{ op: 'add'; path: string; value: unknown }> {
  const variables = Object.entries(env).map(([name, value]) => ({ name, value }));
  return (pod.spec?.containers ?? []).flatMap((container, index): Array<{ op: 'add'; path: string; value: unknown }> =>
    container.env === undefined
      ? [{ op: 'add', path: `/spec/containers/${index}/env`, value: variables }]
      : variables.map((value) => ({ op: 'add' as const, path: `/spec/containers/${index}/env/-`, value })),
  );
}

/** Serves the webhook and registers it; failurePolicy Fail, so a pod it should change is never made without. */
export async function startPodEnvWebhook(kc: KubeConfig, options: PodEnvWebhookOptions): Promise<PodEnvWebhook> {
  // Self-signed for 127.0.0.1: the API server checks it against the caBundle, the certificate itself.
  const { key, cert } = await selfSignedCert([], ['127.0.0.1']);
  let count = 0;
  const server: Server = createServer({ key, cert }, (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const review = JSON.parse(body) as AdmissionReview;
      const uid = review.request?.uid ?? '';
      const patch = envPatch(review.request?.object ?? {}, options.env);
      if (patch.length > 0) count++;
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          response: {
            uid,
            allowed: true,
            ...(patch.length === 0
              ? {}
              : { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') }),
          },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await kubeRequest(kc, {
    method: 'POST',
    path: CONFIGURATIONS,
    body: {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: options.name },
      webhooks: [
        {
          name: `${options.name}.bench.scribe.backube`,
          clientConfig: { url: `https://127.0.0.1:${port}/mutate`, caBundle: Buffer.from(cert).toString('base64') },
          rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': options.namespace } },
          objectSelector: { matchLabels: options.matchLabels },
          sideEffects: 'None',
          admissionReviewVersions: ['v1'],
          failurePolicy: 'Fail',
          timeoutSeconds: 10,
        },
      ],
    },
  });
  return {
    mutated: () => count,
    async stop() {
      await kubeRequest(kc, { method: 'DELETE', path: `${CONFIGURATIONS}/${options.name}` }).catch(() => undefined);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
