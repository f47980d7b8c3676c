{{/*
Names, labels and the values every pod shares. The pod spec pieces (env,
volumes, security) are in _pod.tpl; the worker pools' values in _pools.tpl.
*/}}

{{- define "pflow.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The release's base name, 63 characters at most (a DNS label). A release named
like the chart ("pflow") is not repeated: "pflow", not "pflow-pflow".
*/}}
{{- define "pflow.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
A name made from the base name and a suffix. Refused, rather than truncated,
past 63 characters: two truncated names could collide (two pools' Deployments
selecting each other's pods).
*/}}
{{- define "pflow.componentName" -}}
{{- $name := printf "%s-%s" (include "pflow.fullname" .root) .suffix -}}
{{- if gt (len $name) 63 -}}
{{- fail (printf "the name %q is longer than 63 characters: shorten the release name, fullnameOverride or the pool name" $name) -}}
{{- end -}}
{{- $name -}}
{{- end -}}

{{- define "pflow.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The labels of every object. */}}
{{- define "pflow.labels" -}}
helm.sh/chart: {{ include "pflow.chart" . }}
app.kubernetes.io/name: {{ include "pflow.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ include "pflow.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: pflow
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The labels that select the release's pods (never changed by an upgrade). */}}
{{- define "pflow.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pflow.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of the API tier's objects; root context. */}}
{{- define "pflow.api.labels" -}}
{{ include "pflow.labels" . }}
app.kubernetes.io/component: api
{{- end -}}

{{- define "pflow.api.selectorLabels" -}}
{{ include "pflow.selectorLabels" . }}
app.kubernetes.io/component: api
{{- end -}}

{{/* Labels of a worker pool's objects; dict root, pool. */}}
{{- define "pflow.worker.labels" -}}
{{ include "pflow.labels" .root }}
app.kubernetes.io/component: worker
pflow/pool: {{ .pool.name }}
{{- end -}}

{{- define "pflow.worker.selectorLabels" -}}
{{ include "pflow.selectorLabels" .root }}
app.kubernetes.io/component: worker
pflow/pool: {{ .pool.name }}
{{- end -}}

{{/* Every worker pod of the release, whatever its pool (the metrics Service). */}}
{{- define "pflow.workers.selectorLabels" -}}
{{ include "pflow.selectorLabels" . }}
app.kubernetes.io/component: worker
{{- end -}}

{{- define "pflow.api.name" -}}
{{- include "pflow.componentName" (dict "root" . "suffix" "api") -}}
{{- end -}}

{{- define "pflow.worker.name" -}}
{{- include "pflow.componentName" (dict "root" .root "suffix" (printf "worker-%s" .pool.name)) -}}
{{- end -}}

{{- define "pflow.workers.serviceName" -}}
{{- include "pflow.componentName" (dict "root" . "suffix" "worker-metrics") -}}
{{- end -}}

{{- define "pflow.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "pflow.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "pflow.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag -}}
{{- end -}}

{{/* repository:tag, or repository@digest when a digest is given (pinned). */}}
{{- define "pflow.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (include "pflow.imageTag" .) -}}
{{- end -}}
{{- end -}}

{{/*
The Secret and key of one secret setting (storeUrl, brokerUrl, apiKeys): its
own `name` if set, else secrets.name, else the release's name (the Secret the
chart makes when createSecret.enabled, or one you create under that name).
*/}}
{{- define "pflow.secretRef" -}}
{{- $ref := index .root.Values.secrets .setting -}}
name: {{ default (default (include "pflow.fullname" .root) .root.Values.secrets.name) $ref.name }}
key: {{ $ref.key }}
{{- end -}}

{{/* The queue-name prefix: PFLOW_BROKER_PREFIX. */}}
{{- define "pflow.brokerPrefix" -}}
{{- default "pflow" .Values.config.brokerPrefix -}}
{{- end -}}

{{/*
PFLOW_BROKER_QUEUES, the same in every pod: `pool=route,route;…` from the pools
in their order (first match wins; a route matching none goes to the last pool),
or config.brokerQueues verbatim when set (pools run by another release). Every
pool this release runs must be in it.
*/}}
{{- define "pflow.brokerQueues" -}}
{{- if .Values.config.brokerQueues -}}
{{- $declared := list -}}
{{- range splitList ";" .Values.config.brokerQueues -}}
{{- $declared = append $declared (trim (first (splitList "=" .))) -}}
{{- end -}}
{{- range .Values.workers.pools -}}
{{- if not (has .name $declared) -}}
{{- fail (printf "config.brokerQueues (%q) has no pool %q, which workers.pools runs: its workers would consume a queue nothing publishes to" $.Values.config.brokerQueues .name) -}}
{{- end -}}
{{- end -}}
{{- .Values.config.brokerQueues -}}
{{- else -}}
{{- $entries := list -}}
{{- range .Values.workers.pools -}}
{{- $entries = append $entries (printf "%s=%s" .name (join "," (default (list "*") .routes))) -}}
{{- end -}}
{{- join ";" $entries -}}
{{- end -}}
{{- end -}}

{{/*
terminationGracePeriodSeconds: longer than PFLOW_SHUTDOWN_GRACE_MS (plus the
preStop pause), so work in hand is released to other workers on SIGTERM
rather than cut by a SIGKILL. dict root, explicit (the component's value or
null), preStop (seconds).
*/}}
{{- define "pflow.terminationGracePeriod" -}}
{{- $graceSeconds := div (add (int64 .root.Values.config.shutdownGraceMs) 999) 1000 -}}
{{- $needed := add $graceSeconds (int64 .preStop) -}}
{{- if kindIs "invalid" .explicit -}}
{{- add $needed 10 -}}
{{- else if le (int64 .explicit) $needed -}}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be longer than config.shutdownGraceMs (%d ms) plus the preStop pause (%d s): pods would be killed before releasing their work" (int64 .explicit) (int64 .root.Values.config.shutdownGraceMs) (int64 .preStop)) -}}
{{- else -}}
{{- int64 .explicit -}}
{{- end -}}
{{- end -}}

{{/*
Deep merge that lets explicit false, 0 and "" win: Sprig's merge/mergeOverwrite
ignore such values, so a pool's `autoscaling.enabled: false` would not
override a default `true`. Maps are merged key by key; lists and scalars are
replaced. Mutates .dst (dicts are references); returns nothing.
*/}}
{{- define "pflow.mergeInto" -}}
{{- $dst := .dst -}}
{{- range $key, $value := .src -}}
{{- if and (kindIs "map" $value) (kindIs "map" (get $dst $key)) -}}
{{- include "pflow.mergeInto" (dict "dst" (get $dst $key) "src" $value) -}}
{{- else -}}
{{- $_ := set $dst $key $value -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
A worker pool's effective values: the workers' defaults (every key of
`workers` but `pools`) with the pool's own values over them, as YAML
(callers: fromYaml). dict root, pool.
*/}}
{{- define "pflow.pool" -}}
{{- $effective := deepCopy (omit .root.Values.workers "pools") -}}
{{- include "pflow.mergeInto" (dict "dst" $effective "src" (deepCopy .pool)) -}}
{{- if not $effective.routes -}}
{{- $_ := set $effective "routes" (list "*") -}}
{{- end -}}
{{- toYaml $effective -}}
{{- end -}}

{{/* Refuses pool lists the engine would refuse or misroute. */}}
{{- define "pflow.checkPools" -}}
{{- if not .Values.workers.pools -}}
{{- fail "workers.pools is empty: at least one worker pool is needed (e.g. [{name: default, routes: ['*']}])" -}}
{{- end -}}
{{- $seen := list -}}
{{- range .Values.workers.pools -}}
{{- if has .name $seen -}}
{{- fail (printf "workers.pools: the pool %q is listed twice" .name) -}}
{{- end -}}
{{- $seen = append $seen .name -}}
{{- end -}}
{{- end -}}
