/** The few Kubernetes calls the plugin makes, over the project's plain-JSON REST client. */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { loadKubeConfig } from '../kube/config.js';
import { createOrRead, deleteIfPresent, readObject } from '../kube/objects.js';
import { ApiError, isStatus, kubeRequest } from '../kube/rest.js';
import { collectionPath, objectPath, RESOURCES, type KindName } from '../kube/resources.js';
import { EXIT_TIMEOUT, PluginError } from './errors.js';

/** One cluster connection: a kubeconfig context and what it is called. */
export interface Cluster {
  kc: KubeConfig;
  context: string;
  clusterName: string;
  /** The context's namespace, else "default". */
  namespace: string;
}

/** Connects through a kubeconfig context (the current one when absent); checks it exists. */
export function connect(context?: string, clusterName?: string): Cluster {
  const home = process.env.HOME ?? homedir();
  if (!process.env.KUBECONFIG && !process.env.KUBERNETES_SERVICE_HOST && !existsSync(join(home, '.kube', 'config'))) {
    // client-node would fall back to http://localhost:8080 and fail later with a puzzling message.
    throw new PluginError('no kubeconfig found: set KUBECONFIG or create ~/.kube/config (as kubectl uses)');
  }
  let kc: KubeConfig;
  try {
    kc = loadKubeConfig({});
  } catch (error) {
    throw new PluginError(`cannot load a kubeconfig: ${(error as Error).message}`);
  }
  const name = context || kc.getCurrentContext();
  const ctx = kc.getContextObject(name);
  if (!ctx) {
    const known = kc.getContexts().map((c) => c.name);
    throw new PluginError(
      `kube context "${name}" not found in the kubeconfig (contexts: ${known.join(', ') || 'none'})`,
    );
  }
  kc.setCurrentContext(name);
  if (clusterName && ctx.cluster !== clusterName) {
    throw new PluginError(`kube context "${name}" points at cluster "${ctx.cluster}", not "${clusterName}"`);
  }
  return { kc, context: name, clusterName: ctx.cluster, namespace: ctx.namespace || 'default' };
}

/** A short description of where an object lives, for messages. */
export function where(cluster: Cluster, namespace: string, name: string): string {
  return `${namespace}/${name} (context ${cluster.context})`;
}

/** Turns API failures into one-line user messages. */
function explain(error: unknown, what: string): never {
  if (error instanceof ApiError) throw new PluginError(`${what}: ${error.message.replace(/^\w+ \S+: /, '')}`);
  throw new PluginError(`${what}: ${(error as Error).message}`);
}

/** Reads an object, or undefined when it does not exist. */
export async function read<T extends KubernetesObject>(
  c: Cluster,
  kind: KindName,
  namespace: string | undefined,
  name: string,
): Promise<T | undefined> {
  try {
    return await readObject<T>(c.kc, kind, namespace, name);
  } catch (error) {
    return explain(error, `reading ${kind} ${namespace}/${name}`);
  }
}

/** Lists objects of a kind in a namespace, or everywhere. */
export function list<T extends KubernetesObject>(c: Cluster, kind: KindName, namespace?: string): Promise<T[]> {
  return listObjects<T>(c, kind, namespace, false);
}

/** Like list, but a kind the cluster does not serve (its CRD is not installed) has no objects. */
export function listServed<T extends KubernetesObject>(c: Cluster, kind: KindName, namespace?: string): Promise<T[]> {
  return listObjects<T>(c, kind, namespace, true);
}

async function listObjects<T extends KubernetesObject>(
  c: Cluster,
  kind: KindName,
  namespace: string | undefined,
  unservedIsEmpty: boolean,
): Promise<T[]> {
  try {
    const answer = await kubeRequest<{ items?: T[] }>(c.kc, {
      method: 'GET',
      path: collectionPath(RESOURCES[kind], namespace),
    });
    return answer.items ?? [];
  } catch (error) {
    if (unservedIsEmpty && isStatus(error, 404)) return [];
    return explain(error, `listing ${kind}s`);
  }
}

/** Creates an object, or reads the one of its name that exists (`created` false). */
export async function createObject<T extends KubernetesObject>(
  c: Cluster,
  kind: KindName,
  namespace: string,
  body: T,
): Promise<{ object: T; created: boolean }> {
  try {
    return await createOrRead(c.kc, kind, namespace, body);
  } catch (error) {
    return explain(error, `creating ${kind} ${where(c, namespace, body.metadata?.name ?? '')}`);
  }
}

/** Merge-patches an object. */
export async function patchObject<T>(c: Cluster, kind: KindName, namespace: string, name: string, body: object) {
  try {
    return await kubeRequest<T>(c.kc, { method: 'PATCH', path: objectPath(RESOURCES[kind], namespace, name), body });
  } catch (error) {
    if (isStatus(error, 404)) throw new PluginError(`${kind} ${where(c, namespace, name)} does not exist`);
    return explain(error, `updating ${kind} ${where(c, namespace, name)}`);
  }
}

/** Deletes an object; false when it was already gone. */
export async function deleteObject(c: Cluster, kind: KindName, namespace: string, name: string): Promise<boolean> {
  try {
    return (await deleteIfPresent(c.kc, kind, namespace, name)) === 'deleted';
  } catch (error) {
    return explain(error, `deleting ${kind} ${where(c, namespace, name)}`);
  }
}

/** Polls `read` until `done` holds; throws a timeout PluginError naming `what`. */
export async function pollUntil<T>(
  what: string,
  readValue: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs: number,
  intervalMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await readValue();
    if (done(value)) return value;
    if (Date.now() >= deadline) {
      throw new PluginError(`timed out after ${Math.round(timeoutMs / 1000)}s waiting for ${what}`, EXIT_TIMEOUT);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Parses a timeout: "90s", "5m", "1h", "1m30s" or plain seconds. */
export function parseTimeout(text: string): number {
  if (/^[0-9]+$/.test(text)) return Number(text) * 1000;
  const match = /^(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?$/.exec(text);
  if (!match || text === '')
    throw new PluginError(`--timeout "${text}": use seconds or a duration such as 90s, 5m, 1h`);
  const [, h, m, s] = match;
  return ((Number(h ?? 0) * 60 + Number(m ?? 0)) * 60 + Number(s ?? 0)) * 1000;
}
