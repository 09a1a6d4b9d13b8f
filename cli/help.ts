import { renderTable } from './table.ts';
import { Flags, GLOBAL_FLAGS, PLUGIN_NAME, Verbs, type FlagName, type Verb } from './verbs.ts';

function flagRows(names: readonly FlagName[]): string[][] {
  return names.map((name) => {
    const flag: { short?: string; value?: string; help: string } = Flags[name];
    const long = `--${name}${flag.value ? `=${flag.value}` : ''}`;
    return [flag.short ? `-${flag.short}, ${long}` : `    ${long}`, flag.help];
  });
}

const table = (rows: string[][]) => renderTable(undefined, rows, { indent: 2 });

/** Help for the plugin as a whole. */
export function pluginHelp(): string {
  const verbs = Object.entries(Verbs).map(([name, verb]) => [name, verb.summary]);
  return [
    'Watch and steer ModelDeployment rollouts (canary, blue/green, A/B, mirror).',
    '',
    'Commands:',
    table(verbs),
    '',
    'Flags (every command):',
    table(flagRows(GLOBAL_FLAGS)),
    '',
    'Usage:',
    `  ${PLUGIN_NAME} COMMAND NAME [flags]`,
    '',
    `Use "${PLUGIN_NAME} COMMAND --help" for more about a command.`,
    'Exit status: 0 done, 1 error (from the server or the rollout state), 2 bad usage.',
    '',
  ].join('\n');
}

/** Help for one verb. */
export function verbHelp(verb: Verb): string {
  const spec = Verbs[verb];
  const own = spec.flags.length > 0 ? ['Flags:', table(flagRows(spec.flags)), ''] : [];
  return [
    spec.summary,
    '',
    'Usage:',
    `  ${PLUGIN_NAME} ${verb} NAME [flags]`,
    '',
    ...own,
    'Global flags:',
    table(flagRows(GLOBAL_FLAGS)),
    '',
  ].join('\n');
}

/** Where to look after a usage error. */
export const helpHint = (verb?: Verb): string => `See '${PLUGIN_NAME}${verb ? ` ${verb}` : ''} --help' for usage.`;
