/**
 * Turns the TypeBox schemas into CustomResourceDefinitions. This is the one place the CRDs
 * come from: `npm run crds` writes them to crds/, and a test fails when the files drift.
 */
import type { TSchema } from '@sinclair/typebox';
import { API_GROUP, API_VERSION } from './common.js';
import { MOVER_SCHEMAS, type MoverSchemas } from './movers.js';
import { replicationDestinationSpec, replicationDestinationStatus } from './replication-destination.js';
import { replicationSourceSpec, replicationSourceStatus } from './replication-source.js';

type JsonSchema = Record<string, unknown>;

/** Keys a structural OpenAPI v3 schema may carry; everything else TypeBox adds is dropped. */
const KEPT_KEYS = new Set([
  'type',
  'description',
  'properties',
  'required',
  'items',
  'enum',
  'format',
  'pattern',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'default',
  'anyOf',
  'additionalProperties',
  'nullable',
]);

/** Converts a TypeBox schema into the structural subset the API server accepts. */
export function toStructural(schema: TSchema | JsonSchema): JsonSchema {
  const input = schema as JsonSchema;
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(input)) {
    if (!KEPT_KEYS.has(key) && !key.startsWith('x-kubernetes-')) continue;
    if (key === 'properties') {
      out.properties = Object.fromEntries(
        Object.entries(value as Record<string, JsonSchema>).map(([name, child]) => [name, toStructural(child)]),
      );
    } else if (key === 'items') {
      out.items = toStructural(value as JsonSchema);
    } else if (key === 'anyOf') {
      out.anyOf = (value as JsonSchema[]).map(toStructural);
    } else if (key === 'additionalProperties') {
      // TypeBox's Record emits patternProperties; objects we declare closed stay open to the
      // API server's pruning instead (structural schemas cannot say "additionalProperties: false").
      if (typeof value === 'object') out.additionalProperties = toStructural(value as JsonSchema);
    } else {
      out[key] = value;
    }
  }
  // Type.Record puts its value schema under patternProperties; Kubernetes wants additionalProperties.
  const patternProperties = input.patternProperties as Record<string, JsonSchema> | undefined;
  if (patternProperties) {
    const [valueSchema] = Object.values(patternProperties);
    if (valueSchema) out.additionalProperties = toStructural(valueSchema);
  }
  if (Array.isArray(out.required) && out.required.length === 0) delete out.required;
  return out;
}

interface PrinterColumn {
  name: string;
  type: 'string' | 'date' | 'integer';
  jsonPath: string;
  priority?: number;
}

interface KindDefinition {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  spec: TSchema;
  status: TSchema;
  columns: PrinterColumn[];
}

const STATE_COLUMN: PrinterColumn = { name: 'State', type: 'string', jsonPath: '.status.state' };
const SYNC_COLUMNS: PrinterColumn[] = [
  { name: 'Last sync', type: 'date', jsonPath: '.status.lastSyncTime' },
  { name: 'Duration', type: 'string', jsonPath: '.status.lastSyncDuration' },
  // A future time shows as <invalid> in a date column, so the next sync is shown as written.
  { name: 'Next sync', type: 'string', jsonPath: '.status.nextSyncTime' },
];

/** Both kinds with a section for each of `movers` (the shipped movers by default). */
export function kindDefinitions(movers: readonly MoverSchemas[] = MOVER_SCHEMAS): KindDefinition[] {
  return [
    {
      kind: 'ReplicationSource',
      plural: 'replicationsources',
      singular: 'replicationsource',
      shortNames: ['rsrc'],
      spec: replicationSourceSpec(movers),
      status: replicationSourceStatus(movers),
      columns: [{ name: 'Source', type: 'string', jsonPath: '.spec.sourcePVC' }, ...SYNC_COLUMNS, STATE_COLUMN],
    },
    {
      kind: 'ReplicationDestination',
      plural: 'replicationdestinations',
      singular: 'replicationdestination',
      shortNames: ['rd', 'rdst'],
      spec: replicationDestinationSpec(movers),
      status: replicationDestinationStatus(movers),
      columns: [
        ...SYNC_COLUMNS,
        { name: 'Latest image', type: 'string', jsonPath: '.status.latestImage.name' },
        STATE_COLUMN,
      ],
    },
  ];
}

export const KINDS: KindDefinition[] = kindDefinitions();

/** Builds the CustomResourceDefinition of one kind. */
export function buildCrd(definition: KindDefinition) {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${definition.plural}.${API_GROUP}`,
      labels: { 'app.kubernetes.io/name': 'scribe', 'app.kubernetes.io/part-of': 'scribe' },
    },
    spec: {
      group: API_GROUP,
      names: {
        kind: definition.kind,
        listKind: `${definition.kind}List`,
        plural: definition.plural,
        singular: definition.singular,
        shortNames: definition.shortNames,
        categories: ['scribe'],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: API_VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            ...definition.columns,
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: `${definition.kind} of scribe.backube/v1alpha1.`,
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: toStructural(definition.spec),
                status: toStructural(definition.status),
              },
              required: ['spec'],
            },
          },
        },
      ],
    },
  };
}

/** The file name a CRD is written to under crds/ (and helm/scribe/crds/). */
export function crdFileName(definition: KindDefinition): string {
  return `${API_GROUP}_${definition.plural}.yaml`;
}
