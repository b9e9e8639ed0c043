/** Who this process is in the Lease's holderIdentity. */
import { hostname } from 'node:os';

/**
 * The pod's name (POD_NAME from the downward API, else the hostname, which is the pod name in a
 * pod) and the process id, so two operators on one machine (tests, local runs) differ too.
 */
export function holderIdentity(env: NodeJS.ProcessEnv = process.env, pid = process.pid): string {
  return `${env.POD_NAME || hostname()}_${pid}`;
}
