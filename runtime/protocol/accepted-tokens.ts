import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';

export type TokenCheck = 'ok' | 'missing' | 'invalid';

export const TOKEN_MESSAGES: Record<Exclude<TokenCheck, 'ok'>, string> = {
  missing: 'missing bearer token: send "Authorization: Bearer <token>"',
  invalid: 'invalid bearer token',
};

/** The bearer tokens a runtime accepts right now; `required` false means every request passes. */
export interface AcceptedTokens {
  readonly required: boolean;
  check(authorization: string | undefined): TokenCheck;
  close(): void;
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/** The token of an `Authorization: Bearer <token>` value, if it is one. */
export function bearerTokenIn(authorization: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
}

/** Tokens in a token file: one per line, blank lines and `#` comments ignored. */
export function parseTokenFile(text: string): string[] {
  return text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
}

class TokenSet implements AcceptedTokens {
  private digests: Buffer[] = [];

  constructor(tokens: readonly string[], private readonly stop: () => void = () => {}) {
    this.replace(tokens);
  }

  get required(): boolean {
    return this.digests.length > 0;
  }

  replace(tokens: readonly string[]): void {
    this.digests = tokens.map(digest);
  }

  check(authorization: string | undefined): TokenCheck {
    if (this.digests.length === 0) return 'ok';
    const presented = bearerTokenIn(authorization);
    if (presented === undefined) return 'missing';
    // Fixed-length digests keep each comparison constant-time whatever the presented length;
    // every accepted token is compared, so timing does not tell which one matched.
    const candidate = digest(presented);
    let matched = false;
    for (const accepted of this.digests) matched = timingSafeEqual(candidate, accepted) || matched;
    return matched ? 'ok' : 'invalid';
  }

  close(): void {
    this.stop();
  }
}

/** One token for the process's life (MODELSHIP_AUTH_TOKEN), or none: every request passes. */
export function fixedToken(token: string | undefined): AcceptedTokens {
  return new TokenSet(token ? [token] : []);
}

/**
 * Tokens from a file re-read every `reloadMs` (MODELSHIP_AUTH_TOKEN_FILE). The kubelet swaps a
 * mounted Secret's files atomically, so a read sees the old or the new content, never half. At
 * start an unreadable or empty file is an error: a runtime told to require a token never serves
 * openly. Later, such a file keeps the last tokens and logs why.
 */
export async function tokensFromFile(path: string, reloadMs: number, logger: Logger): Promise<AcceptedTokens> {
  const read = async (): Promise<{ text: string; tokens: string[] }> => {
    const text = await readFile(path, 'utf8');
    const tokens = parseTokenFile(text);
    if (tokens.length === 0) throw new Error(`${path} holds no token`);
    return { text, tokens };
  };
  let loaded: { text: string; tokens: string[] };
  try {
    loaded = await read();
  } catch (error) {
    throw new Error(`cannot read the auth token file: ${(error as Error).message}`, { cause: error });
  }
  let lastProblem = '';
  let reloading = false;
  const reload = async (): Promise<void> => {
    if (reloading) return;
    reloading = true;
    try {
      const next = await read();
      lastProblem = '';
      if (next.text === loaded.text) return;
      loaded = next;
      tokens.replace(next.tokens);
      logger.info({ tokenFile: path, tokens: next.tokens.length }, 'auth tokens reloaded');
    } catch (error) {
      const problem = (error as Error).message;
      if (problem !== lastProblem) logger.warn({ tokenFile: path }, `keeping the previous auth tokens: ${problem}`);
      lastProblem = problem;
    } finally {
      reloading = false;
    }
  };
  const timer = setInterval(() => void reload(), reloadMs);
  timer.unref();
  const tokens = new TokenSet(loaded.tokens, () => clearInterval(timer));
  return tokens;
}
