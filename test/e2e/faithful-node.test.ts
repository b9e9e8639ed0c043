/**
 * The local node runs pods as a kubelet with containerd and runc would (issue 19): from their
 * image, with the securityContext's real user and group ids, capabilities, no_new_privs and a
 * read-only root, and with volumes set up as the kubelet sets them up. Every expected value below
 * is written down from the kubelet's and containerd's code (named beside it), not from the agent.
 */
import { describe, expect, inject, it } from 'vitest';
import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import { kubeRequest } from '../../src/kube/rest.js';
import { objectPath, RESOURCES } from '../../src/kube/resources.js';
import { create, e2eKubeConfig, e2eNamespace, get, waitForObject } from '../support/e2e.js';

type Pod = KubernetesObject & V1Pod;

/** What the probe container prints, one `key=value` per line. */
const PROBE = [
  'echo "uid=$(id -u)"',
  'echo "gid=$(id -g)"',
  'echo "groups=$(id -G)"',
  "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):' /proc/self/status | tr -d '\\t' | tr ':' '='",
  'echo "scratch=$(stat -c %a:%g /scratch)"',
  // /tmp of the image (1777): any user may write there unless the root file system is read-only.
  'if out=$(touch /tmp/probe 2>&1); then echo root=writable; else echo "root=$out"; fi',
  'echo "token=$(cut -c1-3 /var/run/secrets/kubernetes.io/serviceaccount/token)"',
  'echo "rsync=$(command -v rsync)"',
  // scripts/setup.sh installs Chromium on the host; the image has none: a container that saw the
  // host's /usr would find it.
  'if [ -e /usr/bin/chromium ]; then echo hostusr=visible; else echo hostusr=absent; fi',
  'if [ -e /scribe/dist/movers/rsync/source.mjs ]; then echo movers=image; else echo movers=missing; fi',
].join('; ');

function parse(log: string): Record<string, string> {
  return Object.fromEntries(
    log
      .split('\n')
      .map((line) => /^([A-Za-z]+)=(.*)$/.exec(line.trim()))
      .filter((m): m is RegExpExecArray => Boolean(m))
      .map((m) => [m[1] as string, m[2] as string]),
  );
}

async function runProbe(
  namespace: string,
  name: string,
  spec: Partial<V1Pod['spec']>,
): Promise<Record<string, string>> {
  const kc = e2eKubeConfig();
  await create(kc, 'Pod', namespace, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      restartPolicy: 'Never',
      containers: [
        {
          name: 'probe',
          image: inject('e2eMoverImage'),
          command: ['/bin/sh', '-c', PROBE],
          volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }],
        },
      ],
      volumes: [{ name: 'scratch', emptyDir: {} }],
      ...spec,
    },
  });
  const pod = await waitForObject(
    `pod ${name} to finish`,
    () => get<Pod>(kc, 'Pod', namespace, name),
    (p) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed',
  );
  expect(pod.status?.phase, JSON.stringify(pod.status?.containerStatuses)).toBe('Succeeded');
  const log = await kubeRequest<string>(kc, {
    method: 'GET',
    path: `${objectPath(RESOURCES.Pod, namespace, name)}/log`,
    text: true,
  });
  return parse(log);
}

// containerd's defaultUnixCaps (pkg/oci/spec.go): CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW
// SETGID SETUID SETFCAP SETPCAP NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE.
const CONTAINERD_DEFAULT_CAPS = '00000000a80425fb';
const NONE = '0000000000000000';

describe('the local node runs pods as a kubelet does (issue 19)', () => {
  it('applies runAsUser, runAsGroup, supplementalGroups, fsGroup, capabilities, no_new_privs and a read-only root', async () => {
    const ns = await e2eNamespace(e2eKubeConfig(), 'faithful');
    const seen = await runProbe(ns, 'restricted', {
      securityContext: { runAsUser: 1000, runAsGroup: 3000, supplementalGroups: [4000], fsGroup: 2000 },
      containers: [
        {
          name: 'probe',
          image: inject('e2eMoverImage'),
          command: ['/bin/sh', '-c', PROBE],
          volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }],
          securityContext: {
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
            capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] },
          },
        },
      ],
    });
    expect(seen.uid).toBe('1000');
    expect(seen.gid).toBe('3000');
    // kuberuntime/security_context.go determineEffectiveSecurityContext: supplementalGroups, then
    // fsGroup, beside the primary group.
    expect(seen.groups?.split(' ').sort()).toEqual(['2000', '3000', '4000']);
    // Bounding set: only NET_BIND_SERVICE (bit 10). A non-root process keeps no permitted or
    // effective capability across execve (containerd sets no ambient set).
    expect(seen.CapBnd).toBe('0000000000000400');
    expect([seen.CapEff, seen.CapPrm, seen.CapInh, seen.CapAmb]).toEqual([NONE, NONE, NONE, NONE]);
    // kuberuntime/security_context_others.go: allowPrivilegeEscalation false → NoNewPrivs.
    expect(seen.NoNewPrivs).toBe('1');
    // emptydir/empty_dir.go: 0777; volume_linux.go SetVolumeOwnership adds setgid and fsGroup.
    expect(seen.scratch).toBe('2777:2000');
    expect(seen.root).toMatch(/Read-only file system/);
    // The service-account token, projected by the kubelet (a JWT starts with its header).
    expect(seen.token).toBe('eyJ');
    // The container runs the image's own tools, not the host's.
    expect(seen.rsync).toBe('/usr/bin/rsync');
    expect(seen.hostusr).toBe('absent');
    expect(seen.movers).toBe('image');
  });

  it("runs the image's USER with containerd's default capabilities when the pod says nothing", async () => {
    const ns = await e2eNamespace(e2eKubeConfig(), 'faithful');
    const seen = await runProbe(ns, 'defaults', {});
    // The mover image's USER 65534:65534 (Containerfile).
    expect([seen.uid, seen.gid]).toEqual(['65534', '65534']);
    expect(seen.CapBnd).toBe(CONTAINERD_DEFAULT_CAPS);
    expect(seen.CapEff).toBe(NONE);
    expect(seen.NoNewPrivs).toBe('0');
    expect(seen.scratch).toBe('777:0');
    expect(seen.root).toBe('writable');
  });

  it('gives root the default capabilities, effective', async () => {
    const ns = await e2eNamespace(e2eKubeConfig(), 'faithful');
    const seen = await runProbe(ns, 'root', { securityContext: { runAsUser: 0 } });
    expect(seen.uid).toBe('0');
    expect(seen.CapEff).toBe(CONTAINERD_DEFAULT_CAPS);
    expect(seen.CapBnd).toBe(CONTAINERD_DEFAULT_CAPS);
  });

  it("refuses runAsNonRoot with user 0 with the kubelet's reason, and an image the node does not have", async () => {
    const kc = e2eKubeConfig();
    const ns = await e2eNamespace(kc, 'faithful');
    const pod = (name: string, container: Record<string, unknown>) =>
      create(kc, 'Pod', ns, {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name },
        spec: { restartPolicy: 'Never', containers: [{ name: 'c', command: ['/bin/true'], ...container }] },
      });
    await pod('nonroot', {
      image: inject('e2eMoverImage'),
      securityContext: { runAsNonRoot: true, runAsUser: 0 },
    });
    await pod('missing', { image: 'localhost/not-loaded:1', imagePullPolicy: 'Never' });
    const waiting = (name: string) =>
      waitForObject(
        `pod ${name} waiting with a reason`,
        () => get<Pod>(kc, 'Pod', ns, name),
        (p) => Boolean(p.status?.containerStatuses?.[0]?.state?.waiting?.message),
      ).then((p) => p.status?.containerStatuses?.[0]?.state?.waiting);
    // kuberuntime/security_context_others.go verifyRunAsNonRoot.
    expect(await waiting('nonroot')).toMatchObject({
      reason: 'CreateContainerConfigError',
      message: expect.stringContaining("container's runAsUser breaks non-root policy"),
    });
    // images/image_manager.go EnsureImageExists with PullNever.
    expect(await waiting('missing')).toEqual({
      reason: 'ErrImageNeverPull',
      message: 'Container image "localhost/not-loaded:1" is not present with pull policy of Never',
    });
  });

  it("starts the operator's image as user 65532 with a read-only root filesystem", async () => {
    const kc = e2eKubeConfig();
    const ns = await e2eNamespace(kc, 'faithful');
    await create(kc, 'Pod', ns, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'operator-help' },
      spec: {
        restartPolicy: 'Never',
        containers: [
          {
            name: 'operator',
            image: inject('e2eOperatorImage'),
            // The image's ENTRYPOINT with these arguments; its USER (65532) is not overridden.
            args: ['operator', '--help'],
            securityContext: { readOnlyRootFilesystem: true, runAsNonRoot: true, allowPrivilegeEscalation: false },
          },
        ],
      },
    });
    const pod = await waitForObject(
      'the operator pod to finish',
      () => get<Pod>(kc, 'Pod', ns, 'operator-help'),
      (p) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed',
    );
    expect(pod.status?.phase, JSON.stringify(pod.status?.containerStatuses)).toBe('Succeeded');
    const log = await kubeRequest<string>(kc, {
      method: 'GET',
      path: `${objectPath(RESOURCES.Pod, ns, 'operator-help')}/log`,
      text: true,
    });
    expect(log).toMatch(/operator/);
    expect(log).toMatch(/--metrics-bind-address|--kubeconfig/);
  });
});
