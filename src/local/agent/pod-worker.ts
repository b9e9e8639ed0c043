/**
 * One pod's life on this node, as the kubelet lives it: resolve volumes and env (waiting with
 * CreateContainerConfigError while a Secret, ConfigMap or PVC is missing), run initContainers
 * in order, then all containers together, restart them per restartPolicy (Always, OnFailure,
 * Never) with a capped backoff, and report every step in the pod's status. Each container runs
 * from its image in the node's store (images.ts) under runc (runc.ts), with its securityContext
 * resolved as the kubelet and containerd resolve it (security.ts), its environment with the Service
 * variables (env.ts) and its probes run as the kubelet's prober runs them (probes.ts: readiness
 * is the container's and the pod's Ready, a liveness failure kills the run). Deletion
 * (deletionTimestamp) sends SIGTERM, SIGKILL after the grace period, writes the terminal
 * phase and then confirms the deletion with gracePeriodSeconds=0.
 */
import type { KubeConfig, V1Container, V1Pod, V1Service } from '@kubernetes/client-node';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deleteIfPresent } from '../../kube/objects.js';
import { isStatus, kubeRequest } from '../../kube/rest.js';
import { objectPath, RESOURCES } from '../../kube/resources.js';
import {
  ConfigError,
  ConfigSource,
  containerEnv,
  CreateContainerError,
  expandReferences,
  podHostname,
  serviceEnvironment,
  type PodFacts,
} from './env.js';
import {
  containerCommand,
  containerEnvironment,
  pullDecision,
  workingDir,
  type ImageStore,
  type StoredImage,
} from './images.js';
import { podFiles } from './pod-files.js';
import { ContainerProbes } from './probes.js';
import { errorMessage } from './reconciler.js';
import { startContainer, type ContainerMount, type ContainerProcess } from './runc.js';
import { resolveContainerSecurity, type ContainerSecurity } from './security.js';
import { prepareSubPath, unmountSubPaths } from './subpath.js';
import { prepareVolumes } from './volumes.js';

/** What a pod worker needs from the agent. */
export interface PodWorkerContext {
  kc: KubeConfig;
  nodeName: string;
  hostIP: string;
  /** The runc binary and its state root (one per node, see runc.ts). */
  runc: string;
  runcRoot: string;
  /** hostPath volumes and claims' PV paths must lie in these directories (host-paths.ts). */
  allowedHostPaths: readonly string[];
  /** The node's images (images.ts): a container runs only from an image found here. */
  images: ImageStore;
  /** Told of every container run and the root filesystem it ran on, for the node's run log. */
  recordRun: (run: ContainerRunRecord) => void;
  /**
   * The cluster's Services as the node's cache holds them, for the Service variables of a
   * container's environment; undefined until the cache has listed them once.
   */
  services?: () => V1Service[] | undefined;
  log: (line: string) => void;
}

/** One container run, as the node's run log keeps it (what the e2e suite checks at its end). */
export interface ContainerRunRecord {
  pod: string;
  container: string;
  image: string;
  digest: string;
  rootfs: string;
}

type ContainerState =
  | { waiting: { reason: string; message?: string } }
  | { running: { startedAt: string } }
  | {
      terminated: {
        exitCode: number;
        reason: string;
        startedAt: string;
        finishedAt: string;
        containerID?: string;
        message?: string;
      };
    };

interface ContainerRecord {
  spec: V1Container;
  init: boolean;
  state: ContainerState;
  lastState?: ContainerState;
  restartCount: number;
  started: boolean;
  /** The restart loop has ended: this container will not run again. */
  finished: boolean;
  lastExitCode?: number;
  containerID?: string;
  process?: ContainerProcess;
  /** Pulls that failed so far: the first shows ErrImagePull, later ones ImagePullBackOff. */
  failedPulls: number;
  /** The image it runs from, once found in the node's store. */
  image?: StoredImage;
  /** The readiness probe's verdict on the current run (true without a readiness probe). */
  ready: boolean;
  /** The startup probe has succeeded in the current run (true without a startup probe). */
  probeStarted: boolean;
}

/** Everything one container run needs, resolved before the pod's first container starts. */
interface PreparedContainer {
  image: StoredImage;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  security: ContainerSecurity;
  mounts: ContainerMount[];
}

type Prepared = Map<string, PreparedContainer>;

/** One container waits with its own reason (an image the node does not have). */
class ContainerWaiting extends Error {
  constructor(
    readonly container: string,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

type Phase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';

const RESTART_BACKOFF_MS = [1000, 2000, 4000, 8000, 16000, 30000];
const CONFIG_RETRY_MS = 2000;

const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

/** Runs one pod's containers and reports its status; see the module comment. */
export class PodWorker {
  /** Resolves when the worker has nothing more to do (terminal phase, deleted, or killed). */
  done: Promise<void> = Promise.resolve();
  private pod: V1Pod;
  private readonly records = new Map<string, ContainerRecord>();
  private stopping = false;
  private deleting = false;
  private killed = false;
  private finished = false;
  private confirming = false;
  private initFailed = false;
  private initialized = false;
  private readyToStart = false;
  private readonly startTime = now();
  private readonly conditionTimes = new Map<string, { status: string; time: string }>();
  private wake: () => void = () => {};
  private writeQueued = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly context: PodWorkerContext,
    pod: V1Pod,
    private readonly podIP: string,
    private readonly podDir: string,
  ) {
    this.pod = pod;
    const hasInit = (pod.spec?.initContainers?.length ?? 0) > 0;
    const previous = new Map(
      [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])].map((s) => [s.name, s]),
    );
    for (const spec of pod.spec?.initContainers ?? []) this.addRecord(spec, true, 'PodInitializing', previous);
    for (const spec of pod.spec?.containers ?? []) {
      this.addRecord(spec, false, hasInit ? 'PodInitializing' : 'ContainerCreating', previous);
    }
  }

  private addRecord(spec: V1Container, init: boolean, reason: string, previous: Map<string, { restartCount: number }>) {
    this.records.set(spec.name, {
      spec,
      init,
      state: { waiting: { reason } },
      // Restarts before an agent restart still count.
      restartCount: previous.get(spec.name)?.restartCount ?? 0,
      started: false,
      finished: false,
      failedPulls: 0,
      ready: false,
      probeStarted: false,
    });
  }

  /** Starts the pod's life in the background. */
  start(): void {
    this.done = this.run()
      .finally(() => this.unmountSubPaths())
      .catch((error: unknown) => this.context.log(`pod ${this.key}: ${errorMessage(error)}`));
  }

  /** The latest object from the API; a deletionTimestamp starts termination. */
  update(pod: V1Pod): void {
    this.pod = pod;
    if (pod.metadata?.deletionTimestamp && this.finished && !this.confirming) {
      // Deleted after it finished: nothing to stop, only the deletion to confirm.
      this.deleting = true;
      void this.confirmDeletion();
    } else if (pod.metadata?.deletionTimestamp && !this.deleting) {
      this.deleting = true;
      const grace = pod.metadata.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
      void this.stopContainers(grace * 1000);
    }
  }

  /** The pod is gone from the API: kill its processes at once and write nothing more. */
  async kill(): Promise<void> {
    this.killed = true;
    clearTimeout(this.retryTimer);
    await this.stopContainers(0);
    await this.done;
  }

  /** The log file of a container (the previous run's with `previous`), if it has run. */
  logFile(container: string, previous = false): string | undefined {
    const record = this.records.get(container);
    if (!record) return undefined;
    const run = previous ? record.restartCount - 1 : record.restartCount;
    if (run < 0 || (!previous && !record.started)) return undefined;
    return join(this.podDir, 'logs', container, `${run}.log`);
  }

  /** The log files of every run of a container so far, oldest first. */
  logFiles(container: string): string[] {
    const record = this.records.get(container);
    if (!record) return [];
    const runs = record.restartCount + (record.started ? 1 : 0);
    return Array.from({ length: runs }, (_, run) => join(this.podDir, 'logs', container, `${run}.log`));
  }

  private get key() {
    return `${this.pod.metadata?.namespace}/${this.pod.metadata?.name}`;
  }

  private async stopContainers(graceMs: number): Promise<void> {
    this.stopping = true;
    this.wake();
    await Promise.all(
      [...this.records.values()].map((record) =>
        graceMs > 0 ? record.process?.terminate(graceMs) : record.process?.kill(),
      ),
    );
  }

  /** Sleeps `ms`, waking early when the pod is being stopped. */
  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  private async run(): Promise<void> {
    await this.writeStatus();
    const prepared = await this.prepareUntilReady();
    if (prepared) {
      this.readyToStart = true;
      for (const record of this.records.values()) {
        if (!record.init) continue;
        const ok = await this.runWithRestarts(record, prepared);
        if (!ok) {
          this.initFailed = !this.stopping;
          break;
        }
      }
      if (!this.stopping && !this.initFailed) {
        this.initialized = true;
        for (const record of this.records.values()) {
          if (!record.init) record.state = { waiting: { reason: 'ContainerCreating' } };
        }
        await Promise.all(
          [...this.records.values()].filter((r) => !r.init).map((record) => this.runWithRestarts(record, prepared)),
        );
      }
    }
    if (this.killed) return;
    await this.writeStatus();
    this.finished = true;
    if (this.deleting) await this.confirmDeletion();
  }

  /** Resolves volumes and env, retrying while something is missing; undefined when stopped first. */
  private async prepareUntilReady(): Promise<Prepared | undefined> {
    while (!this.stopping) {
      try {
        return await this.prepare();
      } catch (error) {
        await this.unmountSubPaths();
        for (const record of this.records.values()) {
          if (error instanceof ContainerWaiting && error.container !== record.spec.name) continue;
          record.state = { waiting: { reason: waitingReason(error), message: errorMessage(error) } };
        }
        await this.writeStatus();
        await this.sleep(CONFIG_RETRY_MS);
      }
    }
    return undefined;
  }

  /** Unmounts the subPath bind mounts (subpath.ts) of volume-subpaths, as the pod's teardown does. */
  private async unmountSubPaths(): Promise<void> {
    await unmountSubPaths(join(this.podDir, 'volume-subpaths')).catch((error: unknown) =>
      this.context.log(`pod ${this.key}: unmounting subPaths: ${errorMessage(error)}`),
    );
  }

  private async prepare(): Promise<Prepared> {
    const namespace = this.pod.metadata?.namespace ?? 'default';
    const source = new ConfigSource(this.context.kc, namespace);
    const facts: PodFacts = { podIP: this.podIP, nodeName: this.context.nodeName, hostIP: this.context.hostIP };
    const volumes = await prepareVolumes({
      kc: this.context.kc,
      pod: this.pod,
      podDir: this.podDir,
      source,
      facts,
      allowedHostPaths: this.context.allowedHostPaths,
    });
    const files = await podFiles(this.podDir, podHostname(this.pod), this.podIP);
    const services = this.context.services ? this.context.services() : [];
    if (!services) throw new ConfigError('services have not yet been read at least once, cannot construct envvars');
    const serviceEnv = serviceEnvironment(services, namespace, this.pod.spec?.enableServiceLinks ?? true);
    const prepared: Prepared = new Map();
    for (const record of this.records.values()) {
      const image = this.imageOf(record);
      const kubeletEnv = await containerEnv(this.pod, record.spec, source, facts, serviceEnv);
      const mounts: ContainerMount[] = [];
      for (const [index, mount] of (record.spec.volumeMounts ?? []).entries()) {
        const volume = volumes.get(mount.name);
        if (!volume) throw new ConfigError(`container "${record.spec.name}": no volume named "${mount.name}"`);
        const subPath = mount.subPath || (mount.subPathExpr ? expandReferences(mount.subPathExpr, kubeletEnv) : '');
        let source = volume.path;
        if (subPath) {
          // A directory or a file of the volume, bind-mounted through its descriptor (subpath.ts).
          const target = join(this.podDir, 'volume-subpaths', mount.name, record.spec.name, String(index));
          const names = { mount: mount.name, container: record.spec.name };
          source = (await prepareSubPath(subPath, volume.path, names, target)).path;
        }
        mounts.push({ source, target: mount.mountPath, readOnly: Boolean(mount.readOnly) || volume.forceReadOnly });
      }
      // The pod's /etc/hosts, /etc/hostname and /etc/resolv.conf, unless a volume is mounted there.
      for (const file of files) if (!mounts.some((m) => m.target === file.target)) mounts.push(file);
      prepared.set(record.spec.name, {
        image,
        args: containerCommand(record.spec, image.config, kubeletEnv),
        env: containerEnvironment(image.config, kubeletEnv),
        cwd: workingDir(record.spec, image.config),
        security: resolveContainerSecurity({
          pod: this.pod,
          container: record.spec,
          imageUser: image.config.user,
          passwd: await readFile(join(image.rootfs, 'etc', 'passwd'), 'utf8').catch(() => undefined),
          group: await readFile(join(image.rootfs, 'etc', 'group'), 'utf8').catch(() => undefined),
        }),
        mounts,
      });
    }
    return prepared;
  }

  /** The container's image from the node's store, or the waiting state a kubelet shows instead. */
  private imageOf(record: ContainerRecord): StoredImage {
    const decision = pullDecision(record.spec, this.context.images.find(record.spec.image ?? ''), record.failedPulls);
    if ('image' in decision) {
      record.image = decision.image;
      return decision.image;
    }
    if (decision.waiting.reason === 'ErrImagePull' || decision.waiting.reason === 'ImagePullBackOff')
      record.failedPulls++;
    throw new ContainerWaiting(record.spec.name, decision.waiting.reason, decision.waiting.message);
  }

  /** Runs a container until its restart policy says stop; true when its last run succeeded. */
  private async runWithRestarts(record: ContainerRecord, prepared: Prepared): Promise<boolean> {
    const policy = this.pod.spec?.restartPolicy ?? 'Always';
    for (let attempt = 0; !this.stopping; attempt++) {
      if (attempt > 0) {
        record.lastState = record.state;
        record.restartCount++;
        record.state = { waiting: { reason: 'CrashLoopBackOff', message: 'back-off restarting failed container' } };
        await this.writeStatus();
        await this.sleep(RESTART_BACKOFF_MS[Math.min(attempt - 1, RESTART_BACKOFF_MS.length - 1)] ?? 30000);
        if (this.stopping) break;
      }
      const code = await this.runOnce(record, prepared);
      const again = record.init
        ? code !== 0 && policy !== 'Never'
        : policy === 'Always' || (policy === 'OnFailure' && code !== 0);
      if (!again) break;
    }
    record.finished = true;
    return record.lastExitCode === 0;
  }

  private async runOnce(record: ContainerRecord, prepared: Prepared): Promise<number> {
    const container = prepared.get(record.spec.name);
    if (!container) throw new Error(`container ${record.spec.name} was not prepared`);
    const logDir = join(this.podDir, 'logs', record.spec.name);
    await mkdir(logDir, { recursive: true });
    const startedAt = now();
    // The termination message file is a bind-mounted host file, read after the process exits.
    const terminationFile = join(logDir, `${record.restartCount}.termination`);
    await writeFile(terminationFile, '');
    // World-writable as the kubelet makes it (0666), so a non-root container can write its message.
    await chmod(terminationFile, 0o666);
    const terminationPath = record.spec.terminationMessagePath ?? '/dev/termination-log';
    // Unique on the machine: runc names the container's cgroups after it.
    const id = `${this.pod.metadata?.uid}-${record.spec.name}-${record.restartCount}`;
    const bundleDir = join(this.podDir, 'containers', `${record.spec.name}-${record.restartCount}`);
    const process = startContainer({
      runc: this.context.runc,
      stateRoot: this.context.runcRoot,
      id,
      bundleDir,
      rootfs: container.image.rootfs,
      args: container.args,
      env: container.env,
      cwd: container.cwd,
      hostname: podHostname(this.pod),
      security: container.security,
      mounts: [...container.mounts, { source: terminationFile, target: terminationPath, readOnly: false }],
      logFile: join(logDir, `${record.restartCount}.log`),
    });
    record.process = process;
    this.context.recordRun({
      pod: this.key,
      container: record.spec.name,
      image: record.spec.image ?? '',
      digest: container.image.digest,
      rootfs: container.image.rootfs,
    });
    record.containerID = `runc://${id}`;
    record.started = true;
    record.state = { running: { startedAt } };
    const probes = record.init ? undefined : this.startProbes(record, process);
    record.ready = probes?.initiallyReady ?? true;
    record.probeStarted = !record.spec.startupProbe;
    void this.writeStatus();
    const exitCode = await process.exited;
    probes?.stop();
    record.ready = false;
    const outcome = await process.outcome;
    record.process = undefined;
    record.lastExitCode = exitCode;
    // The container's own layer goes with the run (runc.ts has unmounted it by now).
    await rm(bundleDir, { recursive: true, force: true });
    const message =
      outcome.startError ??
      (await terminationMessage(
        terminationFile,
        join(logDir, `${record.restartCount}.log`),
        exitCode !== 0 && record.spec.terminationMessagePolicy === 'FallbackToLogsOnError',
      ));
    record.state = {
      terminated: {
        exitCode,
        // containerd's reason for a process that never started.
        reason: outcome.startError ? 'StartError' : exitCode === 0 ? 'Completed' : 'Error',
        startedAt,
        finishedAt: now(),
        containerID: record.containerID,
        ...(message ? { message } : {}),
      },
    };
    await this.writeStatus();
    return exitCode;
  }

  /** The probes of a main container's run; a liveness or startup failure kills the run. */
  private startProbes(record: ContainerRecord, process: ContainerProcess): ContainerProbes {
    return ContainerProbes.start(record.spec, this.podIP, {
      ready: (ready) => {
        record.ready = ready;
        void this.writeStatus();
      },
      started: () => {
        record.probeStarted = true;
        void this.writeStatus();
      },
      unhealthy: (kind, message) => {
        const probe = kind === 'liveness' ? record.spec.livenessProbe : record.spec.startupProbe;
        const grace = probe?.terminationGracePeriodSeconds ?? this.pod.spec?.terminationGracePeriodSeconds ?? 30;
        // The kubelet's words (kuberuntime_manager.go computePodActions).
        this.context.log(
          `pod ${this.key}: container ${record.spec.name} failed ${kind} probe, will be restarted (${message})`,
        );
        void process.terminate(grace * 1000);
      },
    });
  }

  private phase(): Phase {
    const records = [...this.records.values()];
    const main = records.filter((r) => !r.init);
    const allFinished = main.every((r) => r.finished);
    if (this.initFailed) return 'Failed';
    if (this.deleting && (this.stopping || allFinished) && this.writesAreFinal()) {
      return main.every((r) => r.finished && r.lastExitCode === 0) ? 'Succeeded' : 'Failed';
    }
    if (!this.initialized) return 'Pending';
    if (allFinished) return main.every((r) => r.lastExitCode === 0) ? 'Succeeded' : 'Failed';
    return 'Running';
  }

  /** During deletion, the terminal phase is written only once every process has exited. */
  private writesAreFinal(): boolean {
    return [...this.records.values()].every((r) => !r.process);
  }

  private condition(type: string, ok: boolean, reason?: string) {
    const status = ok ? 'True' : 'False';
    let entry = this.conditionTimes.get(type);
    if (!entry || entry.status !== status) {
      entry = { status, time: now() };
      this.conditionTimes.set(type, entry);
    }
    return { type, status, lastProbeTime: null, lastTransitionTime: entry.time, ...(ok || !reason ? {} : { reason }) };
  }

  private statusBody() {
    const phase = this.phase();
    const terminal = phase === 'Succeeded' || phase === 'Failed';
    const records = [...this.records.values()];
    const containersReady =
      !terminal && this.initialized && records.every((r) => r.init || ('running' in r.state && r.ready));
    const toStatus = (record: ContainerRecord) => ({
      name: record.spec.name,
      image: record.spec.image ?? '',
      imageID: record.image ? `${record.image.names[0] ?? record.spec.image}@${record.image.digest}` : '',
      ...(record.containerID ? { containerID: record.containerID } : {}),
      ready: record.init
        ? 'terminated' in record.state && record.lastExitCode === 0
        : 'running' in record.state && record.ready,
      started: 'running' in record.state && record.probeStarted,
      restartCount: record.restartCount,
      state: record.state,
      lastState: record.lastState ?? {},
    });
    const notReadyReason = terminal ? 'PodCompleted' : 'ContainersNotReady';
    return {
      phase,
      conditions: [
        this.condition('PodReadyToStartContainers', this.readyToStart && !terminal),
        this.condition('Initialized', this.initialized || (terminal && !this.initFailed), 'ContainersNotInitialized'),
        this.condition('ContainersReady', containersReady, notReadyReason),
        this.condition('Ready', containersReady, notReadyReason),
      ],
      hostIP: this.context.hostIP,
      hostIPs: [{ ip: this.context.hostIP }],
      podIP: this.podIP,
      podIPs: [{ ip: this.podIP }],
      startTime: this.startTime,
      initContainerStatuses: records.filter((r) => r.init).map(toStatus),
      containerStatuses: records.filter((r) => !r.init).map(toStatus),
    };
  }

  /** Writes the current status; writes are serialised and a queued one covers later changes. */
  private writeStatus(): Promise<void> {
    if (this.killed) return this.writing;
    if (!this.writeQueued) {
      this.writeQueued = true;
      this.writing = this.writing.then(async () => {
        this.writeQueued = false;
        if (this.killed) return;
        const { namespace, name } = this.pod.metadata ?? {};
        try {
          await kubeRequest(this.context.kc, {
            method: 'PATCH',
            path: objectPath(RESOURCES.Pod, namespace, name ?? '', 'status'),
            patchType: 'strategic',
            body: { status: this.statusBody() },
          });
        } catch (error) {
          if (isStatus(error, 404)) return;
          this.context.log(`pod ${this.key}: status update failed: ${errorMessage(error)}; retrying`);
          // A kubelet keeps reporting until the API server takes it: a lost update (the API
          // server restarting, say) would leave the pod unready for Services forever.
          this.retryTimer = setTimeout(() => void this.writeStatus(), STATUS_RETRY_MS);
          this.retryTimer.unref();
        }
      });
    }
    return this.writing;
  }

  /** As a kubelet does once the containers are gone: delete with grace 0 (uid-guarded). */
  private async confirmDeletion(): Promise<void> {
    if (this.confirming) return;
    this.confirming = true;
    await confirmPodDeletion(this.context.kc, this.pod).catch((error: unknown) =>
      this.context.log(`pod ${this.key}: confirming deletion failed: ${errorMessage(error)}`),
    );
  }
}

/** Deletes a pod with gracePeriodSeconds=0, only if it is still the same object (uid). */
export async function confirmPodDeletion(kc: KubeConfig, pod: V1Pod): Promise<void> {
  await deleteIfPresent(kc, 'Pod', pod.metadata?.namespace, pod.metadata?.name ?? '', {
    gracePeriodSeconds: 0,
    preconditions: { uid: pod.metadata?.uid },
  });
}

/** The waiting reason a kubelet shows for a container it could not create. */
function waitingReason(error: unknown): string {
  if (error instanceof ContainerWaiting) return error.reason;
  if (error instanceof ConfigError) return 'CreateContainerConfigError';
  if (error instanceof CreateContainerError) return 'CreateContainerError';
  return 'ContainerCreating';
}

/** Delay before a failed pod status write is tried again. */
const STATUS_RETRY_MS = 1000;

/** Kubelet's limits: a termination message of at most 4 KiB, a log fallback of 80 lines / 2 KiB. */
const MAX_MESSAGE_BYTES = 4096;
const FALLBACK_LINES = 80;
const FALLBACK_BYTES = 2048;

/** The container's termination message, as a kubelet reads it after the container exits. */
async function terminationMessage(file: string, logFile: string, fallbackToLogs: boolean): Promise<string> {
  const written = (await readFile(file, 'utf8').catch(() => '')).slice(0, MAX_MESSAGE_BYTES);
  if (written.trim() || !fallbackToLogs) return written;
  const log = await readFile(logFile, 'utf8').catch(() => '');
  return log.split('\n').slice(-FALLBACK_LINES).join('\n').slice(-FALLBACK_BYTES);
}
