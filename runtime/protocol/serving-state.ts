import type { DynamicBatcher } from '../batching/dynamic-batcher.ts';
import type { ServedModel } from '../model/served-model.ts';

/** What the HTTP layer reads from the lifecycle: set once the model is loaded, cleared on shutdown. */
export interface ServingState {
  readonly modelName: string;
  readonly modelVersion: string;
  model: ServedModel | undefined;
  batcher: DynamicBatcher | undefined;
  ready: boolean;
  draining: boolean;
  inFlight: number;
}
