import { ApiError } from '../operator/kube/rest-client.ts';

/** Exit statuses scripts can rely on. */
export const ExitCode = { ok: 0, error: 1, usage: 2 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A failure the user can act on; its message is printed as kubectl prints errors. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode: ExitCode = ExitCode.error) {
    super(message);
    this.name = 'CliError';
  }
}

/** The command line itself is wrong; the verb, when known, points the user at its help. */
export class UsageError extends CliError {
  constructor(message: string, readonly verb?: string) {
    super(message, ExitCode.usage);
    this.name = 'UsageError';
  }
}

/** The text kubectl would print for this failure (the apiserver's own reason and message where it sent one). */
export function errorText(error: unknown): string {
  if (error instanceof ApiError) return `Error from server${error.reason ? ` (${error.reason})` : ''}: ${error.message}`;
  return `error: ${error instanceof Error ? error.message : String(error)}`;
}

export const exitCodeOf = (error: unknown): ExitCode => (error instanceof CliError ? error.exitCode : ExitCode.error);
