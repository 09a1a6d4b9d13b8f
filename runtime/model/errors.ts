/** The model cannot be served: a bad file, no usable provider, a failed warm-up. */
export class ModelLoadError extends Error {}
