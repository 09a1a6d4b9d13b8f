import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({ name: 'modelship-operator', level, base: { pid: process.pid } });
}
