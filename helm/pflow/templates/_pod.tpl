{{/*
The pieces of the API and worker pod specs: environment, definitions volume,
security, scheduling. "component" is the component's effective values
(`api`, or a pool merged over `workers`).
*/}}

{{/* Where the definitions are in the container: PFLOW_DEFINITIONS (empty: the image's default). */}}
{{- define "pflow.definitionsPath" -}}
{{- $d := .Values.definitions -}}
{{- $base := "" -}}
{{- if eq $d.source "image" -}}
{{- $base = $d.path -}}
{{- else if eq $d.source "gitSync" -}}
{{- $base = printf "%s/current" (trimSuffix "/" $d.mountPath) -}}
{{- else -}}
{{- $base = trimSuffix "/" $d.mountPath -}}
{{- end -}}
{{- if and $d.subPath (ne $d.source "image") -}}
{{- printf "%s/%s" $base (trimPrefix "/" $d.subPath) -}}
{{- else -}}
{{- $base -}}
{{- end -}}
{{- end -}}

{{- define "pflow.definitionsConfigMapName" -}}
{{- if eq .Values.definitions.source "existingConfigMap" -}}
{{- required "definitions.existingConfigMap is needed when definitions.source is existingConfigMap" .Values.definitions.existingConfigMap -}}
{{- else -}}
{{- include "pflow.componentName" (dict "root" . "suffix" "definitions") -}}
{{- end -}}
{{- end -}}

{{/* The environment of a pflow container. dict root, component ("api"|"worker"), values. */}}
{{- define "pflow.env" -}}
{{- $root := .root -}}
{{- $c := $root.Values.config -}}
- name: PFLOW_STORE_URL
  valueFrom:
    secretKeyRef:
      {{- include "pflow.secretRef" (dict "root" $root "setting" "storeUrl") | nindent 6 }}
- name: PFLOW_BROKER_URL
  valueFrom:
    secretKeyRef:
      {{- include "pflow.secretRef" (dict "root" $root "setting" "brokerUrl") | nindent 6 }}
{{- if eq .component "api" }}
- name: PFLOW_API_KEYS
  valueFrom:
    secretKeyRef:
      {{- include "pflow.secretRef" (dict "root" $root "setting" "apiKeys") | nindent 6 }}
{{- end }}
- name: PFLOW_BROKER_PREFIX
  value: {{ include "pflow.brokerPrefix" $root | quote }}
- name: PFLOW_BROKER_QUEUES
  value: {{ include "pflow.brokerQueues" $root | quote }}
{{- if eq .component "worker" }}
- name: PFLOW_WORKER_QUEUES
  value: {{ .values.name | quote }}
- name: PFLOW_WORKER_CONCURRENCY
  value: {{ .values.concurrency | int64 | quote }}
{{- end }}
{{- with include "pflow.definitionsPath" $root }}
- name: PFLOW_DEFINITIONS
  value: {{ . | quote }}
{{- end }}
- name: PFLOW_SHUTDOWN_GRACE_MS
  value: {{ $c.shutdownGraceMs | int64 | quote }}
- name: PFLOW_LOG_LEVEL
  value: {{ $c.logLevel | quote }}
{{- if and (eq .component "api") (not (kindIs "invalid" $c.rateLimit)) }}
- name: PFLOW_RATE_LIMIT
  value: {{ $c.rateLimit | int64 | quote }}
{{- end }}
{{- range $name, $key := dict "PFLOW_MAX_DELIVERIES" "maxDeliveries" "PFLOW_LEASE_MS" "leaseMs" "PFLOW_SWEEP_INTERVAL_MS" "sweepIntervalMs" "PFLOW_STRANDED_AFTER_MS" "strandedAfterMs" "PFLOW_CANARY_ANALYSIS_INTERVAL_MS" "canaryAnalysisIntervalMs" }}
{{- $value := get $c $key }}
{{- if not (kindIs "invalid" $value) }}
- name: {{ $name }}
  value: {{ $value | int64 | quote }}
{{- end }}
{{- end }}
{{- with $c.egress }}
{{- if .allowHosts }}
- name: PFLOW_EGRESS_ALLOW_HOSTS
  value: {{ join "," .allowHosts | quote }}
{{- end }}
{{- if .denyCidrs }}
- name: PFLOW_EGRESS_DENY_CIDRS
  value: {{ join "," .denyCidrs | quote }}
{{- end }}
{{- if .allowLoopback }}
- name: PFLOW_EGRESS_ALLOW_LOOPBACK
  value: "1"
{{- end }}
{{- end }}
{{- with $root.Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- with .values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The volumes of a pflow pod: /tmp, and the definitions unless they are in the image. */}}
{{- define "pflow.volumes" -}}
{{- $d := .Values.definitions -}}
- name: tmp
  emptyDir:
    {{- with .Values.tmpVolume.sizeLimit }}
    sizeLimit: {{ . }}
    {{- end }}
    {{- with .Values.tmpVolume.medium }}
    medium: {{ . }}
    {{- end }}
{{- if or (eq $d.source "configMap") (eq $d.source "existingConfigMap") }}
- name: definitions
  configMap:
    name: {{ include "pflow.definitionsConfigMapName" . }}
{{- else if eq $d.source "existingClaim" }}
- name: definitions
  persistentVolumeClaim:
    claimName: {{ required "definitions.existingClaim is needed when definitions.source is existingClaim" $d.existingClaim }}
    readOnly: true
{{- else if eq $d.source "gitSync" }}
- name: definitions
  emptyDir:
    sizeLimit: {{ $d.gitSync.sizeLimit }}
{{- with $d.gitSync.ssh.secretName }}
- name: git-ssh
  secret:
    secretName: {{ . }}
    defaultMode: 0400
{{- end }}
{{- end }}
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "pflow.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if ne .Values.definitions.source "image" }}
- name: definitions
  mountPath: {{ .Values.definitions.mountPath }}
  readOnly: true
{{- end }}
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
git-sync as an init container: each pod clones the pinned `ref` once, at
start, before pflow loads the definitions (pflow reads them only at start, so
a syncing sidecar would only make replicas disagree). Change `ref` to roll out
new definitions: the pod template changes, so the pods roll.
*/}}
{{- define "pflow.initContainers" -}}
{{- $d := .Values.definitions -}}
{{- if eq $d.source "gitSync" }}
{{- $g := $d.gitSync }}
- name: git-sync
  image: {{ printf "%s:%s" $g.image.repository $g.image.tag }}
  imagePullPolicy: {{ $g.image.pullPolicy }}
  args:
    - --repo={{ required "definitions.gitSync.repo is needed when definitions.source is gitSync" $g.repo }}
    - --ref={{ $g.ref }}
    - --root={{ $d.mountPath }}
    - --link=current
    - --depth={{ $g.depth | int64 }}
    - --one-time
    {{- if $g.ssh.secretName }}
    - --ssh-key-file=/etc/git-secret/{{ $g.ssh.keyKey }}
    {{- if $g.ssh.knownHostsKey }}
    - --ssh-known-hosts=true
    - --ssh-known-hosts-file=/etc/git-secret/{{ $g.ssh.knownHostsKey }}
    {{- else }}
    - --ssh-known-hosts=false
    {{- end }}
    {{- end }}
    {{- range $g.extraArgs }}
    - {{ . | quote }}
    {{- end }}
  env:
    - name: HOME
      value: /tmp
    {{- with $g.credentials.secretName }}
    - name: GITSYNC_USERNAME
      valueFrom:
        secretKeyRef:
          name: {{ . }}
          key: {{ $g.credentials.usernameKey }}
    - name: GITSYNC_PASSWORD
      valueFrom:
        secretKeyRef:
          name: {{ . }}
          key: {{ $g.credentials.passwordKey }}
    {{- end }}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  resources:
    {{- toYaml $g.resources | nindent 4 }}
  volumeMounts:
    - name: tmp
      mountPath: /tmp
    - name: definitions
      mountPath: {{ $d.mountPath }}
    {{- if $g.ssh.secretName }}
    - name: git-ssh
      mountPath: /etc/git-secret
      readOnly: true
    {{- end }}
{{- end }}
{{- end -}}

{{/*
Pod annotations: the shared and the component's, plus checksums of what the
pods read from objects of this chart, so they roll when it changes.
*/}}
{{- define "pflow.podAnnotations" -}}
{{- $root := .root -}}
{{- if eq $root.Values.definitions.source "configMap" }}
checksum/definitions: {{ include (print $root.Template.BasePath "/definitions-configmap.yaml") $root | sha256sum }}
{{- end }}
{{- if $root.Values.createSecret.enabled }}
checksum/secret: {{ include (print $root.Template.BasePath "/secret.yaml") $root | sha256sum }}
{{- end }}
{{- with $root.Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- with .values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The pod-level fields both tiers share. dict root, values, selectorLabels. */}}
{{- define "pflow.podCommon" -}}
{{- $root := .root -}}
serviceAccountName: {{ include "pflow.serviceAccountName" $root }}
automountServiceAccountToken: {{ $root.Values.serviceAccount.automountServiceAccountToken }}
# Kubernetes' service links would put variables such as PFLOW_PORT (from a
# Service named pflow) into the environment pflow reads its settings from.
enableServiceLinks: false
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if .values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml .values.topologySpreadConstraints | nindent 2 }}
{{- else if $root.Values.defaultTopologySpread }}
# Spread replicas over zones and nodes when the cluster can, never blocking scheduling.
topologySpreadConstraints:
  {{- range list "topology.kubernetes.io/zone" "kubernetes.io/hostname" }}
  - maxSkew: 1
    topologyKey: {{ . }}
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- $.selectorLabels | nindent 8 }}
    matchLabelKeys:
      - pod-template-hash
  {{- end }}
{{- end }}
{{- end -}}

{{/* HTTP probes on the container's named port. dict probes (liveness, readiness, startup), port. */}}
{{- define "pflow.probes" -}}
{{- range $kind, $path := dict "liveness" "/healthz" "readiness" "/readyz" "startup" "/healthz" }}
{{- $probe := get $.probes $kind }}
{{- if $probe.enabled }}
{{ $kind }}Probe:
  httpGet:
    path: {{ $path }}
    port: {{ $.port }}
  {{- toYaml (omit $probe "enabled") | nindent 2 }}
{{- end }}
{{- end }}
{{- end -}}
