/**
 * The processes of a local-runtime pod, found on this machine: for fault tests that kill a mover
 * pod and must know its processes really ended (a deleted pod object proves nothing by itself).
 */
import { readdir, readFile, readlink } from 'node:fs/promises';

/**
 * The PID namespaces of a pod's containers on this machine: the local runtime's agent runs each
 * container under a `runc run` whose container id starts with the pod's uid (runc.ts), and the
 * container's first process is that runc's child.
 */
export async function sandboxNamespaces(uid: string): Promise<Set<string>> {
  const namespaces = new Set<string>();
  for (const pid of (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry))) {
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (!argv[0]?.endsWith('runc') || !argv.includes('run')) continue;
    if (!argv.some((arg) => arg.startsWith(`${uid}-`))) continue;
    // runc is a Go program: any of its threads may have forked the container's process.
    const tasks = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
    const children = await Promise.all(
      tasks.map((task) => readFile(`/proc/${pid}/task/${task}/children`, 'utf8').catch(() => '')),
    );
    for (const child of children.join(' ').split(' ').filter(Boolean)) {
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
