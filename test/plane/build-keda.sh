#!/usr/bin/env bash
# Builds KEDA's operator (keda-operator: ScaledObjects to HPAs, scaling to and from zero) and its
# metrics adapter (keda-adapter: the external.metrics.k8s.io aggregated API server), run outside the
# cluster against the test plane's kubeconfig, from KEDA's Go module into a cache keyed by version,
# like build.sh. KEDA's CRDs are in the same module zip (config/crd/bases) and are copied into the bin
# directory as keda-crds.yaml. Prints the bin directory on its last line. A second run with the same
# versions is a no-op.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
# shellcheck source=build-lib.sh
source "$here/build-lib.sh"

cache_root=${MODELSHIP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modelship}
key="keda-${KEDA_VERSION}"
bin="$cache_root/plane/$key/bin"
binaries=(keda-operator keda-adapter keda-crds.yaml)

start_cached_build keda-build

# KEDA's go.mod requires some 360 modules, most of them the cloud SDKs and clients of its 70-odd
# scalers, which all live in one package (pkg/scalers): built whole, they would be most of the
# download and the compile. The wrapper module builds KEDA from a local copy of the release's
# module with only the scalers the tests use: prometheus, cpu, memory and
# cron. What is cut (a trigger, an authentication or a destination that needs a cut part fails with
# "... left out of this build (test/plane/build-keda.sh)"):
# - pkg/scalers: every other scaler's file and its helper packages (aws, azure, gcp's Stackdriver
#   client, kafka, liiklus, openstack, splunk, sumologic, externalscaler); buildScaler's switch
#   keeps the four cases. Of the helper packages the prometheus scaler uses for pod identities,
#   gcp keeps its credentials code (golang.org/x/oauth2/google); aws (Amazon Managed Prometheus
#   SigV4 signing) and azure (Azure Managed Prometheus tokens) are one file each that refuses them,
#   azure's keeping the service-principal parameter names the resolver fills in;
# - pkg/scaling/resolver: the AWS Secrets Manager, Azure Key Vault and GCP Secret Manager secret
#   sources (HashiCorp Vault's, a small client, stays), replaced by one file that refuses them;
# - pkg/eventemitter: the Azure Event Grid destination of CloudEventSources (HTTP stays);
# - pkg/scalers/authentication: the fasthttp transport (predictkube's; the others use net/http);
# - pkg/util/ginkgo_reporter.go, a test helper that links the Ginkgo test framework.
# The webhooks command (cmd/webhooks) is not built. KEDA's non-local replace and exclude directives
# are copied into the wrapper (a replaced module's own are ignored).
build_keda() {
  local dir="$work/keda" info gomod kedadir src
  mkdir -p "$dir"
  log "resolving github.com/kedacore/keda/v2@$KEDA_VERSION"
  info=$(go mod download -json "github.com/kedacore/keda/v2@$KEDA_VERSION")
  gomod=$(sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p' <<<"$info")
  kedadir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$info")
  src="$dir/keda"
  rm -rf "$src"
  cp -r "$kedadir" "$src"
  chmod -R u+w "$src"

  # Scalers: keep scaler.go (the interfaces and shared helpers) and the four scalers.
  find "$src/pkg/scalers" -maxdepth 1 -name '*.go' \
    ! -name scaler.go ! -name cpu_memory_scaler.go ! -name cron_scaler.go ! -name prometheus_scaler.go -delete
  find "$src/pkg/scalers" -maxdepth 1 -name '*_test.go' -delete
  (cd "$src/pkg/scalers" && rm -rf aws azure kafka liiklus openstack splunk sumologic externalscaler \
    gcp/gcp_stackdriver_client.go gcp/*_test.go)
  awk -v build="test/plane/build-keda.sh" '
    /\/\/ TRIGGERS-START/ {inside=1; print; next}
    /\/\/ TRIGGERS-END/ {inside=0}
    inside && /^[[:space:]]*case "/ {keep = ($0 ~ /"(cpu|cron|memory|prometheus)"/)}
    inside && /^[[:space:]]*\/\// {next}
    inside && /^[[:space:]]*default:/ {keep=0; print
      print "\t\treturn nil, fmt.Errorf(\"scaler %s is left out of this build (" build ")\", triggerType)"; next}
    inside && !keep && !/^[[:space:]]*switch / && !/^[[:space:]]*}$/ {next}
    {print}' "$kedadir/pkg/scaling/scalers_builder.go" >"$src/pkg/scaling/scalers_builder.go"
  rm -f "$src/pkg/scaling/scalers_builder_test.go"
  # The prometheus scaler's metric type is a constant of azure_queue_scaler.go upstream.
  printf 'package scalers\n\nconst externalMetricType = "External"\n' >"$src/pkg/scalers/metric_type.go"
  mkdir -p "$src/pkg/scalers/aws" "$src/pkg/scalers/azure"
  cat >"$src/pkg/scalers/aws/aws_left_out.go" <<'GO'
// Package aws: KEDA's AWS authentication, left out of this build (test/plane/build-keda.sh).
package aws

import (
	"errors"
	"net/http"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"github.com/kedacore/keda/v2/pkg/scalers/scalersconfig"
)

// NewSigV4RoundTripper refuses AWS authentication (awsRegion or an aws pod identity) and is a
// no-op otherwise, as upstream is without AWS metadata.
func NewSigV4RoundTripper(config *scalersconfig.ScalerConfig, awsRegion string) (http.RoundTripper, error) {
	p := config.PodIdentity.Provider
	if awsRegion != "" || p == kedav1alpha1.PodIdentityProviderAws || p == kedav1alpha1.PodIdentityProviderAwsEKS {
		return nil, errors.New("AWS authentication (SigV4) is left out of this build (test/plane/build-keda.sh)")
	}
	return nil, nil
}
GO
  {
    echo "// Package azure: KEDA's Azure authentication, left out of this build (test/plane/build-keda.sh)."
    echo "package azure"
    echo
    echo "import ("
    echo "	\"errors\""
    echo "	\"net/http\""
    echo
    echo "	\"github.com/go-logr/logr\""
    echo
    echo "	kedav1alpha1 \"github.com/kedacore/keda/v2/apis/keda/v1alpha1\""
    echo ")"
    echo
    # The service-principal parameter names, as upstream.
    awk '/^const \($/ {p=1} p {print} p && /^\)$/ {exit}' "$kedadir/pkg/scalers/azure/azure_service_principal.go"
    cat <<'GO'

// TryAndGetAzureManagedPrometheusHTTPRoundTripper refuses an azure-workload pod identity and is a
// no-op otherwise, as upstream.
func TryAndGetAzureManagedPrometheusHTTPRoundTripper(_ logr.Logger, podIdentity kedav1alpha1.AuthPodIdentity, _ map[string]string) (http.RoundTripper, error) {
	if podIdentity.Provider == kedav1alpha1.PodIdentityProviderAzureWorkload {
		return nil, errors.New("Azure workload identity is left out of this build (test/plane/build-keda.sh)")
	}
	return nil, nil
}
GO
  } >"$src/pkg/scalers/azure/azure_left_out.go"

  # The fasthttp transport, used by the predictkube scaler only: it links predictkube-libs, fasthttp,
  # brotli, a validator and more.
  awk '/^\tcase FastHTTP:$/ {print
      print "\t\treturn nil, fmt.Errorf(\"the fasthttp transport is left out of this build (test/plane/build-keda.sh)\")"
      skip=1; next}
    skip && /^\t}$/ {skip=0}
    !skip && !/"github.com\/dysnix\/predictkube-libs\// && !/"github.com\/prometheus\/common\/config"/ {print}' \
    "$kedadir/pkg/scalers/authentication/authentication_helpers.go" >"$src/pkg/scalers/authentication/authentication_helpers.go"
  rm -f "$src/pkg/scalers/authentication/authentication_helpers_test.go"

  # Secret sources of TriggerAuthentications.
  (cd "$src/pkg/scaling/resolver" && rm -f aws_secretmanager_handler*.go azure_keyvault_handler*.go gcp_secretmanager_handler*.go)
  cat >"$src/pkg/scaling/resolver/cloud_secrets_left_out.go" <<'GO'
package resolver

// AWS Secrets Manager, Azure Key Vault and GCP Secret Manager are left out of this build
// (test/plane/build-keda.sh): each handler fails to initialize.

import (
	"context"
	"fmt"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
)

func leftOut(what string) error {
	return fmt.Errorf("%s is left out of this build (test/plane/build-keda.sh)", what)
}

type AwsSecretManagerHandler struct{}

func NewAwsSecretManagerHandler(*kedav1alpha1.AwsSecretManager) *AwsSecretManagerHandler {
	return &AwsSecretManagerHandler{}
}

func (*AwsSecretManagerHandler) Initialize(context.Context, client.Client, logr.Logger, string, corev1listers.SecretLister, *corev1.PodSpec) error {
	return leftOut("AWS Secrets Manager")
}

func (*AwsSecretManagerHandler) Read(context.Context, logr.Logger, string, string, string, string) (string, error) {
	return "", leftOut("AWS Secrets Manager")
}

func (*AwsSecretManagerHandler) Stop() {}

type AzureKeyVaultHandler struct{}

func NewAzureKeyVaultHandler(*kedav1alpha1.AzureKeyVault) *AzureKeyVaultHandler {
	return &AzureKeyVaultHandler{}
}

func (*AzureKeyVaultHandler) Initialize(context.Context, client.Client, logr.Logger, string, corev1listers.SecretLister) error {
	return leftOut("Azure Key Vault")
}

func (*AzureKeyVaultHandler) Read(context.Context, string, string) (string, error) {
	return "", leftOut("Azure Key Vault")
}

type GCPSecretManagerHandler struct{}

func NewGCPSecretManagerHandler(*kedav1alpha1.GCPSecretManager) *GCPSecretManagerHandler {
	return &GCPSecretManagerHandler{}
}

func (*GCPSecretManagerHandler) Initialize(context.Context, client.Client, logr.Logger, string, corev1listers.SecretLister) error {
	return leftOut("GCP Secret Manager")
}

func (*GCPSecretManagerHandler) Read(context.Context, string, string) (string, error) {
	return "", leftOut("GCP Secret Manager")
}
GO

  # CloudEventSource destinations.
  rm -f "$src/pkg/eventemitter/azure_event_grid_topic_handler.go" "$src/pkg/util/ginkgo_reporter.go"
  cat >"$src/pkg/eventemitter/azure_event_grid_left_out.go" <<'GO'
package eventemitter

import (
	"context"
	"errors"

	"github.com/go-logr/logr"

	eventingv1alpha1 "github.com/kedacore/keda/v2/apis/eventing/v1alpha1"
	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
)

// NewAzureEventGridTopicHandler: the Azure Event Grid destination is left out of this build
// (test/plane/build-keda.sh).
func NewAzureEventGridTopicHandler(context.Context, string, *eventingv1alpha1.AzureEventGridTopicSpec, map[string]string, kedav1alpha1.AuthPodIdentity, logr.Logger) (EventDataHandler, error) {
	return nil, errors.New("the Azure Event Grid destination is left out of this build (test/plane/build-keda.sh)")
}
GO

  {
    echo "module modelship.local/plane/keda"
    echo
    echo "go 1.26.0"
    echo
    echo "require github.com/kedacore/keda/v2 $KEDA_VERSION"
    echo
    echo "replace github.com/kedacore/keda/v2 => ./keda"
    echo
    # KEDA's module-to-module replaces, single-line or in a block; local paths left out.
    awk '/^replace \($/ {block=1; next} block && /^\)$/ {block=0; next}
      (block || $1=="replace") {sub(/^(replace)?[[:space:]]+/, "")
        if ($0 ~ /=>/ && $0 !~ /=>[[:space:]]*\./) print "replace " $0}' "$gomod"
    awk '$1=="exclude" && NF==3 {print}' "$gomod"
  } >"$dir/go.mod"
  cat >"$dir/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "github.com/kedacore/keda/v2/cmd/adapter"
	_ "github.com/kedacore/keda/v2/cmd/operator"
)
GO
  log "downloading KEDA's modules (first time: a few minutes)"
  (cd "$dir" && go mod tidy >/dev/null && go mod download)
  local ldflags="-s -w -X github.com/kedacore/keda/v2/version.Version=$KEDA_VERSION -X github.com/kedacore/keda/v2/version.GitCommit=$KEDA_VERSION"
  log "building keda-operator and keda-adapter $KEDA_VERSION (first time: a few minutes on 2 cores)"
  (cd "$dir" && go build -trimpath -ldflags "$ldflags" -o "$bin/keda-operator.tmp" github.com/kedacore/keda/v2/cmd/operator)
  mv "$bin/keda-operator.tmp" "$bin/keda-operator"
  (cd "$dir" && go build -trimpath -ldflags "$ldflags" -o "$bin/keda-adapter.tmp" github.com/kedacore/keda/v2/cmd/adapter)
  mv "$bin/keda-adapter.tmp" "$bin/keda-adapter"
}

# KEDA's CRDs (ScaledObject, ScaledJob, TriggerAuthentication, ClusterTriggerAuthentication and the
# eventing CloudEventSources), as one multi-document file.
write_keda_crds() {
  local kedadir f
  kedadir=$(cd "$work" && go mod download -json "github.com/kedacore/keda/v2@$KEDA_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  : >"$bin/keda-crds.yaml.tmp"
  for f in "$kedadir"/config/crd/bases/*.yaml; do
    { echo "---"; sed '1{/^---$/d}' "$f"; } >>"$bin/keda-crds.yaml.tmp"
  done
  mv "$bin/keda-crds.yaml.tmp" "$bin/keda-crds.yaml"
}

[ -x "$bin/keda-operator" ] && [ -x "$bin/keda-adapter" ] || build_keda
[ -f "$bin/keda-crds.yaml" ] || write_keda_crds
all_present || { log "build incomplete in $bin"; exit 1; }
log "done in $((SECONDS - start))s: $bin"
echo "$bin"
