/**
 * `kubectl scribe dashboard`: the operator's /debug pages served on a loopback port with the
 * user's own kubeconfig credentials, as `kubectl proxy` serves the API. The pages are rendered
 * here, by the same code as the operator's (src/inspect/debug.ts), from the CRs read with the
 * user's credentials, so whatever kubectl may use (token, client certificate, exec plugin) works
 * and the API server's RBAC decides what is shown: a page is refused unless the user may `get`
 * the CR (a SelfSubjectAccessReview, as the operator asks a SubjectAccessReview). Proxying to the
 * operator instead could not carry the user: the API server's service proxy drops the caller's
 * Authorization header, and a client certificate cannot be forwarded.
 */
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ScribeCr } from '../../machines/api.js';
import { debugHandler, type GetCr, type ListCrs, type MayGet } from '../inspect/debug.js';
import { pluralOf, type ScribeKind } from '../inspect/kinds.js';
import { isStatus, kubeRequest } from '../kube/rest.js';
import { collectionPath, RESOURCES } from '../kube/resources.js';
import { readObject } from '../kube/objects.js';
import type { Cluster } from './kube.js';

/** A running dashboard. */
export interface Dashboard {
  /** The index page's URL. */
  url: string;
  close(): Promise<void>;
}

const KINDS: readonly ScribeKind[] = ['ReplicationSource', 'ReplicationDestination'];

/**
 * Both kinds everywhere the user may list them: all namespaces, else (refused, or `namespace`
 * given) the one namespace; a kind the cluster does not serve has none.
 */
function crLister(cluster: Cluster, namespace: string | undefined): ListCrs {
  const listKind = async (kind: ScribeKind, ns: string | undefined): Promise<ScribeCr[]> => {
    const answer = await kubeRequest<{ items?: ScribeCr[] }>(cluster.kc, {
      method: 'GET',
      path: collectionPath(RESOURCES[kind], ns),
    });
    // A list's items carry no kind; the pages need it.
    return (answer.items ?? []).map((item) => ({ ...item, kind }) as ScribeCr);
  };
  const listEither = async (kind: ScribeKind): Promise<ScribeCr[]> => {
    try {
      if (namespace !== undefined) return await listKind(kind, namespace);
      try {
        return await listKind(kind, undefined);
      } catch (error) {
        if (!isStatus(error, 403)) throw error;
        return await listKind(kind, cluster.namespace);
      }
    } catch (error) {
      if (isStatus(error, 404) || isStatus(error, 403)) return [];
      throw error;
    }
  };
  return async () => (await Promise.all(KINDS.map(listEither))).flat();
}

function crGetter(cluster: Cluster): GetCr {
  return (kind, namespace, name) => readObject<ScribeCr>(cluster.kc, kind, namespace, name);
}

/** Whether the user may `get` CRs of a kind in a namespace, as the API server answers. */
function accessReviewer(cluster: Cluster): MayGet {
  return async (kind, namespace) => {
    const review = await kubeRequest<{ status?: { allowed?: boolean } }>(cluster.kc, {
      method: 'POST',
      path: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        spec: { resourceAttributes: { group: 'scribe.backube', resource: pluralOf(kind), verb: 'get', namespace } },
      },
    });
    return review.status?.allowed === true;
  };
}

/**
 * Asks once per (kind, namespace) within one request: the index asks for every CR it lists.
 */
function perRequest(mayGet: MayGet): MayGet {
  const answers = new Map<string, Promise<boolean>>();
  return (kind, namespace) => {
    const key = `${kind}/${namespace}`;
    const known = answers.get(key) ?? mayGet(kind, namespace);
    answers.set(key, known);
    return known;
  };
}

/** Hosts a browser may name this server by; anything else is refused (DNS rebinding), as kubectl proxy does. */
function hostAllowed(host: string | undefined, port: number): boolean {
  return ['127.0.0.1', 'localhost', '[::1]'].some((name) => host === `${name}:${port}` || host === name);
}

/** Options of the dashboard. */
export interface DashboardOptions {
  /** Loopback port; 0 (default) lets the kernel choose one. */
  port?: number;
  /** List CRs in this namespace only (default: all the user may list). */
  namespace?: string | undefined;
  log?: (line: string) => void;
}

/** Serves the /debug pages on 127.0.0.1. */
export async function serveDashboard(cluster: Cluster, options: DashboardOptions = {}): Promise<Dashboard> {
  const handle = debugHandler(crLister(cluster, options.namespace), crGetter(cluster));
  const mayGet = accessReviewer(cluster);
  let port = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const send = (status: number, contentType: string, body: string) => {
      res.writeHead(status, {
        'content-type': contentType,
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        // The pages' one inline script and inline styles; nothing loaded from anywhere else.
        'content-security-policy':
          "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:",
      });
      res.end(body);
    };
    if (!hostAllowed(req.headers.host, port)) return send(403, 'text/plain; charset=utf-8', 'host not allowed\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain; charset=utf-8', 'GET only\n');
    const url = req.url ?? '/';
    if (url === '/' || url === '') {
      res.writeHead(302, { location: '/debug' });
      return res.end();
    }
    handle(url, perRequest(mayGet)).then(
      (answer) => send(answer.status, answer.contentType, answer.body),
      (error: unknown) => {
        options.log?.(`${url}: ${(error as Error).message}`);
        send(502, 'text/plain; charset=utf-8', `reading from the cluster failed: ${(error as Error).message}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/debug`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Opens a URL in the user's browser when there is one to open: xdg-open (Linux) or open
 * (macOS). Never fails: without a browser the printed URL is enough.
 */
export function openBrowser(url: string, log: (line: string) => void): void {
  const command = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? undefined : 'xdg-open';
  if (!command) return;
  try {
    const child = spawn(command, [url], { stdio: 'ignore', detached: true });
    child.on('error', () => log(`(no ${command} here: open the URL yourself)`));
    child.unref();
  } catch {
    log(`(could not run ${command}: open the URL yourself)`);
  }
}
