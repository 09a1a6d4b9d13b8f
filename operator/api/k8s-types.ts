import Type, { type TUnsafe } from 'typebox';

/**
 * TypeBox builders for the shapes a Kubernetes structural schema wants but TypeBox spells
 * differently (its unions become anyOf/const, its records become patternProperties, neither of
 * which apiextensions.k8s.io/v1 accepts as a structural schema).
 */

export interface CelRule {
  rule: string;
  message: string;
  /** Field path the apiserver reports the error under, e.g. ".maxReplicas". */
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

/** Schema options for CEL cross-field rules, the message being what `kubectl apply` prints. */
export function rules(...celRules: CelRule[]): { 'x-kubernetes-validations': CelRule[] } {
  return { 'x-kubernetes-validations': celRules };
}

/**
 * An object whose `property` is required by a CEL rule (has(self.<property>)) rather than by OpenAPI's
 * `required`, which the apiserver answers with a bare "Required value" and then skips every CEL rule
 * of the object ("some validation rules were not checked"). The TypeScript type still requires it.
 */
export function requiredByRule<Schema extends { required?: string[] }>(property: string, schema: Schema): Schema {
  const { required = [], ...rest } = schema;
  const others = required.filter((name) => name !== property);
  return (others.length > 0 ? { ...rest, required: others } : rest) as Schema;
}

export function StringEnum<const Values extends readonly string[]>(
  values: Values,
  options: { default?: Values[number]; description?: string } = {},
): TUnsafe<Values[number]> {
  return Type.Unsafe<Values[number]>({ type: 'string', enum: [...values], ...options });
}

export function StringMap(options: { maxProperties?: number; description?: string; valueMaxLength?: number } = {}): TUnsafe<Record<string, string>> {
  const { valueMaxLength = 1024, maxProperties = 64, ...rest } = options;
  return Type.Unsafe<Record<string, string>>({
    type: 'object',
    additionalProperties: { type: 'string', maxLength: valueMaxLength },
    maxProperties,
    ...rest,
  });
}

const QUANTITY_PATTERN = '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

/** A resource.Quantity: 500m, 1, 1.5, 512Mi. */
export function Quantity(): TUnsafe<string | number> {
  return Type.Unsafe<string | number>({
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    pattern: QUANTITY_PATTERN,
    'x-kubernetes-int-or-string': true,
  });
}

/** An intstr.IntOrString such as a rolling update's maxSurge: 1 or "25%". */
export function IntOrPercent(options: { description?: string } = {}): TUnsafe<string | number> {
  return Type.Unsafe<string | number>({
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    'x-kubernetes-int-or-string': true,
    ...options,
    ...rules({ rule: "type(self) == int ? self >= 0 : self.matches('^[0-9]{1,3}%$')", message: 'must be a count such as 1 or a percentage such as 25%' }),
  });
}

/** The rule of a QuotedString that refuses what YAML read as a number. */
export const STRING_ONLY_RULE = 'type(self) == string';

/**
 * A string that YAML reads as a number when it has only digits (a digest, a version). Typed string,
 * the apiserver refuses that number with a bare "must be of type string" and skips every rule; as
 * int-or-string (without anyOf, which adds errors of its own) the number reaches a rule whose message
 * says to quote it. Numbers beyond int64 still fail the type check first: CEL cannot see them.
 */
export function QuotedString(options: { maxLength: number; description: string; example: string; rules: CelRule[] }): TUnsafe<string> {
  const { example, rules: celRules, ...schema } = options;
  return Type.Unsafe<string>({
    'x-kubernetes-int-or-string': true,
    ...schema,
    ...rules(
      { rule: STRING_ONLY_RULE, message: `must be a string: YAML read this value as a number; quote it: ${example}` },
      ...celRules.map((celRule) => ({ ...celRule, rule: `type(self) != string || (${celRule.rule})` })),
    ),
  });
}

/** A Go duration (what CEL's duration() and `kubectl` users know): 30s, 2m, 1h30m. */
export function Duration(options: { default?: string; description?: string } = {}): TUnsafe<string> {
  return Type.Unsafe<string>({
    type: 'string',
    maxLength: 32,
    ...options,
    ...rules({ rule: "self.matches('^([0-9]+([.][0-9]+)?(ms|s|m|h))+$')", message: 'must be a duration such as 30s, 2m or 1h30m' }),
  });
}

/** requests/limits keyed by resource name: cpu, memory, nvidia.com/gpu ... */
export function QuantityMap(): TUnsafe<Record<string, string | number>> {
  return Type.Unsafe<Record<string, string | number>>({ type: 'object', additionalProperties: Quantity(), maxProperties: 16 });
}

/** A DNS-1123 subdomain, the name of most objects (Secrets, PVCs ...). */
export function ObjectName(options: { description?: string } = {}): TUnsafe<string> {
  return Type.Unsafe<string>({
    type: 'string',
    minLength: 1,
    maxLength: 253,
    pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
    ...options,
  });
}

export function LabelSelectorMap(): TUnsafe<Record<string, string>> {
  return StringMap({ maxProperties: 16, valueMaxLength: 63 });
}
