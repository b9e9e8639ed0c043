/** Validation of option values, before anything is sent to a cluster. */
import { ACCESS_MODES, DESTINATION_COPY_METHODS, SOURCE_COPY_METHODS } from '../api/common.js';
import { parseSchedule } from '../../machines/trigger.js';
import { PluginError } from './errors.js';
import { STATIC_DEFAULTS, type OptionKey, type OptionValues } from './options.js';

const SERVICE_TYPES = ['ClusterIP', 'LoadBalancer'];
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const QUANTITY = /^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;

/** The value of an option: given, else its static default. */
export function optionValue(values: OptionValues, key: OptionKey): string | undefined {
  return values[key] ?? STATIC_DEFAULTS[key];
}

/** Parses provider params, `key=value,key1=value1`, into a map. */
export function parseProviderParams(text: string | undefined): Record<string, string> | undefined {
  if (!text?.trim()) return undefined;
  const params: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const at = pair.indexOf('=');
    if (at <= 0)
      throw new PluginError(`provider params: "${pair}" is not key=value (expected 'key=value,key1=value1')`);
    params[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  return params;
}

/** Problems with the values, one message per option (empty when all is well). */
export function optionProblems(values: OptionValues): string[] {
  const problems: string[] = [];
  const check = (key: OptionKey, ok: (v: string) => boolean, expected: string) => {
    const v = optionValue(values, key);
    if (v !== undefined && !ok(v)) problems.push(`${key}: "${v}" ${expected}`);
  };
  const oneOf = (list: readonly string[]) => (v: string) => list.includes(v);
  for (const side of ['dest', 'source'] as const) {
    check(`${side}-access-mode`, oneOf(ACCESS_MODES), `must be one of ${ACCESS_MODES.join('|')}`);
    check(`${side}-service-type`, oneOf(SERVICE_TYPES), `must be one of ${SERVICE_TYPES.join('|')}`);
    check(`${side}-capacity`, (v) => QUANTITY.test(v), 'is not a quantity such as 2Gi or 500Mi');
    check(
      `${side}-port`,
      (v) => /^[0-9]+$/.test(v) && Number(v) >= 1 && Number(v) <= 65535,
      'must be a port number 1-65535',
    );
    check(`${side}-namespace`, (v) => DNS_LABEL.test(v) && v.length <= 63, 'is not a valid namespace name');
    check(`${side}-name`, (v) => DNS_SUBDOMAIN.test(v) && v.length <= 253, 'is not a valid object name (lower case)');
    check(`${side}-pvc`, (v) => DNS_SUBDOMAIN.test(v) && v.length <= 253, 'is not a valid PVC name (lower case)');
    check(
      `${side}-provider-params`,
      (v) => /^[^=,]+=[^,]*(,[^=,]+=[^,]*)*$/.test(v),
      "must be 'key=value,key1=value1'",
    );
    const cron = optionValue(values, `${side}-cron-spec`);
    if (cron !== undefined) {
      const parsed = parseSchedule(cron);
      if (!parsed.ok) problems.push(`${side}-cron-spec: ${parsed.message.replace(/^[^:]*: /, '')}`);
    }
  }
  check('source-copy-method', oneOf(SOURCE_COPY_METHODS), `must be one of ${SOURCE_COPY_METHODS.join('|')}`);
  const destCopy = optionValue(values, 'dest-copy-method');
  if (destCopy === 'Clone') {
    // design.md decision 6: the seed's option list offers Clone, but a destination cannot clone.
    problems.push(
      'dest-copy-method: Clone is not supported at a destination (decision 6): use Snapshot (keep each sync as a VolumeSnapshot) or None (the PVC itself)',
    );
  } else {
    check('dest-copy-method', oneOf(DESTINATION_COPY_METHODS), `must be one of ${DESTINATION_COPY_METHODS.join('|')}`);
  }
  check('dest-path', (v) => v.startsWith('/'), 'must be an absolute path starting with /');
  check('ssh-keys-secret', (v) => DNS_SUBDOMAIN.test(v), 'is not a valid Secret name (lower case)');
  return problems;
}

/** Throws one PluginError listing every problem, or returns quietly. */
export function validateOptions(values: OptionValues): void {
  const problems = optionProblems(values);
  if (problems.length > 0) throw new PluginError(`invalid options:\n  ${problems.join('\n  ')}`);
}
