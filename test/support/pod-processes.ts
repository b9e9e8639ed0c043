/**
 * The processes of a local-runtime pod, found on this machine: for fault tests that kill a mover
 * pod and must know its processes really ended (a deleted pod object proves nothing by itself).
 */
import { readdir, readFile, readlink } from 'node:fs/promises';

/**
 * The PID namespaces of a pod's containers on this machine: the local runtime's agent runs each
 * container as the child of a bwrap process whose arguments name the pod's directory (by uid).
 */
export async function sandboxNamespaces(uid: string): Promise<Set<string>> {
  const namespaces = new Set<string>();
  for (const pid of (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry))) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (!cmdline.startsWith('bwrap') && !cmdline.includes('/bwrap\0')) continue;
    if (!cmdline.includes(`/pods/${uid}/`)) continue;
    const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
    for (const child of children.split(' ').filter(Boolean)) {
      const namespace = await readlink(`/proc/${child}/ns/pid`).catch(() => undefined);
      if (namespace) namespaces.add(namespace);
    }
  }
  return namespaces;
}

/** How many processes on this machine live in one of `namespaces`. */
export async function processesIn(namespaces: Set<string>): Promise<number> {
  let count = 0;
  for (const pid of (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry))) {
    const namespace = await readlink(`/proc/${pid}/ns/pid`).catch(() => undefined);
    if (namespace && namespaces.has(namespace)) count++;
  }
  return count;
}
