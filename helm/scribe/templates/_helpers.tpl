{{/* The release's full name: the release name, prefixed by the chart's unless it contains it. */}}
{{- define "scribe.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels every object of the chart carries. */}}
{{- define "scribe.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* What the Deployment's pods are selected by (the seed's control-plane label included). */}}
{{- define "scribe.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
control-plane: scribe-controller
{{- end -}}

{{/* The operator's ServiceAccount. */}}
{{- define "scribe.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "scribe.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The operator's image. */}}
{{- define "scribe.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* A mover's image: its own values, else moverImage (tag: else the operator's). Call with (list . "rsync"). */}}
{{- define "scribe.moverImage" -}}
{{- $root := index . 0 -}}
{{- $mover := index $root.Values (index . 1) -}}
{{- $repository := default $root.Values.moverImage.repository $mover.repository -}}
{{- $operatorTag := default $root.Chart.AppVersion $root.Values.image.tag -}}
{{- $tag := default (default $operatorTag $root.Values.moverImage.tag) $mover.tag -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end -}}

{{/* The Lease the replicas elect a leader with. */}}
{{- define "scribe.leaseName" -}}
{{- printf "%s-leader-election" (include "scribe.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The metrics Service, and so the `job` label Prometheus gives its targets. */}}
{{- define "scribe.metricsServiceName" -}}
{{- printf "%s-metrics" (include "scribe.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* An alert's runbook: its section of docs/metrics.md, whose heading is the alert's name. */}}
{{- define "scribe.runbook" -}}
{{- printf "%s#%s" (index . 0).Values.alerts.runbookBaseUrl (lower (index . 1)) -}}
{{- end -}}

{{/* Authentication and authorization of /metrics scrapes (decision 8): cluster-scoped reviews. */}}
{{- define "scribe.reviewRules" -}}
- apiGroups: ["authentication.k8s.io"]
  resources: ["tokenreviews"]
  verbs: ["create"]
- apiGroups: ["authorization.k8s.io"]
  resources: ["subjectaccessreviews"]
  verbs: ["create"]
{{- end -}}
