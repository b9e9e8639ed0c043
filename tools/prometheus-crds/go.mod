// Pins the Prometheus Operator's CRDs (monitoring.coreos.com/v1: ServiceMonitor, PodMonitor,
// PrometheusRule, Prometheus, ...), which live in the prometheus-operator module under
// example/prometheus-operator-crd. Nothing here is built; the test control plane installs them
// so the chart's Capabilities checks and the guide's monitoring YAML meet the real CRDs.
module scribe.local/tools/prometheus-crds

go 1.25

require github.com/prometheus-operator/prometheus-operator v0.85.0
