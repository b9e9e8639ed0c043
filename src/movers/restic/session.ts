/**
 * What both restic entrypoints do around the steps: print prefixed lines, run restic with the
 * redactor and keep a transcript of everything printed for the summary, turn the backup's or
 * restore's status lines into `scribe progress:` lines, stop restic on SIGTERM, and end with a
 * summary block and a result line.
 */
import { randomInt } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { ConfigError } from '../runtime/env.js';
import { runTool, type ToolResult } from '../runtime/process.js';
import { MoverFailure as RunFailure, MoverSession } from '../runtime/session.js';
import type { ResticCommonConfig } from './config.js';
import { EXIT, explainFailure, type Failure } from './outcome.js';
import { UNTRUSTED_CERTIFICATE, untrustedCertificateMessage } from '../custom-ca.js';
import { RESTIC_SUMMARY } from './summary.js';
import { lastPrunedLine, parseLastPruned } from './prune.js';
import { ProgressMeter } from '../runtime/progress.js';
import { RESTIC_PROGRESS_FPS, resticTotals } from './status.js';
import { unlockArgs } from './args.js';
import { leavePidGap, PID_GAP } from './pid-gap.js';

/** S3's answer for a missing bucket, which restic retries for 15 minutes instead of failing. */
const MISSING_BUCKET = /The specified bucket does not exist|NoSuchBucket/;

/** A failure that ends the run with its restic exit code (outcome.ts). */
export class MoverFailure extends RunFailure {
  constructor(failure: Failure) {
    super(failure.message, failure.code);
  }
}

/** One run of a restic entrypoint (the runtime's session). */
export class ResticSession extends MoverSession {
  constructor(
    readonly role: 'backup' | 'restore',
    env: NodeJS.ProcessEnv,
  ) {
    // restic removes its own lock when interrupted; a killed one leaves a stale lock, removed when it is in the way.
    super({ prefix: `scribe restic ${role}`, env, summary: RESTIC_SUMMARY, stopSignal: 'SIGINT' });
  }

  /** The operator reads the prune time back from the termination message (status.restic.lastPruned). */
  protected override terminationPreamble(transcript: string): string | undefined {
    const pruned = parseLastPruned(transcript);
    return pruned ? lastPrunedLine(pruned) : undefined;
  }

  /**
   * Runs restic; a non-zero exit becomes a MoverFailure unless `allow` lists it. With `progress`
   * (the `backup` or `restore` whose `--json` output this is), restic prints its status every
   * 5 s; those lines feed a ProgressMeter, which writes `scribe progress:` lines instead (the
   * raw status objects are neither printed nor kept), and its summary sets the final figures.
   */
  async restic(
    config: ResticCommonConfig,
    step: string,
    args: string[],
    options: {
      cwd?: string;
      /** true: the whole call within SCRIBE_REPOSITORY_TIMEOUT_SECONDS; 'until-output': until its first stdout line. */
      deadline?: boolean | 'until-output';
      echoStdout?: boolean;
      allow?: number[];
      progress?: 'backup' | 'restore';
    } = {},
  ): Promise<ToolResult> {
    const command = options.progress;
    const meter =
      command === undefined ? undefined : new ProgressMeter((line) => process.stdout.write(`${line}\n`)).start();
    const result = await runTool(config.restic, args, {
      env: meter ? { ...this.env, RESTIC_PROGRESS_FPS } : this.env,
      redact: this.redact,
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      ...(options.deadline ? { timeoutMs: config.repositoryTimeoutMs } : {}),
      deadlineEndsAtOutput: options.deadline === 'until-output',
      failFast: new RegExp(`${MISSING_BUCKET.source}|${UNTRUSTED_CERTIFICATE.source}`),
      echoStdout: options.echoStdout ?? true,
      ...(meter && command
        ? {
            onStdoutLine: (line: string) => {
              const totals = resticTotals(line, command);
              if (totals) meter.set(totals.files, totals.bytes);
              if (totals?.kind === 'status') return false;
              meter.observeLine();
              return true;
            },
            onStderrLine: () => meter.observeLine(),
          }
        : {}),
    });
    meter?.stop();
    if (result.failedFast !== undefined && UNTRUSTED_CERTIFICATE.test(result.failedFast)) {
      this.record(result.stderr);
      throw new MoverFailure({
        code: EXIT.unreachable,
        message: untrustedCertificateMessage(`restic ${step}`, result.failedFast, config.caCert),
      });
    }
    if (result.failedFast !== undefined) {
      this.record(result.stderr);
      throw new MoverFailure({
        code: EXIT.noRepository,
        message: `restic ${step}: the bucket does not exist (S3 answered "${MISSING_BUCKET.exec(result.failedFast)?.[0]}"); it is not created automatically: create it, or check RESTIC_REPOSITORY`,
      });
    }
    // An allowed failure (the probe's "does not exist" before init) is expected, not news for the summary.
    if (result.status !== 0 && !result.timedOut && options.allow?.includes(result.status)) return result;
    if (options.echoStdout !== false) this.record(result.stdout);
    this.record(result.stderr);
    if (result.status !== 0 || result.timedOut)
      throw new MoverFailure(explainFailure(step, result.status, result.stderr, result.timedOut));
    return result;
  }

  /**
   * Runs a restic call that takes a lock; when restic says the repository is locked (11), removes
   * stale locks with `restic unlock` and runs it once more. A killed earlier attempt's lock is
   * stale (this host name, a PID not running), a live restic's is not, so the second try fails
   * with 11 only while another restic really works on the repository. Running unlock only when
   * needed, instead of before every step, saves a whole opening of the repository (~0.5 s of
   * scrypt key derivation) per cycle.
   */
  async resticClearingStaleLocks(
    config: ResticCommonConfig,
    step: string,
    args: string[],
    options: Parameters<ResticSession['restic']>[3] = {},
  ): Promise<ToolResult> {
    const first = await this.restic(config, step, args, { ...options, allow: [...(options.allow ?? []), EXIT.locked] });
    if (first.status !== EXIT.locked) return first;
    this.log(`${step}: the repository is locked; removing stale locks (restic unlock) and trying again`);
    // The unlock must not run under the PID of the killed restic whose lock it judges (pid-gap.ts).
    leavePidGap((message) => this.log(message), PID_GAP + randomInt(2 * PID_GAP));
    await this.restic(config, 'unlock', unlockArgs(config), { deadline: true });
    return this.restic(config, step, args, options);
  }

  /** Creates the cache directory restic needs (an emptyDir or PVC in the Pod, a temp dir in tests). */
  prepareCache(config: ResticCommonConfig): void {
    try {
      mkdirSync(config.cacheDir, { recursive: true });
    } catch (error) {
      throw new ConfigError(
        `cannot create the cache directory ${config.cacheDir} (SCRIBE_CACHE_DIR): ${(error as Error).message}`,
      );
    }
  }
}
