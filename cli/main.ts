import { parseInvocation } from './args.ts';
import { errorText, ExitCode, exitCodeOf, UsageError } from './errors.ts';
import { helpHint, pluginHelp, verbHelp } from './help.ts';
import { isVerb } from './verbs.ts';

export interface Streams {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** Runs one plugin command line and returns its exit status; everything it prints goes through streams. */
export async function runPlugin(argv: readonly string[], streams: Streams): Promise<ExitCode> {
  try {
    const invocation = parseInvocation(argv);
    if (invocation.verb === 'help') {
      streams.stdout(invocation.topic ? verbHelp(invocation.topic) : pluginHelp());
      return ExitCode.ok;
    }
    // Loaded only for a command that talks to the cluster: help and usage errors answer at once.
    const [{ connect }, { runAction }] = await Promise.all([import('./connection.ts'), import('./actions.ts')]);
    const { client, namespace } = connect(invocation.connection);
    const result = await runAction({ client, namespace, name: invocation.name }, invocation);
    streams.stdout(result.stdout);
    if (result.stderr) streams.stderr(result.stderr);
    return ExitCode.ok;
  } catch (error) {
    streams.stderr(`${errorText(error)}\n`);
    if (error instanceof UsageError) streams.stderr(`${helpHint(error.verb !== undefined && isVerb(error.verb) ? error.verb : undefined)}\n`);
    return exitCodeOf(error);
  }
}

const write = (stream: NodeJS.WriteStream) => (text: string) => void stream.write(text);

process.exitCode = await runPlugin(process.argv.slice(2), { stdout: write(process.stdout), stderr: write(process.stderr) });
