{{- define "modelship.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "modelship.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "modelship.labels" -}}
{{ include "modelship.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "modelship.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "modelship.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- /* The Secrets a ModelDeployment puts into its pods, as CEL over the object named by the argument. */ -}}
{{- define "modelship.namedSecrets" -}}
(has(R.spec.runtime) && has(R.spec.runtime.env) ? R.spec.runtime.env.filter(e, has(e.valueFrom) && has(e.valueFrom.secretKeyRef)).map(e, e.valueFrom.secretKeyRef.name) : [])
+ (has(R.spec.security) && has(R.spec.security.authSecret) ? [R.spec.security.authSecret.name] : [])
+ (has(R.spec.security) && has(R.spec.security.tls) ? [R.spec.security.tls.secretName] : [])
+ (has(R.spec.model.mlflow) && has(R.spec.model.mlflow.tokenSecret) ? [R.spec.model.mlflow.tokenSecret.name] : [])
+ (has(R.spec.model.signature) ? [R.spec.model.signature.secret.name] : [])
+ (has(R.spec.model.s3) && has(R.spec.model.s3.credentialsSecret) ? [R.spec.model.s3.credentialsSecret] : [])
{{- end -}}
{{- define "modelship.runtimeImage" -}}
has(R.spec.runtime) && has(R.spec.runtime.image) ? R.spec.runtime.image : ''
{{- end -}}

{{- /*
V8's heap limit in MiB for the operator's container: Node sizes its heap by the node's memory, not
the container's, and would grow past resources.limits.memory into an OOM kill. The limit less 96Mi
for code, buffers and stacks (at least 64); nothing without a memory limit.
*/ -}}
{{- define "modelship.heapMegabytes" -}}
{{- $limit := toString ((.Values.resources.limits | default dict).memory | default "") -}}
{{- $mib := 0.0 -}}
{{- if hasSuffix "Gi" $limit -}}{{- $mib = mulf (trimSuffix "Gi" $limit | float64) 1024 -}}
{{- else if hasSuffix "Mi" $limit -}}{{- $mib = trimSuffix "Mi" $limit | float64 -}}
{{- else if hasSuffix "G" $limit -}}{{- $mib = divf (mulf (trimSuffix "G" $limit | float64) 1000000000) 1048576 -}}
{{- else if hasSuffix "M" $limit -}}{{- $mib = divf (mulf (trimSuffix "M" $limit | float64) 1000000) 1048576 -}}
{{- end -}}
{{- if gt $mib 0.0 -}}{{- max 64 (sub (floor $mib | int) 96) -}}{{- end -}}
{{- end -}}

{{- define "modelship.activatorName" -}}
{{- printf "%s-activator" (include "modelship.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "modelship.activatorSelectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}-activator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- /* MODELSHIP_ACTIVATOR_SERVICE: the chart's activator Service while it runs one, else nothing (no model scales to zero). */ -}}
{{- define "modelship.activatorService" -}}
{{- if .Values.activator.enabled -}}
{{- printf "%s/%s" .Release.Namespace (include "modelship.activatorName" .) -}}
{{- end -}}
{{- end -}}
