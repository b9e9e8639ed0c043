/**
 * Small TypeBox builders for the shapes Kubernetes schemas need again and again.
 * Every builder returns a schema that is both a TypeScript type (through Static) and a
 * structural OpenAPI v3 schema, so the CRDs and the code can never disagree.
 */
import { Type, type TSchema, type SchemaOptions } from '@sinclair/typebox';

/** A CEL rule for `x-kubernetes-validations`; the message is what the user sees. */
export interface CelRule {
  rule: string;
  message: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

/** Attaches CEL rules to a schema's options. */
export function cel(...rules: CelRule[]): { 'x-kubernetes-validations': CelRule[] } {
  return { 'x-kubernetes-validations': rules };
}

/** A string restricted to the given values (an OpenAPI `enum`, which the API server reports by name). */
export function StringEnum<const T extends readonly string[]>(values: T, options: SchemaOptions = {}) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

/** The regular expression Kubernetes uses for resource.Quantity (as controller-gen emits it). */
export const QUANTITY_PATTERN =
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

/** A resource quantity such as "10Gi": an int-or-string, as core Kubernetes types declare it. */
export function Quantity(options: SchemaOptions = {}) {
  return Type.Unsafe<string | number>({
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    pattern: QUANTITY_PATTERN,
    'x-kubernetes-int-or-string': true,
    ...options,
  });
}

/** The name of an object in the same namespace (a DNS-1123 subdomain). */
export function ObjectName(options: SchemaOptions = {}) {
  return Type.String({
    minLength: 1,
    maxLength: 253,
    pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
    ...options,
  });
}

/** An RFC 3339 timestamp as Kubernetes serialises metav1.Time. */
export function Timestamp(options: SchemaOptions = {}) {
  return Type.String({ format: 'date-time', ...options });
}

/** A map of strings, as a structural schema (`additionalProperties: {type: string}`). */
export function StringMap(options: SchemaOptions = {}) {
  return Type.Record(Type.String(), Type.String(), options);
}

/** Makes every property of an object schema optional without losing its options. */
export function optional<T extends TSchema>(schema: T) {
  return Type.Optional(schema);
}
