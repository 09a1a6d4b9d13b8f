import type { RealNode } from '../plane/node.ts';

/** What real-node tests get besides the plane (test/integration/context.ts's plane()). */
export interface RealNodeContext {
  node: RealNode;
  /** The runtime image's name (Dockerfile.runtime, replayed, loaded into the node): the operator's default image name. */
  runtimeImageName: string;
}

let current: RealNodeContext | undefined;

export function setRealNode(context: RealNodeContext | undefined): void {
  current = context;
}

/** The running real node; throws outside the real-node suite's lifetime. */
export function realNode(): RealNodeContext {
  if (!current) throw new Error('the real node is not running (run via npm run test:node)');
  return current;
}
