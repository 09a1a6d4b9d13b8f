import { modelDeploymentCrd } from '../operator/api/crd.ts';
import { STRING_ONLY_RULE, type CelRule } from '../operator/api/k8s-types.ts';

/**
 * The ModelDeployment API reference, read from the CRD's OpenAPI schema exactly as the apiserver
 * gets it (generated from operator/api/schema.ts), so the page cannot say what the API does not.
 */

/** The parts of an OpenAPI v3 schema node that the reference shows, under their wire names. */
export interface SchemaNode {
  type?: string;
  description?: string;
  properties?: Record<string, SchemaNode>;
  required?: string[];
  items?: SchemaNode;
  additionalProperties?: SchemaNode | boolean;
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  pattern?: string;
  format?: string;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-validations'?: CelRule[];
}

export interface FieldRow {
  path: string;
  type: string;
  required: boolean;
  default?: unknown;
  allowed: string[];
  description: string;
}

export interface RuleRow {
  /** The field the apiserver reports the error under. */
  path: string;
  message: string;
  rule: string;
}

/** The root schema of the served version. */
export function modelDeploymentSchema(): SchemaNode {
  const schema = modelDeploymentCrd().spec.versions[0]?.schema?.openAPIV3Schema;
  if (!schema) throw new Error('the CRD has no schema');
  return schema as unknown as SchemaNode;
}

const code = (value: unknown) => `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``;

function typeName(node: SchemaNode): string {
  if (node['x-kubernetes-int-or-string']) {
    if (node['x-kubernetes-validations']?.some((rule) => rule.rule === STRING_ONLY_RULE)) return 'string';
    return node.pattern ? 'quantity' : 'int or string';
  }
  if (node.type === 'array') {
    const list = node['x-kubernetes-list-type'] === 'map' ? ` (keyed by ${node['x-kubernetes-list-map-keys']?.join(', ')})` : node['x-kubernetes-list-type'] === 'set' ? ' (set)' : '';
    return `[]${node.items ? typeName(node.items) : 'any'}${list}`;
  }
  if (node.type === 'object' && typeof node.additionalProperties === 'object') return `map[string]${typeName(node.additionalProperties)}`;
  if (node.format) return `${node.type} (${node.format})`;
  return node.type ?? 'any';
}

/** "1 – 10", "≤ 64", "≥ 1", with a unit after it. */
function range(min: number | undefined, max: number | undefined, unit = ''): string | undefined {
  if (min === undefined && max === undefined) return undefined;
  const bounds = min === undefined ? `≤ ${max}` : max === undefined ? `≥ ${min}` : `${min} – ${max}`;
  return `${bounds}${unit}`;
}

/** Ranges, lengths, enums and patterns, in the words a reader checks a value against. */
function allowed(node: SchemaNode): string[] {
  return [
    node.enum && node.enum.map(code).join(', '),
    range(node.minimum, node.maximum),
    range(node.minLength, node.maxLength, ' characters'),
    range(node.minItems, node.maxItems, ' items'),
    range(undefined, node.maxProperties, ' entries'),
    node.pattern && `pattern ${code(node.pattern)}`,
  ].filter((text): text is string => !!text);
}

/** Where a nested schema's fields live: an array's items are `path[]`, a map's values `path[key]`. */
function children(path: string, node: SchemaNode): [string, SchemaNode, boolean][] {
  // A property can be required by a rule (has(self.x)) instead of `required`, for a clearer message.
  const requiredByRule = (key: string) => (node['x-kubernetes-validations'] ?? []).some((rule) => rule.rule === `has(self.${key})`);
  if (node.properties) return Object.entries(node.properties).map(([key, child]) => [`${path}.${key}`, child, (node.required?.includes(key) ?? false) || requiredByRule(key)]);
  if (node.type === 'array' && node.items?.properties) return children(`${path}[]`, node.items);
  if (typeof node.additionalProperties === 'object' && node.additionalProperties.properties) return children(`${path}[key]`, node.additionalProperties);
  return [];
}

/** Every field under `path`, depth first in schema order. */
export function fieldRows(path: string, node: SchemaNode, required = false): FieldRow[] {
  const items = node.items && allowed(node.items);
  const constraints = [...allowed(node), ...(items?.length ? [`each: ${items.join(', ')}`] : [])];
  const row: FieldRow = { path, type: typeName(node), required, allowed: constraints, description: node.description ?? '', ...(node.default !== undefined && { default: node.default }) };
  return [row, ...children(path, node).flatMap(([childPath, child, childRequired]) => fieldRows(childPath, child, childRequired))];
}

/** Every CEL rule under `path`, reported under its fieldPath when it names one. */
export function ruleRows(path: string, node: SchemaNode): RuleRow[] {
  const own = (node['x-kubernetes-validations'] ?? []).map((rule) => ({ path: `${path}${rule.fieldPath ?? ''}`, message: rule.message, rule: rule.rule }));
  const nested = node.properties
    ? Object.entries(node.properties).flatMap(([key, child]) => ruleRows(`${path}.${key}`, child))
    : node.items ? ruleRows(`${path}[]`, node.items)
      : typeof node.additionalProperties === 'object' ? ruleRows(`${path}[key]`, node.additionalProperties) : [];
  return [...own, ...nested];
}

/** The reference's Markdown: spec fields, CEL rules with their messages, status fields, printer columns. */
export function apiReference(table: (headers: readonly string[], rows: readonly (readonly string[])[]) => string): string {
  const root = modelDeploymentSchema();
  const spec = root.properties?.spec;
  const status = root.properties?.status;
  if (!spec || !status) throw new Error('the schema has no spec or status');
  const fields = (rows: FieldRow[]) => table(
    ['Field', 'Type', 'Default', 'Allowed', 'Description'],
    rows.map((row) => [
      `\`${row.path}\`${row.required ? ' (required)' : ''}`,
      row.type,
      row.default === undefined ? '' : code(row.default),
      row.allowed.join('; '),
      row.description,
    ]),
  );
  const columns = modelDeploymentCrd().spec.versions[0]?.additionalPrinterColumns ?? [];
  return [
    '### Spec',
    '',
    fields(fieldRows('spec', spec, true)),
    '',
    '### Validation rules',
    '',
    'Checked by the apiserver (CEL, `x-kubernetes-validations`) on create and update; `kubectl apply` prints the message under the field.',
    '',
    table(['Field', 'Message', 'Rule (CEL)'], ruleRows('', root).map((row) => [row.path ? code(row.path.replace(/^\./, '')) : 'the whole object', row.message, code(row.rule)])),
    '',
    '### Status',
    '',
    'Written by the operator only (the status subresource).',
    '',
    fields(fieldRows('status', status)),
    '',
    '### `kubectl get md` columns',
    '',
    table(['Column', 'From', 'Shown'], columns.map((column) => [column.name, `\`${column.jsonPath}\``, column.priority ? '`-o wide`' : 'always'])),
  ].join('\n');
}
