/**
 * What both rclone entrypoints do around their steps: a private run directory with a copy of
 * rclone.conf (the Secret mount is read-only and rclone may rewrite its config), redacted
 * output with a transcript for the summary, `scribe progress:` lines while the data moves
 * (from rclone's per-file log lines, progress.ts), rclone stopped on SIGTERM, a result line.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../runtime/env.js';
import { runTool, type ToolResult } from '../runtime/process.js';
import { lastErrorLine } from '../runtime/summary.js';
import { configSecrets, makeRedactor, secretValues } from '../runtime/redact.js';
import { MoverFailure, MoverSession } from '../runtime/session.js';
import { UNTRUSTED_CERTIFICATE, untrustedCertificateMessage } from '../custom-ca.js';
import { probeArgs, type RcloneArgsConfig } from './args.js';
import type { RcloneConfig } from './config.js';
import { RCLONE_SUMMARY } from './summary.js';
import { ProgressMeter } from '../runtime/progress.js';
import { copiedFile, volumeFileSize } from './progress.js';

/** A failure that ends the run with exit code 1 and `message`. */
export class RcloneFailure extends MoverFailure {}

/** One run of an rclone entrypoint (the runtime's session, with a private run directory). */
export class RcloneSession extends MoverSession {
  private runDir: string | undefined;

  constructor(
    readonly role: 'source' | 'destination',
    env: NodeJS.ProcessEnv,
  ) {
    super({ prefix: `scribe rclone ${role}`, env, summary: RCLONE_SUMMARY, stopSignal: 'SIGTERM' });
  }

  /** Creates the private run directory and the config copy; returns rclone's argument settings. */
  prepare(config: RcloneConfig): RcloneArgsConfig & { runDir: string } {
    this.redact = makeRedactor([...secretValues(this.env), ...configSecrets(config.configText)]);
    let runDir: string;
    try {
      runDir = mkdtempSync(join(config.runDir, `scribe-rclone-${this.role}-`));
    } catch (error) {
      throw new ConfigError(
        `cannot create a run directory in ${config.runDir} (SCRIBE_RUN_DIR): ${(error as Error).message}`,
      );
    }
    this.runDir = runDir;
    const configFile = join(runDir, 'rclone.conf');
    writeFileSync(configFile, config.configText, { mode: 0o600 });
    return { configFile, remote: config.remote, dataDir: config.dataDir, runDir, caCert: config.caCert };
  }

  /**
   * Runs rclone; a non-zero exit becomes an RcloneFailure naming `step`. With `progress` (the
   * data's sync, run with -v), each file rclone logs as copied counts, with its size in the
   * volume, and a ProgressMeter writes `scribe progress:` lines every 5 s and at the end.
   */
  async rclone(
    config: RcloneConfig,
    step: string,
    args: string[],
    options: { progress?: boolean } = {},
  ): Promise<ToolResult> {
    const env = { ...this.env, RCLONE_CACHE_DIR: join(this.runDir ?? config.runDir, 'cache') };
    const meter = options.progress ? new ProgressMeter((line) => process.stdout.write(`${line}\n`)).start() : undefined;
    const result = await runTool(config.rclone, args, {
      env,
      redact: this.redact,
      failFast: UNTRUSTED_CERTIFICATE,
      ...(meter
        ? {
            onStdoutLine: () => meter.observeLine(),
            onStderrLine: (line: string) => {
              meter.observeLine();
              const copied = copiedFile(line);
              if (!copied) return;
              // The volume is the source's origin and the destination's target.
              const path = this.role === 'source' ? copied.source : copied.destination;
              meter.add(volumeFileSize(config.dataDir, path));
            },
          }
        : {}),
    });
    meter?.stop();
    this.record(result.stdout, result.stderr);
    if (result.failedFast !== undefined)
      throw new RcloneFailure(untrustedCertificateMessage(`rclone ${step}`, result.failedFast, config.caCert));
    if (result.status !== 0)
      throw new RcloneFailure(
        `rclone ${step} failed with exit code ${result.status}: ${lastRcloneError(result.stderr)}`,
      );
    return result;
  }

  /**
   * The first contact with the remote (args.ts probeArgs), which fails fast: an untrusted TLS
   * certificate ends the run at once, saying to set customCA. Any other failure (a path not made
   * yet, a slow or briefly unreachable back end) is only logged: the steps after it have rclone's
   * retries and report their own errors.
   */
  async probe(config: RcloneConfig, settings: RcloneArgsConfig): Promise<void> {
    const result = await runTool(config.rclone, probeArgs(settings), {
      env: { ...this.env, RCLONE_CACHE_DIR: join(this.runDir ?? config.runDir, 'cache') },
      redact: this.redact,
      failFast: UNTRUSTED_CERTIFICATE,
      echoStdout: false,
      timeoutMs: 60_000,
    });
    const untrusted = result.failedFast ?? result.stderr.split('\n').find((line) => UNTRUSTED_CERTIFICATE.test(line));
    if (untrusted !== undefined) {
      this.record(result.stderr);
      throw new RcloneFailure(
        untrustedCertificateMessage(`rclone's first contact with ${config.remote}`, untrusted, config.caCert),
      );
    }
    if (result.status !== 0 && !/directory not found|object not found/i.test(result.stderr))
      this.log(
        `first contact with ${config.remote} failed (${result.timedOut ? 'no answer in 60 s' : lastRcloneError(result.stderr)}); going on with rclone's retries`,
      );
  }

  protected override cleanup(): void {
    if (this.runDir) rmSync(this.runDir, { recursive: true, force: true });
    this.runDir = undefined;
  }
}

/** rclone's most telling error line: the last ERROR/CRITICAL/Failed line, without the timestamp. */
function lastRcloneError(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.replace(/^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2}(\.\d+)? /, '').trim());
  const line = lines.findLast((l) => /CRITICAL|ERROR|^Failed/.test(l)) ?? lastErrorLine(stderr);
  // The S3 SDK's messages are long and end with the cause ("connect: connection refused"): keep the end.
  return line.length > 100 ? `...${line.slice(-100)}` : line;
}
