import { REGISTRY_URI_PATTERN, REGISTRY_URI_PREFIX } from '../api/schema.ts';

/** A model in an MLflow registry, by version or by alias. */
export type RegistryReference = { name: string; version: string; alias?: undefined } | { name: string; alias: string; version?: undefined };

const pattern = new RegExp(REGISTRY_URI_PATTERN);

export function isRegistryUri(uri: string): boolean {
  return uri.startsWith(REGISTRY_URI_PREFIX);
}

/** models:/<name>/<version> or models:/<name>@<alias>; undefined for anything else (the CRD refuses it). */
export function parseRegistryUri(uri: string): RegistryReference | undefined {
  const match = pattern.exec(uri);
  if (!match) return undefined;
  const [, name = '', , version, alias] = match;
  if (version !== undefined) return { name, version };
  return alias === undefined ? undefined : { name, alias };
}
