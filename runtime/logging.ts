import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.ts';

export type { Logger };

/**
 * JSON logs on stdout, written asynchronously (a synchronous write per request line would stall the
 * event loop on a slow pipe); flushLogs() before exiting.
 */
export function createLogger(level: LogLevel): Logger {
  const destination = pino.destination({ dest: 1, sync: false, minLength: 0 });
  return pino({ level, base: {}, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}

export function flushLogs(logger: Logger): void {
  try {
    logger.flush();
  } catch {
    // Nothing sensible to do when stdout is gone.
  }
}
