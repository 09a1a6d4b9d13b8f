import type { ModelDeployment } from '../api/types.ts';

/**
 * The fields through which a ModelDeployment hands its pods a Secret. The chart's admission policy
 * (charts/modelship/templates/_helpers.tpl, "modelship.namedSecrets") lists the same ones; a unit
 * test holds the two together.
 */
export const SECRET_NAMING_FIELDS = [
  'spec.runtime.env[].valueFrom.secretKeyRef.name',
  'spec.security.authSecret.name',
  'spec.security.tls.secretName',
  'spec.model.mlflow.tokenSecret.name',
  'spec.model.signature.secret.name',
  'spec.model.s3.credentialsSecret',
] as const;

/** The Secrets the pods of a ModelDeployment would receive, in SECRET_NAMING_FIELDS order. */
export function namedSecrets(md: ModelDeployment): string[] {
  const { model, runtime, security } = md.spec;
  return [
    ...(runtime?.env ?? []).flatMap((entry) => (entry.valueFrom?.secretKeyRef ? [entry.valueFrom.secretKeyRef.name] : [])),
    ...(security?.authSecret ? [security.authSecret.name] : []),
    ...(security?.tls ? [security.tls.secretName] : []),
    ...(model.mlflow?.tokenSecret ? [model.mlflow.tokenSecret.name] : []),
    ...(model.signature ? [model.signature.secret.name] : []),
    ...(model.s3?.credentialsSecret ? [model.s3.credentialsSecret] : []),
  ];
}

/**
 * What the pods would get that writing a ModelDeployment alone must not grant: the Secrets it names,
 * and a runtime image other than the operator's own. Empty when it asks for neither.
 */
export function authorGrants(md: ModelDeployment, defaultRuntimeImage: string): string[] {
  const image = md.spec.runtime?.image;
  return [
    ...namedSecrets(md).map((name) => `Secret ${name}`),
    ...(image !== undefined && image !== defaultRuntimeImage ? [`runtime image ${image}`] : []),
  ];
}
