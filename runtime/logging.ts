import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.ts';

export type { Logger };

/**
 * JSON logs on stdout. Writes are buffered (the per-request line would otherwise be a syscall on the
 * hot path); flushLogs() before exiting.
 */
export function createLogger(level: LogLevel, bindings: Record<string, string>): Logger {
  const destination = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  return pino({ level, base: { ...bindings }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}

export function flushLogs(logger: Logger): void {
  try {
    logger.flush();
  } catch {
    // Nothing sensible to do when stdout is gone.
  }
}
