/** kubectl's stderr when the apiserver refuses the request (what the user reads). */
export function stderrOf(error: unknown): string {
  const stderr = (error as { stderr?: unknown }).stderr;
  return typeof stderr === 'string' ? stderr : String(error);
}
