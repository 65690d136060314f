{{/* Names, labels and the shared pieces of the pod spec. */}}

{{- define "supportwatch.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name: at most 63 characters (a DNS-1123 label). */}}
{{- define "supportwatch.fullname" -}}
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

{{- define "supportwatch.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "supportwatch.selectorLabels" -}}
app.kubernetes.io/name: {{ include "supportwatch.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "supportwatch.labels" -}}
helm.sh/chart: {{ include "supportwatch.chart" . }}
{{ include "supportwatch.selectorLabels" . }}
app.kubernetes.io/version: {{ include "supportwatch.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/component: server
app.kubernetes.io/part-of: supportwatch
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "supportwatch.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "supportwatch.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "supportwatch.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag -}}
{{- end -}}

{{- define "supportwatch.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (include "supportwatch.imageTag" .) -}}
{{- end -}}
{{- end -}}

{{/* SQLite unless database.existingSecret names a Secret with a PostgreSQL URL. */}}
{{- define "supportwatch.sqlite" -}}
{{- if not .Values.database.existingSecret -}}true{{- end -}}
{{- end -}}

{{- define "supportwatch.dataDir" -}}/var/lib/supportwatch{{- end -}}
{{- define "supportwatch.configDir" -}}/etc/supportwatch{{- end -}}
{{- define "supportwatch.secretsDir" -}}/var/run/secrets/supportwatch{{- end -}}

{{/*
Render-time checks the schema cannot express. Each message names the value and the fix.
*/}}
{{- define "supportwatch.validate" -}}
{{- if and (include "supportwatch.sqlite" .) (gt (int .Values.replicaCount) 1) -}}
{{- fail (printf "replicaCount=%d needs PostgreSQL, but the database is SQLite (database.existingSecret is empty): each replica would keep its own SQLite file and run every job. Set database.existingSecret to the name of a Secret holding a postgresql+psycopg:// URL under the key database.existingSecretKey (%q), or set replicaCount=1." (int .Values.replicaCount) .Values.database.existingSecretKey) -}}
{{- end -}}
{{- if and .Values.persistence.existingClaim (not (include "supportwatch.sqlite" .)) -}}
{{- fail "persistence.existingClaim is for SQLite only, but database.existingSecret is set (PostgreSQL): PostgreSQL keeps the data. Remove persistence.existingClaim." -}}
{{- end -}}
{{- $pdb := .Values.podDisruptionBudget -}}
{{- if and $pdb.enabled (eq (toString $pdb.minAvailable) "") (eq (toString $pdb.maxUnavailable) "") -}}
{{- fail "podDisruptionBudget.enabled is true but podDisruptionBudget.minAvailable and podDisruptionBudget.maxUnavailable are both empty: set one of them (e.g. maxUnavailable=1)." -}}
{{- end -}}
{{- $names := list "slack" "smtp" -}}
{{- range .Values.secrets.extra -}}
{{- if has .name $names -}}
{{- fail (printf "secrets.extra: the name %q is used twice (slack and smtp are taken by secrets.slack and secrets.smtp); give each mount its own name" .name) -}}
{{- end -}}
{{- $names = append $names .name -}}
{{- end -}}
{{- end -}}

{{/* The environment of the migrate and main containers. */}}
{{- define "supportwatch.env" -}}
- name: SUPPORTWATCH_CONFIG
  value: {{ include "supportwatch.configDir" . }}/supportwatch.yaml
- name: SUPPORTWATCH_DATABASE_URL
{{- if include "supportwatch.sqlite" . }}
  value: sqlite:///{{ include "supportwatch.dataDir" . }}/supportwatch.db
{{- else }}
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.existingSecret | quote }}
      key: {{ .Values.database.existingSecretKey | quote }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The restricted Pod Security Standard, for every container (not configurable on purpose). */}}
{{- define "supportwatch.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "supportwatch.volumeMounts" -}}
- name: config
  mountPath: {{ include "supportwatch.configDir" . }}
  readOnly: true
- name: tmp
  mountPath: /tmp
- name: data
  mountPath: {{ include "supportwatch.dataDir" . }}
{{- if .Values.secrets.slack.existingSecret }}
- name: secret-slack
  mountPath: {{ include "supportwatch.secretsDir" . }}/slack
  readOnly: true
{{- end }}
{{- if .Values.secrets.smtp.existingSecret }}
- name: secret-smtp
  mountPath: {{ include "supportwatch.secretsDir" . }}/smtp
  readOnly: true
{{- end }}
{{- range .Values.secrets.extra }}
- name: secret-{{ .name }}
  mountPath: {{ include "supportwatch.secretsDir" $ }}/{{ .name }}
  readOnly: true
{{- end }}
{{- end -}}

{{- define "supportwatch.probe" -}}
initialDelaySeconds: {{ .initialDelaySeconds }}
periodSeconds: {{ .periodSeconds }}
timeoutSeconds: {{ .timeoutSeconds }}
failureThreshold: {{ .failureThreshold }}
{{- end -}}
