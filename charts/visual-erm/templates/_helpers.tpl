{{/*
Names, labels and the pieces several templates share.
*/}}

{{- define "visual-erm.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "visual-erm.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "visual-erm.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "visual-erm.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "visual-erm.selectorLabels" -}}
app.kubernetes.io/name: {{ include "visual-erm.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Tag of the project images: images.tag, else the chart's appVersion. */}}
{{- define "visual-erm.imageTag" -}}
{{- default .Chart.AppVersion .Values.images.tag }}
{{- end }}

{{/* A project image by short name ("cpu", "train", "rm-server"), as components/images.py spells it. */}}
{{- define "visual-erm.image" -}}
{{- printf "%s/visual-erm-%s:%s" (trimSuffix "/" .root.Values.images.registry) .name (include "visual-erm.imageTag" .root) }}
{{- end }}

{{- define "visual-erm.rmServer.fullname" -}}
{{- printf "%s-rm-server" (include "visual-erm.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "visual-erm.rmServer.image" -}}
{{- if .Values.rmServer.image.repository }}
{{- printf "%s:%s" .Values.rmServer.image.repository (default (include "visual-erm.imageTag" .) .Values.rmServer.image.tag) }}
{{- else }}
{{- printf "%s/visual-erm-rm-server:%s" (trimSuffix "/" .Values.images.registry) (default (include "visual-erm.imageTag" .) .Values.rmServer.image.tag) }}
{{- end }}
{{- end }}

{{- define "visual-erm.rmServer.selectorLabels" -}}
{{ include "visual-erm.selectorLabels" . }}
app.kubernetes.io/component: rm-server
{{- end }}

{{/* Secret with the object-store keys: the existing one, or the chart's. */}}
{{- define "visual-erm.s3SecretName" -}}
{{- if .Values.objectStore.credentials.existingSecret }}
{{- .Values.objectStore.credentials.existingSecret }}
{{- else }}
{{- printf "%s-s3" (include "visual-erm.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "visual-erm.wandbSecretName" -}}
{{- if .Values.wandb.existingSecret }}
{{- .Values.wandb.existingSecret }}
{{- else }}
{{- printf "%s-wandb" (include "visual-erm.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "visual-erm.runnerServiceAccountName" -}}
{{- default (printf "%s-pipeline-runner" (include "visual-erm.fullname" .) | trunc 63 | trimSuffix "-") .Values.pipelineRunner.name }}
{{- end }}

{{/* The environment src/visual_erm/storage.py reads (endpoint, TLS, region, keys from the Secret). */}}
{{- define "visual-erm.s3Env" -}}
- name: VERM_S3_ENDPOINT
  value: {{ required "objectStore.endpoint is required" .Values.objectStore.endpoint | quote }}
- name: VERM_S3_SECURE
  value: {{ ternary "true" "false" .Values.objectStore.secure | quote }}
- name: AWS_REGION
  value: {{ .Values.objectStore.region | quote }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ include "visual-erm.s3SecretName" . }}
      key: {{ .Values.objectStore.credentials.accessKeyKey }}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "visual-erm.s3SecretName" . }}
      key: {{ .Values.objectStore.credentials.secretKeyKey }}
{{- end }}

{{/* Fail early on values that cannot work. */}}
{{- define "visual-erm.validate" -}}
{{- if and (not .Values.objectStore.credentials.existingSecret) (or (not .Values.objectStore.credentials.accessKey) (not .Values.objectStore.credentials.secretKey)) }}
{{- fail "objectStore.credentials: set existingSecret, or both accessKey and secretKey" }}
{{- end }}
{{- if and .Values.wandb.enabled (not .Values.wandb.existingSecret) (not .Values.wandb.apiKey) }}
{{- fail "wandb.enabled: set wandb.existingSecret or wandb.apiKey" }}
{{- end }}
{{- if and .Values.rmServer.enabled (not (hasPrefix "s3://" .Values.rmServer.model.uri)) }}
{{- fail "rmServer.model.uri must be an s3:// URI (the model directory published by the SFT stage)" }}
{{- end }}
{{- if and .Values.schedule.enabled (not .Values.schedule.cron) }}
{{- fail "schedule.cron is required when schedule.enabled" }}
{{- end }}
{{- end }}
