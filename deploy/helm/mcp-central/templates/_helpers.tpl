{{- define "mcp-central.labels" -}}
app.kubernetes.io/name: mcp-central
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "mcp-central.redisUrl" -}}
{{- if .Values.redis.deploy -}}
redis://:${REDIS_PASSWORD}@{{ .Release.Name }}-redis:6379/0
{{- else -}}
{{- required "redis.url is required when redis.deploy is false" .Values.redis.url -}}
{{- end -}}
{{- end -}}

{{- define "mcp-central.config" -}}
{{- $config := deepCopy .Values.config -}}
{{- $options := $config.mcpProxy.options | default dict -}}
{{- $_ := set $options "sessionStore" (include "mcp-central.redisUrl" .) -}}
{{- $_ := set $config.mcpProxy "options" $options -}}
{{- toPrettyJson $config -}}
{{- end -}}
