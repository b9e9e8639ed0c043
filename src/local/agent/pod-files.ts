/**
 * The files every container of a pod gets at /etc/hosts (the kubelet's managed hosts file),
 * /etc/hostname and /etc/resolv.conf (containerd's, from the pod sandbox), written once per pod.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerMount } from './runc.js';

/** The kubelet's managed /etc/hosts (kubelet_pods.go managedHostsFileContent). */
export function hostsFile(hostname: string, podIP: string): string {
  return [
    '# Kubernetes-managed hosts file.',
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'fe00::0\tip6-mcastprefix',
    'fe00::1\tip6-allnodes',
    'fe00::2\tip6-allrouters',
    `${podIP}\t${hostname}`,
    '',
  ].join('\n');
}

/** Writes the pod's three files into `podDir` and returns their mounts. */
export async function podFiles(podDir: string, hostname: string, podIP: string): Promise<ContainerMount[]> {
  // The pods use the node's network, so its resolver configuration is theirs too (as with
  // hostNetwork pods on a real node, which get the node's resolv.conf).
  const resolv = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  const files: Array<[string, string]> = [
    ['/etc/hosts', hostsFile(hostname, podIP)],
    ['/etc/hostname', `${hostname}\n`],
    ['/etc/resolv.conf', resolv],
  ];
  await mkdir(podDir, { recursive: true });
  const mounts: ContainerMount[] = [];
  for (const [target, content] of files) {
    const source = join(podDir, `etc-${target.slice('/etc/'.length)}`);
    await writeFile(source, content, { mode: 0o644 });
    mounts.push({ source, target, readOnly: false });
  }
  return mounts;
}
