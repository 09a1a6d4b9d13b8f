/**
 * Settings read from environment variables, described once as data: name, type, default, range
 * and one line of meaning. The readers below and the generated docs tables work from these
 * descriptions, so a default or a range is written in exactly one place.
 */

interface SettingBase {
  readonly name: string;
  /** One line for the docs table (Markdown). */
  readonly doc: string;
  /** How the docs show a default computed at start (e.g. from another setting). */
  readonly defaultDoc?: string;
}

export interface IntegerSetting extends SettingBase {
  readonly type: 'integer';
  readonly default: number;
  readonly min: number;
  readonly max: number;
}

/** A decimal number in [min, max] (e.g. a sampling ratio). */
export interface NumberSetting extends SettingBase {
  readonly type: 'number';
  readonly default: number;
  readonly min: number;
  readonly max: number;
}

export interface StringSetting extends SettingBase {
  readonly type: 'string';
  /** Absent: unset unless the environment sets it (or required). */
  readonly default?: string;
  readonly required?: boolean;
  /** Why a required value is needed, for the error message. */
  readonly requiredDoc?: string;
}

export interface EnumSetting extends SettingBase {
  readonly type: 'enum';
  readonly values: readonly string[];
  readonly default: string;
}

/** A comma-separated, ordered set of known words (case-insensitive). */
export interface ListSetting extends SettingBase {
  readonly type: 'list';
  readonly values: readonly string[];
  readonly default: readonly string[];
  /** What one entry is, for messages ("provider"). */
  readonly item: string;
}

/** A comma-separated list of integers from min up to the value of another integer setting. */
export interface IntegerListSetting extends SettingBase {
  readonly type: 'integer-list';
  readonly min: number;
  readonly maxFrom: IntegerSetting;
}

/** A SHA-256 digest: 64 hex digits, optionally prefixed "sha256:". */
export interface DigestSetting extends SettingBase {
  readonly type: 'digest';
}

export interface BooleanSetting extends SettingBase {
  readonly type: 'boolean';
  readonly default: boolean;
}

export type Setting = IntegerSetting | NumberSetting | StringSetting | EnumSetting | ListSetting | IntegerListSetting | DigestSetting | BooleanSetting;

export class ConfigError extends Error {}

export type Env = Readonly<Record<string, string | undefined>>;

function raw(env: Env, setting: Setting): string | undefined {
  const value = env[setting.name]?.trim();
  return value === '' ? undefined : value;
}

export function readInteger(env: Env, setting: IntegerSetting): number {
  const text = raw(env, setting);
  if (text === undefined) return setting.default;
  const value = Number(text);
  if (!/^-?\d+$/.test(text) || value < setting.min || value > setting.max) {
    throw new ConfigError(`${setting.name}=${text} is invalid: expected an integer between ${setting.min} and ${setting.max}`);
  }
  return value;
}

export function readNumber(env: Env, setting: NumberSetting): number {
  const text = raw(env, setting);
  if (text === undefined) return setting.default;
  const value = Number(text);
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text) || value < setting.min || value > setting.max) {
    throw new ConfigError(`${setting.name}=${text} is invalid: expected a number between ${setting.min} and ${setting.max}`);
  }
  return value;
}

export function readString(env: Env, setting: StringSetting & ({ readonly default: string } | { readonly required: true })): string;
export function readString(env: Env, setting: StringSetting): string | undefined;
export function readString(env: Env, setting: StringSetting): string | undefined {
  const value = raw(env, setting) ?? setting.default;
  if (value === undefined && setting.required) throw new ConfigError(`${setting.name} is required${setting.requiredDoc ? `: ${setting.requiredDoc}` : ''}`);
  return value;
}

export function readEnum<const S extends EnumSetting>(env: Env, setting: S): S['values'][number] {
  const value = raw(env, setting)?.toLowerCase() ?? setting.default;
  if (!setting.values.includes(value)) {
    throw new ConfigError(`${setting.name}=${value} is invalid: expected one of ${setting.values.join(', ')}`);
  }
  return value;
}

function entries(env: Env, setting: Setting): string[] {
  return (raw(env, setting) ?? '').split(',').map((item) => item.trim().toLowerCase()).filter(Boolean);
}

export function readList<const S extends ListSetting>(env: Env, setting: S): S['values'][number][] {
  const names = entries(env, setting);
  for (const name of names) {
    if (!setting.values.includes(name)) {
      throw new ConfigError(`${setting.name} lists unknown ${setting.item} "${name}"; known: ${setting.values.join(', ')}`);
    }
  }
  return names.length ? [...new Set(names)] : [...setting.default];
}

/** Sorted ascending; `max` is the value the bounding setting was given. */
export function readIntegerList(env: Env, setting: IntegerListSetting, max: number): number[] {
  return entries(env, setting).map((item) => {
    const value = Number(item);
    if (!Number.isInteger(value) || value < setting.min || value > max) {
      throw new ConfigError(`${setting.name} entry "${item}" is invalid: expected integers between ${setting.min} and ${setting.maxFrom.name} (${max})`);
    }
    return value;
  }).sort((a, b) => a - b);
}

/** Lowercase hex without the prefix. */
export function readDigest(env: Env, setting: DigestSetting): string | undefined {
  const value = raw(env, setting)?.toLowerCase().replace(/^sha256:/, '');
  if (value !== undefined && !/^[0-9a-f]{64}$/.test(value)) {
    throw new ConfigError(`${setting.name} must be 64 hex digits (optionally prefixed "sha256:")`);
  }
  return value;
}

export function readBoolean(env: Env, setting: BooleanSetting): boolean {
  const value = raw(env, setting)?.toLowerCase();
  if (value === undefined) return setting.default;
  if (value !== 'true' && value !== 'false') throw new ConfigError(`${setting.name}=${value} is invalid: expected true or false`);
  return value === 'true';
}

/** The type, default and allowed values of a setting as the docs tables show them. */
export function describeSetting(setting: Setting): { type: string; default: string; allowed: string } {
  const code = (value: string | number | boolean) => `\`${value}\``;
  const shown = (fallback: string) => setting.defaultDoc ?? fallback;
  switch (setting.type) {
    case 'integer': {
      const allowed = setting.max === Number.MAX_SAFE_INTEGER ? `≥ ${setting.min}` : `${setting.min} – ${setting.max}`;
      return { type: 'integer', default: shown(code(setting.default)), allowed };
    }
    case 'number':
      return { type: 'number', default: shown(code(setting.default)), allowed: `${setting.min} – ${setting.max}` };
    case 'string':
      return {
        type: 'string',
        default: shown(setting.required ? '**required**' : setting.default === undefined ? 'unset' : code(setting.default)),
        allowed: '',
      };
    case 'enum':
      return { type: 'enum', default: shown(code(setting.default)), allowed: setting.values.map(code).join(', ') };
    case 'list':
      return { type: 'list', default: shown(code(setting.default.join(','))), allowed: `comma-separated, of ${setting.values.map(code).join(', ')}` };
    case 'integer-list':
      return { type: 'integer list', default: shown('empty'), allowed: `comma-separated, each ${setting.min} – \`${setting.maxFrom.name}\`` };
    case 'digest':
      return { type: 'digest', default: shown('unset'), allowed: '64 hex digits, optional `sha256:` prefix' };
    case 'boolean':
      return { type: 'boolean', default: shown(code(setting.default)), allowed: '`true`, `false`' };
  }
}
