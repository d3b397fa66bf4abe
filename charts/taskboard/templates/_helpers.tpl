{{/*
Names, labels, the image, and the small values every template derives. Helpers that concern a
component take (dict "ctx" $ "component" "api"); the others take the root context.
*/}}

{{/* The chart's name (nameOverride wins). */}}
{{- define "taskboard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The prefix of every object's name: <release>-<chart>, or the release alone when it already
holds the chart's name. Kubernetes names of Services and labels stop at 63 characters.
*/}}
{{- define "taskboard.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "taskboard.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
<fullname>-<suffix> within 63 characters: the fullname is shortened, never the suffix, so two
components' names cannot collapse into one. (dict "ctx" $ "suffix" "api-metrics")
*/}}
{{- define "taskboard.suffixedName" -}}
{{- $room := sub 62 (len .suffix) | int -}}
{{- printf "%s-%s" (include "taskboard.fullname" .ctx | trunc $room | trimSuffix "-") .suffix -}}
{{- end -}}

{{/* A component's name: (dict "ctx" $ "component" "api") */}}
{{- define "taskboard.componentName" -}}
{{- include "taskboard.suffixedName" (dict "ctx" .ctx "suffix" .component) -}}
{{- end -}}

{{- define "taskboard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Labels of every object; with "component", that component's too. (dict "ctx" $ "component" "api")
or (dict "ctx" $)
*/}}
{{- define "taskboard.labels" -}}
{{- $ctx := .ctx -}}
helm.sh/chart: {{ include "taskboard.chart" $ctx }}
{{ include "taskboard.selectorLabels" . }}
app.kubernetes.io/version: {{ include "taskboard.imageTag" $ctx | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ $ctx.Release.Service }}
app.kubernetes.io/part-of: taskboard
{{- with $ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
Selector labels: only those that never change for the life of a release (a Deployment's
selector is immutable), so no version here.
*/}}
{{- define "taskboard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "taskboard.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end -}}

{{/* metadata.namespace and the common annotations, for objects without annotations of their own. */}}
{{- define "taskboard.commonAnnotations" -}}
{{- with .Values.commonAnnotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The tag the image runs: image.tag, else the chart's appVersion. */}}
{{- define "taskboard.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion | toString -}}
{{- end -}}

{{/* repository:tag, or repository:tag@digest when a digest pins it. */}}
{{- define "taskboard.image" -}}
{{- $image := printf "%s:%s" .Values.image.repository (include "taskboard.imageTag" .) -}}
{{- if .Values.image.digest -}}
{{- $image = printf "%s@%s" $image .Values.image.digest -}}
{{- end -}}
{{- $image -}}
{{- end -}}

{{/*
Annotations of a workload (Deployment, Job, test Pod): the common ones, and why checkov's image
checks do not apply, written where checkov reads them, only when they do not pass on their own
(no digest).
*/}}
{{- define "taskboard.workloadAnnotations" -}}
{{- $annotations := dict -}}
{{- if not .Values.image.digest -}}
{{- $_ := set $annotations "checkov.io/skip1" "CKV_K8S_43=the image is pinned by its immutable release tag (the chart's appVersion); set image.digest to pin it by digest" -}}
{{- if ne .Values.image.pullPolicy "Always" -}}
{{- $_ := set $annotations "checkov.io/skip2" "CKV_K8S_15=release tags are immutable, so IfNotPresent runs the tagged image and a node restarts pods without the registry" -}}
{{- end -}}
{{- end -}}
{{- with merge $annotations .Values.commonAnnotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "taskboard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "taskboard.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret the pods read: existingSecret, or the chart's own. */}}
{{- define "taskboard.secretName" -}}
{{- .Values.existingSecret | default (include "taskboard.fullname" .) -}}
{{- end -}}

{{/*
The Secret the pre-install/pre-upgrade migration hook reads: the chart's own Secret is created
only after the pre-install hooks ran, so the hook gets a hook-weighted copy of what it needs.
*/}}
{{- define "taskboard.migrationSecretName" -}}
{{- if .Values.existingSecret -}}
{{- .Values.existingSecret -}}
{{- else if eq .Values.migrations.mode "hook" -}}
{{- include "taskboard.suffixedName" (dict "ctx" . "suffix" "migrate") -}}
{{- else -}}
{{- include "taskboard.fullname" . -}}
{{- end -}}
{{- end -}}

{{- define "taskboard.configMapName" -}}
{{- include "taskboard.fullname" . -}}
{{- end -}}

{{/* Where the pods find their secret files (TASKBOARD_SECRETS_DIR). */}}
{{- define "taskboard.secretsDir" -}}
/run/secrets/taskboard
{{- end -}}

{{/* The api and realtime container port, and the metrics port, by their conventional names. */}}
{{- define "taskboard.httpPort" -}}8000{{- end -}}
{{- define "taskboard.metricsPort" -}}9100{{- end -}}

{{/*
TASKBOARD_PUBLIC_URL: config.publicUrl, else the Ingress's or the HTTPRoute's host, else the
application's default (left unset).
*/}}
{{- define "taskboard.publicUrl" -}}
{{- if .Values.config.publicUrl -}}
{{- .Values.config.publicUrl -}}
{{- else if .Values.ingress.enabled -}}
{{- printf "%s://%s" (ternary "https" "http" .Values.ingress.tls.enabled) .Values.ingress.hostname -}}
{{- else if and .Values.httpRoute.enabled .Values.httpRoute.hostnames -}}
{{- printf "https://%s" (first .Values.httpRoute.hostnames) -}}
{{- end -}}
{{- end -}}

{{/*
Whether an autoscaler owns a component's replicas (then spec.replicas is not rendered, or every
`helm upgrade` would reset what the autoscaler chose). (dict "ctx" $ "component" "worker")
*/}}
{{- define "taskboard.autoscaled" -}}
{{- $values := index .ctx.Values .component -}}
{{- if or $values.autoscaling.enabled (and (eq .component "worker") $values.keda.enabled) -}}
true
{{- end -}}
{{- end -}}

{{/* The fewest replicas a component runs: what decides whether a PodDisruptionBudget helps. */}}
{{- define "taskboard.minReplicas" -}}
{{- $values := index .ctx.Values .component -}}
{{- if and (eq .component "worker") $values.keda.enabled -}}
{{- $values.keda.minReplicaCount -}}
{{- else if $values.autoscaling.enabled -}}
{{- $values.autoscaling.minReplicas -}}
{{- else -}}
{{- $values.replicaCount -}}
{{- end -}}
{{- end -}}

{{/*
terminationGracePeriodSeconds, derived from the values the process itself is given so the two
cannot disagree: api and realtime pause (preStop), then drain; the worker lets its actors finish.
*/}}
{{- define "taskboard.terminationGrace" -}}
{{- $values := index .ctx.Values .component -}}
{{- if eq .component "worker" -}}
{{- add (ceil $values.shutdownTimeoutSeconds | int) $values.terminationGraceMarginSeconds -}}
{{- else -}}
{{- add $values.preStopSeconds $values.drainSeconds $values.terminationGraceMarginSeconds -}}
{{- end -}}
{{- end -}}

{{/*
The Redis address, database and TLS KEDA's scaler uses: the values, else what externalRedis.url
says. Returns YAML: {address, databaseIndex, enableTLS, password}.
*/}}
{{- define "taskboard.kedaRedis" -}}
{{- $keda := .Values.worker.keda.redis -}}
{{- $url := dict -}}
{{- if and .Values.externalRedis.url (not .Values.existingSecret) -}}
{{- $url = urlParse .Values.externalRedis.url -}}
{{- end -}}
{{- $address := $keda.address | default ($url.host | default "") -}}
{{- $db := 0 -}}
{{- if not (kindIs "invalid" $keda.databaseIndex) -}}
{{- $db = $keda.databaseIndex -}}
{{- else if (trimPrefix "/" ($url.path | default "")) -}}
{{- $db = trimPrefix "/" $url.path | atoi -}}
{{- end -}}
{{- $tls := eq ($url.scheme | default "") "rediss" -}}
{{- if not (kindIs "invalid" $keda.enableTLS) -}}
{{- $tls = $keda.enableTLS -}}
{{- end -}}
{{- $password := "" -}}
{{- with $url.userinfo -}}
{{- $password = regexReplaceAll "^[^:]*:" . "" -}}
{{- end -}}
address: {{ $address | quote }}
databaseIndex: {{ $db | int }}
enableTLS: {{ $tls }}
password: {{ $password | quote }}
{{- end -}}

{{/*
Every problem with the values, collected, then one failure listing them all (helm install
and helm template stop before anything reaches the cluster).
*/}}
{{- define "taskboard.validateValues" -}}
{{- $errors := list -}}
{{- $v := .Values -}}
{{- if not $v.existingSecret -}}
{{- if not $v.externalDatabase.url -}}
{{- $errors = append $errors "externalDatabase.url (TASKBOARD_DATABASE_URL) is required unless existingSecret names a Secret holding it" -}}
{{- else if not (regexMatch "^postgres(ql)?(\\+asyncpg)?://" $v.externalDatabase.url) -}}
{{- $errors = append $errors "externalDatabase.url must be a postgresql:// URL" -}}
{{- end -}}
{{- if not $v.externalRedis.url -}}
{{- $errors = append $errors "externalRedis.url (TASKBOARD_REDIS_URL) is required unless existingSecret names a Secret holding it" -}}
{{- else if not (regexMatch "^(rediss?|unix)://" $v.externalRedis.url) -}}
{{- $errors = append $errors "externalRedis.url must be a redis://, rediss:// or unix:// URL" -}}
{{- end -}}
{{- if lt (len $v.secretKey) 32 -}}
{{- $errors = append $errors "secretKey (TASKBOARD_SECRET_KEY) needs at least 32 characters (openssl rand -base64 48) unless existingSecret names a Secret holding it" -}}
{{- end -}}
{{- if and $v.secretKeyPrevious (lt (len $v.secretKeyPrevious) 32) -}}
{{- $errors = append $errors "secretKeyPrevious (TASKBOARD_SECRET_KEY_PREVIOUS) needs at least 32 characters" -}}
{{- end -}}
{{- end -}}
{{- if and (not $v.existingSecret) (ne (empty $v.storage.s3.accessKeyId) (empty $v.storage.s3.secretAccessKey)) -}}
{{- $errors = append $errors "storage.s3.accessKeyId and storage.s3.secretAccessKey go together: set both or neither" -}}
{{- end -}}
{{- if and $v.worker.autoscaling.enabled $v.worker.keda.enabled -}}
{{- $errors = append $errors "worker.autoscaling.enabled and worker.keda.enabled both scale the worker: a HorizontalPodAutoscaler and a KEDA ScaledObject would fight over its replicas; enable one" -}}
{{- end -}}
{{- range $component := list "api" "realtime" "worker" -}}
{{- $scaling := (index $v $component).autoscaling -}}
{{- if and $scaling.enabled (gt ($scaling.minReplicas | int) ($scaling.maxReplicas | int)) -}}
{{- $errors = append $errors (printf "%s.autoscaling.minReplicas exceeds %s.autoscaling.maxReplicas" $component $component) -}}
{{- end -}}
{{- end -}}
{{- if $v.worker.keda.enabled -}}
{{- if gt ($v.worker.keda.minReplicaCount | int) ($v.worker.keda.maxReplicaCount | int) -}}
{{- $errors = append $errors "worker.keda.minReplicaCount exceeds worker.keda.maxReplicaCount" -}}
{{- end -}}
{{- $redis := include "taskboard.kedaRedis" . | fromYaml -}}
{{- if not $redis.address -}}
{{- $errors = append $errors "worker.keda.redis.address (host:port) is required with existingSecret: KEDA cannot read the Redis URL out of it" -}}
{{- end -}}
{{- if and $v.worker.keda.redis.authenticate (not $v.existingSecret) (not $redis.password) -}}
{{- $errors = append $errors "worker.keda.redis.authenticate needs a password in externalRedis.url (redis://:password@host:6379/0)" -}}
{{- end -}}
{{- if not $v.worker.keda.queues -}}
{{- $errors = append $errors "worker.keda.queues must name at least one Dramatiq queue" -}}
{{- end -}}
{{- end -}}
{{- if and $v.realtime.autoscaling.connectionsPerPod.enabled (not $v.realtime.autoscaling.enabled) -}}
{{- $errors = append $errors "realtime.autoscaling.connectionsPerPod needs realtime.autoscaling.enabled" -}}
{{- end -}}
{{- $managed := list "TASKBOARD_DATABASE_URL" "TASKBOARD_REDIS_URL" "TASKBOARD_SECRET_KEY" "TASKBOARD_SECRET_KEY_PREVIOUS" "TASKBOARD_SMTP_URL" "TASKBOARD_STORAGE_S3_SECRET_ACCESS_KEY" -}}
{{- $chartSet := list "TASKBOARD_ENV" "TASKBOARD_LOG_LEVEL" "TASKBOARD_HOST" "TASKBOARD_PORT" "TASKBOARD_METRICS_PORT" "TASKBOARD_SECRETS_DIR" "TASKBOARD_PUBLIC_URL" "TASKBOARD_FORWARDED_ALLOW_IPS" "TASKBOARD_OTLP_ENDPOINT" "TASKBOARD_WS_ALLOWED_ORIGINS" "TASKBOARD_SMTP_FROM" "TASKBOARD_STORAGE_URL" "TASKBOARD_STORAGE_S3_ENDPOINT" "TASKBOARD_STORAGE_S3_REGION" "TASKBOARD_STORAGE_S3_ACCESS_KEY_ID" "TASKBOARD_STORAGE_S3_VIRTUAL_HOSTED_STYLE" "TASKBOARD_POD_NAME" "TASKBOARD_GRACEFUL_TIMEOUT_SECONDS" "TASKBOARD_WEB_CONCURRENCY" "TASKBOARD_WORKER_PROCESSES" "TASKBOARD_WORKER_THREADS" "TASKBOARD_WORKER_SHUTDOWN_TIMEOUT_SECONDS" -}}
{{- range $name, $_ := $v.config.extra -}}
{{- if has $name $managed -}}
{{- $errors = append $errors (printf "config.extra.%s is a secret: give it through the chart's Secret or existingSecret, never the ConfigMap" $name) -}}
{{- else if has $name $chartSet -}}
{{- $errors = append $errors (printf "config.extra.%s is set by the chart from its own value (see values.yaml): set that instead" $name) -}}
{{- end -}}
{{- end -}}
{{- if and $v.ingress.enabled (not $v.ingress.hostname) -}}
{{- $errors = append $errors "ingress.hostname is required with ingress.enabled" -}}
{{- end -}}
{{- if and $v.httpRoute.enabled (not $v.httpRoute.parentRefs) -}}
{{- $errors = append $errors "httpRoute.parentRefs must name the Gateway the route attaches to" -}}
{{- end -}}
{{- if $v.metrics.prometheusRule.enabled -}}
{{- $rules := .Files.Get "files/alerts/taskboard.rules.yaml" | fromYaml -}}
{{- if or (hasKey $rules "Error") (not $rules.groups) -}}
{{- $errors = append $errors "files/alerts/taskboard.rules.yaml is missing or is not a Prometheus rule file (groups: [...])" -}}
{{- end -}}
{{- end -}}
{{- if and $v.metrics.serviceMonitor.enabled (not $v.metrics.enabled) -}}
{{- $errors = append $errors "metrics.serviceMonitor.enabled needs metrics.enabled (the ServiceMonitors select the metrics Services)" -}}
{{- end -}}
{{- if $errors -}}
{{- fail (printf "\n\nVALUES VALIDATION:\n  - %s\n" (join "\n  - " $errors)) -}}
{{- end -}}
{{- end -}}

{{/* Marks the metrics Services, so a ServiceMonitor never selects a traffic Service. */}}
{{- define "taskboard.metricsServiceLabel" -}}
taskboard.io/metrics: "true"
{{- end -}}

{{/*
The plain (mode job) migration Job's name: <fullname>-migrate-<app version>-<hash of the image
and the chart>, within 63 characters (the Job controller puts it in a label). A new version, a
new image digest or a new chart version is a new Job; a `helm upgrade` that changes neither
keeps the one that ran.
*/}}
{{- define "taskboard.migrationJobName" -}}
{{- $version := include "taskboard.imageTag" . | lower | replace "." "-" | replace "+" "-" | replace "_" "-" | trunc 20 | trimSuffix "-" -}}
{{- $hash := printf "%s|%s" (include "taskboard.image" .) .Chart.Version | sha256sum | trunc 8 -}}
{{- include "taskboard.suffixedName" (dict "ctx" . "suffix" (printf "migrate-%s-%s" $version $hash)) -}}
{{- end -}}

{{/* The routing the Ingress and the HTTPRoute share: path prefix -> component. */}}
{{- define "taskboard.routes" -}}
- path: /ws
  component: realtime
- path: /api
  component: api
- path: /
  component: api
{{- end -}}

{{/* A NetworkPolicy egress rule from {to, ports}: an empty `to` is any address. */}}
{{- define "taskboard.egressRule" -}}
- ports:
    {{- range .ports }}
    - port: {{ . }}
      protocol: TCP
    {{- end }}
  {{- with .to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
