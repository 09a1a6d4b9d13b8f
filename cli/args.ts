import { parseArgs } from 'node:util';
import { UsageError } from './errors.ts';
import { Flags, GLOBAL_FLAGS, isVerb, OUTPUT_FORMATS, PLUGIN_NAME, Verbs, type FlagName, type OutputFormat, type Verb } from './verbs.ts';

/** Where the ModelDeployment lives, as kubectl's own flags say it. */
export interface ConnectionFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
}

export interface HelpInvocation { verb: 'help'; topic?: Verb }
interface OnModelDeployment { name: string; connection: ConnectionFlags }
export interface ReportInvocation extends OnModelDeployment { verb: 'status' | 'history'; output?: OutputFormat }
export interface PromoteInvocation extends OnModelDeployment { verb: 'promote'; full: boolean }
export interface CommandInvocation extends OnModelDeployment { verb: 'abort' | 'retry' | 'pause' | 'resume' }
export interface UndoInvocation extends OnModelDeployment { verb: 'undo'; toRevision?: number }
export type ActionInvocation = ReportInvocation | PromoteInvocation | CommandInvocation | UndoInvocation;
export type Invocation = HelpInvocation | ActionInvocation;

type ParsedValues = Partial<Record<FlagName, string | boolean>>;

const parseOptions = Object.fromEntries(
  Object.entries(Flags).map(([name, flag]) => [name, { type: flag.type, ...('short' in flag && { short: flag.short }) }]),
) as Record<FlagName, { type: 'string' | 'boolean'; short?: string }>;

const isFlagName = (name: string): name is FlagName => Object.hasOwn(Flags, name);

/**
 * Reads the command line (the words after `kubectl modelship`). Flags may come before or after
 * the verb and name, as with kubectl; a flag another verb owns is refused rather than ignored.
 */
export function parseInvocation(argv: readonly string[]): Invocation {
  const { positionals, tokens } = parseArgs({ args: [...argv], options: parseOptions, allowPositionals: true, strict: false, tokens: true });
  const [word, name, ...extra] = positionals;
  const verb = word !== undefined && isVerb(word) ? word : undefined;
  const values: ParsedValues = {};

  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    if (!isFlagName(token.name)) throw new UsageError(`unknown flag: ${token.rawName}`, verb);
    const flag = Flags[token.name];
    if (flag.type === 'string' && (token.value === undefined || token.value === '')) throw new UsageError(`flag needs an argument: ${token.rawName}`, verb);
    if (flag.type === 'boolean' && token.value !== undefined) throw new UsageError(`flag takes no value: ${token.rawName}`, verb);
    values[token.name] = token.value ?? true;
  }

  if (word === undefined || word === 'help') {
    if (name !== undefined && !isVerb(name)) throw new UsageError(`unknown command "${name}" for "${PLUGIN_NAME}"`);
    if (word === undefined && !values.help) throw new UsageError('a command is required');
    return { verb: 'help', ...(name !== undefined && isVerb(name) && { topic: name }) };
  }
  if (!verb) throw new UsageError(`unknown command "${word}" for "${PLUGIN_NAME}"`);
  if (values.help) return { verb: 'help', topic: verb };

  const allowed: readonly FlagName[] = [...GLOBAL_FLAGS, ...Verbs[verb].flags];
  const stray = (Object.keys(values) as FlagName[]).find((flag) => !allowed.includes(flag));
  if (stray) throw new UsageError(`unknown flag for ${verb}: --${stray}`, verb);
  if (name === undefined) throw new UsageError(`${verb} needs the name of a ModelDeployment`, verb);
  if (extra.length > 0) throw new UsageError(`${verb} takes one ModelDeployment name, got also: ${extra.join(' ')}`, verb);

  const connection = connectionFlags(values);
  switch (verb) {
    case 'status':
    case 'history':
      return { verb, name, connection, ...(values.output !== undefined && { output: outputFormat(String(values.output), verb) }) };
    case 'promote':
      return { verb, name, connection, full: values.full === true };
    case 'undo': {
      const toRevision = values['to-revision'] === undefined ? undefined : revisionNumber(String(values['to-revision']));
      return { verb, name, connection, ...(toRevision !== undefined && { toRevision }) };
    }
    default:
      return { verb, name, connection };
  }
}

function connectionFlags(values: ParsedValues): ConnectionFlags {
  const connection: ConnectionFlags = {};
  if (typeof values.kubeconfig === 'string') connection.kubeconfig = values.kubeconfig;
  if (typeof values.context === 'string') connection.context = values.context;
  if (typeof values.namespace === 'string') connection.namespace = values.namespace;
  return connection;
}

function outputFormat(value: string, verb: Verb): OutputFormat {
  const format = OUTPUT_FORMATS.find((candidate) => candidate === value);
  if (!format) throw new UsageError(`unable to match a printer suitable for the output format "${value}", allowed formats are: ${OUTPUT_FORMATS.join(',')}`, verb);
  return format;
}

/** 0 means "the revision before stable", as kubectl rollout undo --to-revision=0 means the previous one. */
function revisionNumber(value: string): number | undefined {
  if (!/^\d+$/.test(value)) throw new UsageError(`--to-revision must be a revision number (see ${PLUGIN_NAME} history), got "${value}"`, 'undo');
  const number = Number(value);
  return number === 0 ? undefined : number;
}
