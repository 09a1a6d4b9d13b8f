import { writeFileSync } from 'node:fs';
import { ConfigError, loadConfig } from './config.ts';
import { RuntimeFailureReasons } from './contract.ts';
import { createLogger, flushLogs } from './logging.ts';
import { ModelSignatureError } from './model/signing/errors.ts';
import { startRuntime } from './server.ts';

/** Why the model cannot be served, as the container's termination message shows it. */
function failureReason(error: unknown): { reason: string; signatureFailure?: string } {
  return error instanceof ModelSignatureError ? { reason: RuntimeFailureReasons.signature, signatureFailure: error.failure } : { reason: RuntimeFailureReasons.load };
}

/** Best effort: the log line carries the same message. */
function writeTerminationMessage(path: string | undefined, message: string): void {
  if (!path) return;
  try {
    writeFileSync(path, message);
  } catch {
    // the log line carries the same message
  }
}

/** Container entry point: MODELSHIP_* env in, V2 server out. Exit 1: the model cannot be served; 2: bad config. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    const logger = createLogger('info');
    logger.fatal(error instanceof ConfigError ? error.message : String(error));
    flushLogs(logger);
    process.exit(2);
  }
  const baseLogger = createLogger(config.logLevel);
  const logger = baseLogger.child({ model: config.model.name, version: config.model.version });
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection'));

  let runtime;
  try {
    runtime = await startRuntime(config, { logger: baseLogger });
  } catch (error) {
    const message = `cannot serve model: ${error instanceof Error ? error.message : String(error)}`;
    const failure = failureReason(error);
    logger.fatal(failure, message);
    writeTerminationMessage(config.terminationMessagePath, `${failure.reason}: ${message}`);
    flushLogs(logger);
    process.exit(1);
  }

  const stop = (signal: string): void => {
    logger.info({ signal }, 'shutting down');
    runtime.close().then(
      () => {
        flushLogs(logger);
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        flushLogs(logger);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

await main();
