import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level = process.env.MODELSHIP_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name: 'modelship-operator', level, base: { pid: process.pid } });
}
