import { expect } from 'chai';
import { parseInvocation } from '../../../cli/args.ts';
import { ExitCode, UsageError } from '../../../cli/errors.ts';
import { Verbs } from '../../../cli/verbs.ts';

function usageError(argv: string[]): UsageError {
  try {
    parseInvocation(argv);
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw error;
  }
  throw new Error(`expected a usage error for ${argv.join(' ')}`);
}

describe('kubectl-modelship argument parsing', () => {
  it('reads a verb, a name and the connection flags, in any order, short or long, with = or a space', () => {
    expect(parseInvocation(['status', 'fraud', '-n', 'payments', '-o', 'json'])).to.deep.equal({ verb: 'status', name: 'fraud', connection: { namespace: 'payments' }, output: 'json' });
    expect(parseInvocation(['--namespace=payments', '--context', 'prod', 'history', '--kubeconfig=/tmp/kc', 'fraud', '--output', 'yaml'])).to.deep.equal({
      verb: 'history', name: 'fraud', connection: { namespace: 'payments', context: 'prod', kubeconfig: '/tmp/kc' }, output: 'yaml',
    });
  });

  it('reads each verb its own flags', () => {
    expect(parseInvocation(['promote', 'fraud'])).to.deep.equal({ verb: 'promote', name: 'fraud', full: false, connection: {} });
    expect(parseInvocation(['promote', 'fraud', '--full'])).to.deep.equal({ verb: 'promote', name: 'fraud', full: true, connection: {} });
    expect(parseInvocation(['undo', 'fraud', '--to-revision', '3'])).to.deep.equal({ verb: 'undo', name: 'fraud', toRevision: 3, connection: {} });
    expect(parseInvocation(['undo', 'fraud', '--to-revision=0']), '0 means the revision before stable, as in kubectl rollout undo').to.deep.equal({ verb: 'undo', name: 'fraud', connection: {} });
    for (const verb of ['abort', 'retry', 'pause', 'resume'] as const) {
      expect(parseInvocation([verb, 'fraud'])).to.deep.equal({ verb, name: 'fraud', connection: {} });
    }
  });

  it('answers --help, -h and help for the plugin and for each verb', () => {
    expect(parseInvocation(['--help'])).to.deep.equal({ verb: 'help' });
    expect(parseInvocation(['help'])).to.deep.equal({ verb: 'help' });
    expect(parseInvocation(['help', 'undo'])).to.deep.equal({ verb: 'help', topic: 'undo' });
    for (const verb of Object.keys(Verbs)) expect(parseInvocation([verb, '-h'])).to.deep.equal({ verb: 'help', topic: verb });
  });

  it('refuses bad usage with exit status 2 and a message that names the problem', () => {
    const cases: [string[], RegExp][] = [
      [[], /a command is required/],
      [['rollback', 'fraud'], /unknown command "rollback" for "kubectl modelship"/],
      [['status'], /status needs the name of a ModelDeployment/],
      [['status', 'a', 'b'], /one ModelDeployment name, got also: b/],
      [['status', 'fraud', '--watch'], /unknown flag: --watch/],
      [['status', 'fraud', '--full'], /unknown flag for status: --full/],
      [['abort', 'fraud', '-o', 'json'], /unknown flag for abort: --output/],
      [['status', 'fraud', '-o', 'wide'], /output format "wide", allowed formats are: json,yaml/],
      [['status', 'fraud', '-n'], /flag needs an argument: -n/],
      [['promote', 'fraud', '--full=yes'], /flag takes no value: --full/],
      [['undo', 'fraud', '--to-revision', 'abc1234'], /--to-revision must be a revision number/],
      [['help', 'rollback'], /unknown command "rollback"/],
    ];
    for (const [argv, message] of cases) {
      const error = usageError(argv);
      expect(error.message, argv.join(' ')).to.match(message);
      expect(error.exitCode).to.equal(ExitCode.usage);
    }
    expect(usageError(['status', 'fraud', '--full']).verb, 'points at the verb help').to.equal('status');
  });
});
