/**
 * The plugin's command line, declared once: the parser accepts exactly these verbs and flags and
 * the help text is written from the same tables.
 */
export const PLUGIN_NAME = 'kubectl modelship';

export interface FlagSpec {
  type: 'string' | 'boolean';
  short?: string;
  value?: string;
  help: string;
}

export const Flags = {
  output: { type: 'string', short: 'o', value: 'json|yaml', help: 'Print the result as JSON or YAML instead of a table.' },
  full: { type: 'boolean', help: 'Promote the candidate at once, skipping the remaining steps.' },
  'to-revision': { type: 'string', value: 'N', help: 'The recorded revision to roll back to (default: the one before the stable revision).' },
  namespace: { type: 'string', short: 'n', value: 'NAMESPACE', help: "Namespace of the ModelDeployment (default: the context's namespace, else default)." },
  context: { type: 'string', value: 'NAME', help: 'The kubeconfig context to use.' },
  kubeconfig: { type: 'string', value: 'PATH', help: 'Path to the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config).' },
  help: { type: 'boolean', short: 'h', help: 'Show help.' },
} as const satisfies Record<string, FlagSpec>;

export type FlagName = keyof typeof Flags;

/** Flags every verb takes. */
export const GLOBAL_FLAGS = ['namespace', 'context', 'kubeconfig', 'help'] as const satisfies readonly FlagName[];

export const OUTPUT_FORMATS = ['json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface VerbSpec {
  summary: string;
  flags: readonly FlagName[];
}

export const Verbs = {
  status: { summary: 'Show the rollout: phase, step, weights, stable and candidate revisions, conditions.', flags: ['output'] },
  history: { summary: 'List the recorded revisions, oldest first, and which is stable, candidate or retiring.', flags: ['output'] },
  promote: { summary: 'Finish the current step of the rollout (--full: promote the candidate at once).', flags: ['full'] },
  abort: { summary: 'Send all traffic back to the stable revision and remove the candidate.', flags: [] },
  retry: { summary: 'Roll an aborted revision out again from the first step.', flags: [] },
  pause: { summary: 'Hold the rollout: timers stop, weights stay.', flags: [] },
  resume: { summary: "Resume a paused rollout; the current step's pause starts over.", flags: [] },
  undo: { summary: 'Roll back to a recorded revision: the model, runtime and auth Secret it was made from.', flags: ['to-revision'] },
} as const satisfies Record<string, VerbSpec>;

export type Verb = keyof typeof Verbs;

export const isVerb = (word: string): word is Verb => Object.hasOwn(Verbs, word);
