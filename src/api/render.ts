/** Renders the CRD files exactly as they are checked in (used by the generator and the drift test). */
import { stringify } from 'yaml';
import { buildCrd, crdFileName, kindDefinitions } from './crd.js';
import type { MoverSchemas } from './movers.js';

const HEADER = '# Generated from src/api by `npm run crds`. Do not edit.\n';

/** Every generated file: its path relative to the repository root, and its text (`movers`: the shipped ones by default). */
export function renderCrdFiles(movers?: readonly MoverSchemas[]): Array<[string, string]> {
  const files: Array<[string, string]> = [];
  for (const kind of kindDefinitions(movers)) {
    const text = HEADER + stringify(buildCrd(kind), { lineWidth: 0 });
    files.push([`crds/${crdFileName(kind)}`, text]);
  }
  return files;
}
