{{/*
The pod of every taskboard Deployment, written once: api, realtime and worker differ only in
their command, their process settings, their pause before SIGTERM and their probes' timings.
(dict "ctx" $ "component" "api")
*/}}
{{- define "taskboard.podTemplate" -}}
{{- $ctx := .ctx -}}
{{- $component := .component -}}
{{- $values := index $ctx.Values $component -}}
metadata:
  labels:
    {{- include "taskboard.labels" (dict "ctx" $ctx "component" $component) | nindent 4 }}
    {{- with merge (dict) $values.podLabels $ctx.Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    {{- /* A changed setting or secret changes the pod template, which rolls the pods. */}}
    checksum/config: {{ include (print $ctx.Template.BasePath "/configmap.yaml") $ctx | sha256sum }}
    {{- if not $ctx.Values.existingSecret }}
    checksum/secret: {{ include (print $ctx.Template.BasePath "/secret.yaml") $ctx | sha256sum }}
    {{- end }}
    kubectl.kubernetes.io/default-container: {{ $component }}
    {{- with merge (dict) $values.podAnnotations $ctx.Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "taskboard.serviceAccountName" $ctx }}
  {{- /* taskboard never calls the Kubernetes API. */}}
  automountServiceAccountToken: false
  {{- /* Service links would put <SERVICE>_PORT=tcp://... variables in the environment: a
       Service named "taskboard" would set TASKBOARD_PORT to something not a port. */}}
  enableServiceLinks: false
  {{- include "taskboard.imagePullSecrets" $ctx | nindent 2 }}
  securityContext:
    {{- toYaml $ctx.Values.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: {{ include "taskboard.terminationGrace" . }}
  {{- with $values.priorityClassName | default $ctx.Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- with $values.nodeSelector | default $ctx.Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $values.tolerations | default $ctx.Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $values.affinity | default $ctx.Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if $values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml $values.topologySpreadConstraints | nindent 4 }}
  {{- else if $ctx.Values.topologySpread.enabled }}
  topologySpreadConstraints:
    {{- range $key, $when := dict "kubernetes.io/hostname" $ctx.Values.topologySpread.nodeWhenUnsatisfiable "topology.kubernetes.io/zone" $ctx.Values.topologySpread.zoneWhenUnsatisfiable }}
    - maxSkew: {{ $ctx.Values.topologySpread.maxSkew }}
      topologyKey: {{ $key }}
      whenUnsatisfiable: {{ $when }}
      labelSelector:
        matchLabels:
          {{- include "taskboard.selectorLabels" (dict "ctx" $ctx "component" $component) | nindent 10 }}
      {{- /* Spread each rollout's pods on their own, not counting the old ReplicaSet's. */}}
      matchLabelKeys:
        - pod-template-hash
    {{- end }}
  {{- end }}
  initContainers:
    {{- include "taskboard.waitForSchemaContainer" $ctx | nindent 4 }}
  containers:
    - name: {{ $component }}
      image: {{ include "taskboard.image" $ctx }}
      imagePullPolicy: {{ $ctx.Values.image.pullPolicy }}
      command:
        - taskboard
      args:
        - {{ $component }}
      ports:
        - name: http
          containerPort: {{ include "taskboard.httpPort" $ctx }}
          protocol: TCP
        - name: metrics
          containerPort: {{ include "taskboard.metricsPort" $ctx }}
          protocol: TCP
      envFrom:
        - configMapRef:
            name: {{ include "taskboard.configMapName" $ctx }}
      env:
        {{- /* Realtime pods name their Redis consumer groups after it. */}}
        - name: TASKBOARD_POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        {{- if ne $component "worker" }}
        {{- /* The drain after SIGTERM, which the termination grace is computed to outlast. */}}
        - name: TASKBOARD_GRACEFUL_TIMEOUT_SECONDS
          value: {{ $values.drainSeconds | quote }}
        {{- end }}
        {{- if eq $component "api" }}
        - name: TASKBOARD_WEB_CONCURRENCY
          value: {{ $values.webConcurrency | quote }}
        {{- end }}
        {{- if eq $component "worker" }}
        {{- /* Only probes talk HTTP to a worker: their connections close at once, and the
             grace (shutdown timeout + margin >= 10 s) keeps this bound below it. */}}
        - name: TASKBOARD_GRACEFUL_TIMEOUT_SECONDS
          value: "5"
        - name: TASKBOARD_WORKER_PROCESSES
          value: {{ $values.processes | quote }}
        - name: TASKBOARD_WORKER_THREADS
          value: {{ $values.threads | quote }}
        - name: TASKBOARD_WORKER_SHUTDOWN_TIMEOUT_SECONDS
          value: {{ $values.shutdownTimeoutSeconds | quote }}
        {{- end }}
        {{- if include "taskboard.multiprocess" . }}
        {{- /* Several processes: each writes its metrics here and the master's /metrics
             merges them (the api's master serves /metrics even with one uvicorn process). */}}
        - name: PROMETHEUS_MULTIPROC_DIR
          value: /run/prometheus
        {{- end }}
        {{- with concat $ctx.Values.extraEnv $values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- if $values.startupProbe.enabled }}
      startupProbe:
        httpGet:
          path: /healthz
          port: http
        {{- include "taskboard.probeTimings" $values.startupProbe | nindent 8 }}
      {{- end }}
      {{- if $values.livenessProbe.enabled }}
      livenessProbe:
        httpGet:
          path: /healthz
          port: http
        {{- include "taskboard.probeTimings" $values.livenessProbe | nindent 8 }}
      {{- end }}
      {{- if $values.readinessProbe.enabled }}
      readinessProbe:
        httpGet:
          path: /readyz
          port: http
        {{- include "taskboard.probeTimings" $values.readinessProbe | nindent 8 }}
      {{- end }}
      {{- if ne $component "worker" }}
      lifecycle:
        {{- /* The pod leaves the Service's endpoints while it pauses here, so the ingress
             stops sending it requests and sockets before SIGTERM starts the drain. An exec
             of the image's Python: preStop.sleep is GA only from Kubernetes 1.30, and the
             image promises no shell. */}}
        preStop:
          exec:
            command:
              - python
              - -c
              - import time; time.sleep({{ $values.preStopSeconds }})
      {{- end }}
      resources:
        {{- toYaml $values.resources | nindent 8 }}
      securityContext:
        {{- toYaml $ctx.Values.containerSecurityContext | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- if include "taskboard.multiprocess" . }}
        - name: prometheus
          mountPath: /run/prometheus
        {{- end }}
        - name: secrets
          mountPath: {{ include "taskboard.secretsDir" $ctx }}
          readOnly: true
  volumes:
    {{- /* The root filesystem is read-only: uploads and thumbnails spool in /tmp. */}}
    - name: tmp
      emptyDir:
        sizeLimit: {{ $ctx.Values.tmpSizeLimit }}
    {{- if include "taskboard.multiprocess" . }}
    - name: prometheus
      emptyDir:
        sizeLimit: 256Mi
    {{- end }}
    {{- include "taskboard.secretsVolume" (dict "ctx" $ctx "secretName" (include "taskboard.secretName" $ctx) "all" true) | nindent 4 }}
{{- end -}}

{{/* Whether a component's pod runs several processes sharing one /metrics. */}}
{{- define "taskboard.multiprocess" -}}
{{- $values := index .ctx.Values .component -}}
{{- if or (eq .component "api") (and (eq .component "worker") (gt ($values.processes | int) 1)) -}}
true
{{- end -}}
{{- end -}}

{{- define "taskboard.probeTimings" -}}
periodSeconds: {{ .periodSeconds }}
timeoutSeconds: {{ .timeoutSeconds }}
failureThreshold: {{ .failureThreshold }}
{{- end -}}

{{- define "taskboard.imagePullSecrets" -}}
{{- with .Values.image.pullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- end -}}

{{/*
The key under which a Secret holds a setting: the chart's own Secret uses the variable's name;
existingSecret, the name existingSecretKeys gives. (dict "ctx" $ "key" "databaseUrl")
*/}}
{{- define "taskboard.secretKeyName" -}}
{{- if .ctx.Values.existingSecret -}}
{{- index .ctx.Values.existingSecretKeys .key -}}
{{- else -}}
{{- index (include "taskboard.secretFiles" .ctx | fromYaml) .key -}}
{{- end -}}
{{- end -}}

{{/* Each secret setting and the file taskboard reads it from (named like its variable). */}}
{{- define "taskboard.secretFiles" -}}
databaseUrl: TASKBOARD_DATABASE_URL
redisUrl: TASKBOARD_REDIS_URL
secretKey: TASKBOARD_SECRET_KEY
secretKeyPrevious: TASKBOARD_SECRET_KEY_PREVIOUS
smtpUrl: TASKBOARD_SMTP_URL
storageS3SecretAccessKey: TASKBOARD_STORAGE_S3_SECRET_ACCESS_KEY
{{- end -}}

{{/*
The secrets as files in TASKBOARD_SECRETS_DIR, one per setting. The required ones must exist
(the pod waits for them); the optional ones are mounted when the Secret holds them. "all"
false: only the database URL, all that `taskboard migrate` reads.
(dict "ctx" $ "secretName" "x" "all" true)
*/}}
{{- define "taskboard.secretsVolume" -}}
{{- $ctx := .ctx -}}
{{- $files := include "taskboard.secretFiles" $ctx | fromYaml -}}
{{- $required := ternary (list "databaseUrl" "redisUrl" "secretKey") (list "databaseUrl") .all -}}
{{- $optional := ternary (list "secretKeyPrevious" "smtpUrl" "storageS3SecretAccessKey") (list) .all -}}
- name: secrets
  projected:
    {{- /* 0440: the owner and the pod's fsGroup read them, nobody writes them. */}}
    defaultMode: 288
    sources:
      - secret:
          name: {{ .secretName }}
          items:
            {{- range $required }}
            - key: {{ include "taskboard.secretKeyName" (dict "ctx" $ctx "key" .) }}
              path: {{ index $files . }}
            {{- end }}
      {{- if $optional }}
      - secret:
          name: {{ .secretName }}
          optional: true
          items:
            {{- range $optional }}
            - key: {{ include "taskboard.secretKeyName" (dict "ctx" $ctx "key" .) }}
              path: {{ index $files . }}
            {{- end }}
      {{- end }}
{{- end -}}

{{/*
The init container of every Deployment: it holds the pod until the database schema is at (or
past) the head of this image's migrations, so a pod never serves an older schema than its code
expects, whoever runs the migration and whenever it finishes.
*/}}
{{- define "taskboard.waitForSchemaContainer" -}}
- name: wait-for-schema
  image: {{ include "taskboard.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  command:
    - taskboard
  args:
    - migrate
    - --wait
    - --timeout
    - {{ .Values.migrations.waitForSchema.timeoutSeconds | quote }}
  env:
    - name: TASKBOARD_SECRETS_DIR
      value: {{ include "taskboard.secretsDir" . }}
  resources:
    {{- toYaml .Values.migrations.waitForSchema.resources | nindent 4 }}
  securityContext:
    {{- toYaml .Values.containerSecurityContext | nindent 4 }}
  volumeMounts:
    - name: tmp
      mountPath: /tmp
    - name: secrets
      mountPath: {{ include "taskboard.secretsDir" . }}
      readOnly: true
{{- end -}}
