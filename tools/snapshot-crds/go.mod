// Pins the upstream VolumeSnapshot CRDs (snapshot.storage.k8s.io/v1), which live in the
// external-snapshotter client module under config/crd. Nothing here is built.
module scribe.local/tools/snapshot-crds

go 1.25

require github.com/kubernetes-csi/external-snapshotter/client/v8 v8.6.0
