/**
 * A CPU profile of the API server itself (its Go pprof endpoint, on by default), taken while the
 * controller benchmark's burst runs: when the API server is what the two cores spend their time
 * on, this says on what. Read it with `go tool pprof -top <file>` (the profile carries its symbols).
 */
import { createWriteStream } from 'node:fs';
import { request } from 'node:https';
import { pipeline } from 'node:stream/promises';
import type { KubeConfig } from '@kubernetes/client-node';

/** Writes `seconds` of the API server's CPU profile to `file`; resolves once it is written. */
export async function captureApiServerProfile(kc: KubeConfig, seconds: number, file: string): Promise<void> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('the kubeconfig names no cluster');
  const url = new URL(`/debug/pprof/profile?seconds=${Math.round(seconds)}`, server);
  const options = { method: 'GET', headers: {} as Record<string, string> };
  await kc.applyToHTTPSOptions(options);
  await new Promise<void>((resolve, reject) => {
    const req = request(url, options, (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        reject(new Error(`${url.pathname} answered ${response.statusCode}`));
        return;
      }
      pipeline(response, createWriteStream(file)).then(resolve, reject);
    });
    req.on('error', reject);
    req.end();
  });
}
