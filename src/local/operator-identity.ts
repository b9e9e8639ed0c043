/**
 * The operator of the local runtime running as the Helm chart's ServiceAccount, with the chart's
 * RBAC and nothing else: the chart's ServiceAccount and RBAC templates rendered with `helm
 * template` and applied (server-side), a token for the ServiceAccount from the TokenRequest API,
 * and a kubeconfig with that token for `scribe operator --kubeconfig`.
 *
 * A real token rather than impersonation (an admin kubeconfig with `as:`/Impersonate-User):
 * the operator then authenticates exactly as in a cluster, through the API server's
 * service-account authenticator (the ServiceAccount must exist; the user and its groups
 * system:serviceaccounts[:NS] are what the token says, not what a header claims), and the
 * operator process holds no credential that could do more than the chart allows, so a request
 * that forgot to impersonate cannot succeed with admin rights.
 */
import { writeFile } from 'node:fs/promises';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import { loadKubeConfig } from '../kube/config.js';
import { kubeRequest } from '../kube/rest.js';
import { objectPath, RESOURCES, type ResourceKind } from '../kube/resources.js';
import { CHART_DIR, helm } from './helm.js';
import { waitFor } from './processes.js';

/** Who the local runtime's operator runs as: the admin of the control plane, or the chart's ServiceAccount. */
export type OperatorIdentityKind = 'admin' | 'chart';

/** The chart's identity as installed for the local runtime's operator. */
export interface ChartIdentity {
  /** The release's namespace, where the ServiceAccount and the leader-election Role live. */
  namespace: string;
  release: string;
  serviceAccount: string;
  /** The ServiceAccount's user name: system:serviceaccount:NAMESPACE:NAME. */
  user: string;
  /** The one Lease the chart's Role lets the operator read and renew. */
  leaseName: string;
  /** A kubeconfig with the ServiceAccount's token (same server and CA as the admin's). */
  kubeconfigPath: string;
  kc: KubeConfig;
  /** The chart's objects that were applied (ServiceAccount, ClusterRoles, Role, bindings). */
  objects: KubernetesObject[];
}

/** Release name and namespace the chart is rendered with, as README's `helm install` names them. */
export const CHART_RELEASE = { name: 'scribe', namespace: 'scribe-system' } as const;

/** How long the operator's token is valid: longer than any test file's local system runs. */
export const OPERATOR_TOKEN_SECONDS = 4 * 3600;

/** The chart's templates that make the operator's identity. */
const IDENTITY_TEMPLATES = ['templates/serviceaccount.yaml', 'templates/rbac.yaml'];

const RBAC = 'rbac.authorization.k8s.io';
/** REST descriptors of the kinds the identity templates render. */
const SERVICE_ACCOUNT: ResourceKind = {
  group: '',
  version: 'v1',
  kind: 'ServiceAccount',
  plural: 'serviceaccounts',
  namespaced: true,
};
const IDENTITY_KINDS: Record<string, ResourceKind> = {
  ServiceAccount: SERVICE_ACCOUNT,
  ClusterRole: { group: RBAC, version: 'v1', kind: 'ClusterRole', plural: 'clusterroles', namespaced: false },
  ClusterRoleBinding: {
    group: RBAC,
    version: 'v1',
    kind: 'ClusterRoleBinding',
    plural: 'clusterrolebindings',
    namespaced: false,
  },
  Role: { group: RBAC, version: 'v1', kind: 'Role', plural: 'roles', namespaced: true },
  RoleBinding: { group: RBAC, version: 'v1', kind: 'RoleBinding', plural: 'rolebindings', namespaced: true },
};

/**
 * A kubeconfig (YAML) with one context that authenticates with a bearer token. Pure: the
 * server and CA are the admin kubeconfig's, `user` only names the entry.
 */
export function tokenKubeconfigYaml(options: { server: string; caData: string; token: string; user: string }): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: 'scribe-local', cluster: { server: options.server, 'certificate-authority-data': options.caData } },
    ],
    users: [{ name: options.user, user: { token: options.token } }],
    contexts: [{ name: 'scribe-local', context: { cluster: 'scribe-local', user: options.user } }],
    'current-context': 'scribe-local',
  });
}

/** The ServiceAccount's user name as the API server's authenticator reports it. */
export function serviceAccountUser(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

/** The chart's ServiceAccount and RBAC, rendered offline with `helm template`. */
export async function renderIdentityObjects(
  release: string = CHART_RELEASE.name,
  namespace: string = CHART_RELEASE.namespace,
): Promise<KubernetesObject[]> {
  const text = await helm([
    'template',
    release,
    CHART_DIR,
    '-n',
    namespace,
    ...IDENTITY_TEMPLATES.flatMap((template) => ['--show-only', template]),
  ]);
  return parseAllDocuments(text)
    .map((document) => document.toJS() as KubernetesObject | null)
    .filter((object): object is KubernetesObject => Boolean(object?.kind));
}

/** Applies one object server-side (idempotent: a second start of the runtime re-applies). */
async function applyObject(kc: KubeConfig, resource: ResourceKind, object: KubernetesObject): Promise<void> {
  await kubeRequest(kc, {
    method: 'PATCH',
    path: objectPath(resource, object.metadata?.namespace, object.metadata?.name ?? ''),
    query: { fieldManager: 'scribe-local-runtime', force: true },
    patchType: 'apply',
    body: JSON.stringify(object),
  });
}

/**
 * Installs the chart's identity with the admin's `kc` and writes `kubeconfigPath` for the
 * ServiceAccount; resolves once the API server authorizes the token as the chart's RBAC says.
 */
export async function installChartIdentity(
  kc: KubeConfig,
  kubeconfigPath: string,
  options: {
    release?: string;
    namespace?: string;
    log?: (line: string) => void;
    /** false: `helm install` made the objects already; only the token and kubeconfig are made. */
    apply?: boolean;
  } = {},
): Promise<ChartIdentity> {
  const release = options.release ?? CHART_RELEASE.name;
  const namespace = options.namespace ?? CHART_RELEASE.namespace;
  const objects = await renderIdentityObjects(release, namespace);
  if (options.apply ?? true) {
    options.log?.(`applying the chart's ServiceAccount and RBAC (release ${release} in ${namespace})`);
    await applyObject(kc, RESOURCES.Namespace, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: namespace },
    });
    for (const object of objects) {
      const resource = IDENTITY_KINDS[object.kind ?? ''];
      if (!resource) throw new Error(`the chart's identity templates rendered an unexpected ${object.kind}`);
      await applyObject(kc, resource, object);
    }
  }

  const account = objects.find((o) => o.kind === 'ServiceAccount')?.metadata?.name;
  if (!account) throw new Error(`the chart rendered no ServiceAccount (${IDENTITY_TEMPLATES.join(', ')})`);
  type Role = KubernetesObject & { rules?: Array<{ resources?: string[]; resourceNames?: string[] }> };
  const leaseName = (objects as Role[])
    .filter((o) => o.kind === 'Role')
    .flatMap((o) => o.rules ?? [])
    .find((rule) => rule.resources?.includes('leases') && rule.resourceNames?.length)?.resourceNames?.[0];
  if (!leaseName) throw new Error("the chart's Role names no Lease");

  const answer = await kubeRequest<{ status: { token: string } }>(kc, {
    method: 'POST',
    path: `${objectPath(SERVICE_ACCOUNT, namespace, account)}/token`,
    body: {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: OPERATOR_TOKEN_SECONDS },
    },
  });
  const cluster = kc.getCurrentCluster();
  if (!cluster?.caData) throw new Error('the admin kubeconfig has no certificate-authority-data');
  const user = serviceAccountUser(namespace, account);
  await writeFile(
    kubeconfigPath,
    tokenKubeconfigYaml({ server: cluster.server, caData: cluster.caData, token: answer.status.token, user }),
    { mode: 0o600 },
  );
  const operatorKc = loadKubeConfig({ kubeconfig: kubeconfigPath });

  // RBAC is enforced from the authorizer's caches: wait until they have the new bindings.
  await waitFor(
    `the API server authorizing ${user} as the chart's RBAC says`,
    async () => {
      const review = await kubeRequest<{ status?: { allowed?: boolean } }>(operatorKc, {
        method: 'POST',
        path: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: { resourceAttributes: { group: 'scribe.backube', resource: 'replicationsources', verb: 'watch' } },
        },
      });
      return review.status?.allowed === true;
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  return { namespace, release, serviceAccount: account, user, leaseName, kubeconfigPath, kc: operatorKc, objects };
}
