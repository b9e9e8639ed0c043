/**
 * Schema parts shared by ReplicationSource and ReplicationDestination: triggers, the volume
 * options of every mover, conditions, and the status facts the state machines persist.
 */
import { Type, type Static } from '@sinclair/typebox';
import { cel, ObjectName, Quantity, StringEnum, StringMap, Timestamp } from './schema-helpers.js';

export const API_GROUP = 'scribe.backube';
export const API_VERSION = 'v1alpha1';

/** Longest manual trigger value: it is copied into status.lastManualSync and shown in tables. */
export const MANUAL_TRIGGER_MAX_LENGTH = 256;

/**
 * A 5-field cron expression or an @-descriptor (design.md, decision 5). Surrounding spaces are
 * allowed; the machine trims them. Semantic checks (minute 61, ...) happen in machines/.
 */
export const SCHEDULE_PATTERN =
  '^\\s*(@(hourly|daily|weekly|monthly|yearly|annually|midnight)|[0-9A-Za-z*/,?#LW-]+(\\s+[0-9A-Za-z*/,?#LW-]+){4})\\s*$';

export const Trigger = Type.Object(
  {
    schedule: Type.Optional(
      Type.String({
        maxLength: 256,
        description:
          'A 5-field cron expression (minute hour day-of-month month day-of-week) or @hourly, @daily, @weekly, @monthly, @yearly.',
        ...cel({
          rule: `self.matches('${SCHEDULE_PATTERN.replaceAll('\\', '\\\\')}')`,
          message:
            'must be a 5-field cron expression (minute hour day-of-month month day-of-week) or one of @hourly, @daily, @weekly, @monthly, @yearly; 6-field expressions with seconds are not supported',
        }),
      }),
    ),
    manual: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: MANUAL_TRIGGER_MAX_LENGTH,
        description: 'Any value different from status.lastManualSync starts one synchronization.',
      }),
    ),
  },
  {
    description: 'When to synchronize. Absent or {} means continuously; manual wins over schedule.',
  },
);
export type Trigger = Static<typeof Trigger>;

export const ACCESS_MODES = ['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod'] as const;
export const AccessModes = Type.Array(StringEnum(ACCESS_MODES), { minItems: 1, maxItems: 4 });

export const SOURCE_COPY_METHODS = ['None', 'Clone', 'Snapshot'] as const;
export const DESTINATION_COPY_METHODS = ['None', 'Snapshot'] as const;
export type SourceCopyMethod = (typeof SOURCE_COPY_METHODS)[number];
export type DestinationCopyMethod = (typeof DESTINATION_COPY_METHODS)[number];

/** Volume options of a source mover: how the point-in-time copy is made. */
export const SourceVolumeOptions = {
  copyMethod: StringEnum(SOURCE_COPY_METHODS, {
    description: 'How the point-in-time copy is made: None (use the live PVC), Clone, or Snapshot.',
  }),
  capacity: Type.Optional(Quantity({ description: 'Size of the point-in-time copy; defaults to the source PVC.' })),
  storageClassName: Type.Optional(ObjectName()),
  accessModes: Type.Optional(AccessModes),
  volumeSnapshotClassName: Type.Optional(ObjectName()),
};

/** Volume options of a destination mover: where the data lands and how it is preserved. */
export const DestinationVolumeOptions = {
  copyMethod: StringEnum(DESTINATION_COPY_METHODS, {
    description: 'How the result is preserved after each sync: None (the PVC itself) or Snapshot.',
  }),
  capacity: Type.Optional(Quantity({ description: 'Size of the destination PVC Scribe provisions.' })),
  storageClassName: Type.Optional(ObjectName()),
  accessModes: Type.Optional(AccessModes),
  volumeSnapshotClassName: Type.Optional(ObjectName()),
  destinationPVC: Type.Optional(ObjectName({ description: 'A pre-existing PVC to write into.' })),
  imagesToKeep: Type.Optional(
    Type.Integer({
      minimum: 1,
      description:
        'copyMethod Snapshot: how many images (VolumeSnapshots, listed in status.images) to keep; default 1. Older ones are deleted oldest first after a sync, except one a PVC still restores from (until it is bound) or one labelled scribe.backube/do-not-delete (released instead). Above 1 only with copyMethod Snapshot.',
    }),
  ),
};

/** A destination must either be given a PVC or be told how large to make one. */
export function destinationCapacityRule(mover: string) {
  return {
    rule: 'has(self.destinationPVC) || has(self.capacity)',
    message: `spec.${mover}.capacity is required when spec.${mover}.destinationPVC is not set`,
  };
}

const Id = (description: string) => Type.Integer({ minimum: 0, maximum: 2147483647, description });

/**
 * The mover pod's securityContext (VolSync's field): whom an unprivileged mover runs as, so that
 * it reads and restores the application's files as the application does. Without it the mover
 * runs as 65534 (docs/permissions.md).
 */
export const MoverSecurityContext = Type.Object(
  {
    runAsUser: Type.Optional(Id("The user the mover runs as, e.g. the application's.")),
    runAsGroup: Type.Optional(Id('The primary group the mover runs as.')),
    runAsNonRoot: Type.Optional(Type.Boolean()),
    fsGroup: Type.Optional(Id("The group the kubelet gives the mover's writable volumes.")),
    fsGroupChangePolicy: Type.Optional(StringEnum(['OnRootMismatch', 'Always'] as const)),
    supplementalGroups: Type.Optional(Type.Array(Id('A further group of the mover.'), { maxItems: 32 })),
  },
  {
    additionalProperties: false,
    description:
      'The mover pod\'s securityContext (a PodSecurityContext); default: user, group and fsGroup 65534. In a namespace annotated scribe.backube/privileged-movers: "true" the mover runs as root and only the groups apply.',
  },
);
export type MoverSecurityContext = Static<typeof MoverSecurityContext>;

/** requests or limits of a mover's container: the resources a mover uses (core/v1 ResourceList). */
const MoverResourceList = Type.Object(
  {
    cpu: Type.Optional(Quantity()),
    memory: Type.Optional(Quantity()),
    'ephemeral-storage': Type.Optional(Quantity()),
  },
  { additionalProperties: false },
);

/** The mover container's resources (core/v1 ResourceRequirements: requests and limits). */
export const MoverResources = Type.Object(
  { requests: Type.Optional(MoverResourceList), limits: Type.Optional(MoverResourceList) },
  {
    additionalProperties: false,
    description:
      "The mover container's resources: requests and limits of cpu, memory and ephemeral-storage. A namespace whose ResourceQuota demands limits admits mover pods only with them.",
  },
);
export type MoverResources = Static<typeof MoverResources>;

const LabelKey = Type.String({ minLength: 1, maxLength: 317 });
const Values = Type.Array(Type.String({ maxLength: 1024 }), { maxItems: 64 });

/** core/v1 NodeSelectorRequirement: a node label (matchExpressions) or field (matchFields) test. */
const NodeSelectorRequirement = Type.Object({
  key: LabelKey,
  operator: StringEnum(['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt'] as const),
  values: Type.Optional(Values),
});
/** core/v1 NodeSelectorTerm: its requirements all hold (AND). */
const NodeSelectorTerm = Type.Object({
  matchExpressions: Type.Optional(Type.Array(NodeSelectorRequirement, { maxItems: 32 })),
  matchFields: Type.Optional(Type.Array(NodeSelectorRequirement, { maxItems: 32 })),
});
/** meta/v1 LabelSelector. */
const LabelSelector = Type.Object({
  matchLabels: Type.Optional(StringMap()),
  matchExpressions: Type.Optional(
    Type.Array(
      Type.Object({
        key: LabelKey,
        operator: StringEnum(['In', 'NotIn', 'Exists', 'DoesNotExist'] as const),
        values: Type.Optional(Values),
      }),
      { maxItems: 32 },
    ),
  ),
});
/** core/v1 PodAffinityTerm. */
const PodAffinityTerm = Type.Object({
  labelSelector: Type.Optional(LabelSelector),
  namespaceSelector: Type.Optional(LabelSelector),
  namespaces: Type.Optional(Type.Array(Type.String({ maxLength: 63 }), { maxItems: 64 })),
  topologyKey: Type.String({ minLength: 1, maxLength: 317 }),
  matchLabelKeys: Type.Optional(Type.Array(LabelKey, { maxItems: 32 })),
  mismatchLabelKeys: Type.Optional(Type.Array(LabelKey, { maxItems: 32 })),
});
const Weight = Type.Integer({ minimum: 1, maximum: 100 });
/** core/v1 PodAffinity and PodAntiAffinity (the same shape). */
const PodAffinity = Type.Object({
  requiredDuringSchedulingIgnoredDuringExecution: Type.Optional(Type.Array(PodAffinityTerm, { maxItems: 32 })),
  preferredDuringSchedulingIgnoredDuringExecution: Type.Optional(
    Type.Array(Type.Object({ weight: Weight, podAffinityTerm: PodAffinityTerm }), { maxItems: 32 }),
  ),
});

/**
 * The mover pod's affinity (core/v1 Affinity). With copyMethod None on a single-node volume
 * Scribe pins the mover to the node using the volume (decision 12): that requirement is added to
 * each of the user's required node terms, so it always holds.
 */
export const MoverAffinity = Type.Object(
  {
    nodeAffinity: Type.Optional(
      Type.Object({
        requiredDuringSchedulingIgnoredDuringExecution: Type.Optional(
          Type.Object({ nodeSelectorTerms: Type.Array(NodeSelectorTerm, { minItems: 1, maxItems: 32 }) }),
        ),
        preferredDuringSchedulingIgnoredDuringExecution: Type.Optional(
          Type.Array(Type.Object({ weight: Weight, preference: NodeSelectorTerm }), { maxItems: 32 }),
        ),
      }),
    ),
    podAffinity: Type.Optional(PodAffinity),
    podAntiAffinity: Type.Optional(PodAffinity),
  },
  {
    additionalProperties: false,
    description:
      "The mover pod's affinity (core/v1 Affinity). Where Scribe pins a copyMethod None mover to the node using the volume, that node requirement is added to every required node term.",
  },
);
export type MoverAffinity = Static<typeof MoverAffinity>;

/** Pod settings of every mover section (rsync, rclone, restic), with VolSync's names (decision 21). */
export const MoverPodOptions = {
  moverSecurityContext: Type.Optional(MoverSecurityContext),
  moverServiceAccount: Type.Optional(
    ObjectName({
      description:
        "The ServiceAccount the mover pod runs as; its token is then mounted as the ServiceAccount says. Without it the namespace's default ServiceAccount, with no token mounted: no mover calls the Kubernetes API.",
    }),
  ),
  moverResources: Type.Optional(MoverResources),
  moverPodLabels: Type.Optional(
    Type.Record(
      Type.String(),
      // A label value (the key is checked by machines/validate.ts).
      Type.String({ maxLength: 63, pattern: '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$' }),
      { description: "Labels added to the mover pod; Scribe's own labels win over labels of the same key." },
    ),
  ),
  moverAffinity: Type.Optional(MoverAffinity),
};
/** What every source mover's section holds besides its own options: volume options and pod settings. */
export const SourceMoverCommon = Type.Object({ ...SourceVolumeOptions, ...MoverPodOptions });
export type SourceMoverCommon = Static<typeof SourceMoverCommon>;

/** What every destination mover's section holds besides its own options. */
export const DestinationMoverCommon = Type.Object({ ...DestinationVolumeOptions, ...MoverPodOptions });
export type DestinationMoverCommon = Static<typeof DestinationMoverCommon>;

/** The mover pod settings of a mover section. */
export interface MoverPodSettings {
  moverServiceAccount?: string | undefined;
  moverResources?: MoverResources | undefined;
  moverPodLabels?: Record<string, string> | undefined;
  moverAffinity?: MoverAffinity | undefined;
}

/**
 * A CA bundle the mover trusts besides the image's (VolSync's customCA): the key of a Secret or
 * a ConfigMap in the CR's namespace, mounted into the mover and passed to restic (--cacert) or
 * rclone (--ca-cert). For object storage with a private CA.
 */
export const CustomCA = Type.Object(
  {
    secretName: Type.Optional(ObjectName({ description: 'Secret holding the CA bundle (PEM).' })),
    configMapName: Type.Optional(ObjectName({ description: 'ConfigMap holding the CA bundle (PEM).' })),
    key: Type.String({
      minLength: 1,
      maxLength: 253,
      pattern: '^[-._a-zA-Z0-9]+$',
      description: 'Key of the Secret or ConfigMap whose value is the CA bundle.',
    }),
  },
  {
    additionalProperties: false,
    description: 'A CA certificate bundle for the back end, from a Secret or a ConfigMap (exactly one).',
    ...cel({
      rule: 'has(self.secretName) != has(self.configMapName)',
      message: 'customCA names exactly one of secretName and configMapName',
    }),
  },
);
export type CustomCA = Static<typeof CustomCA>;

/** The provider-specific replication of the seed's design: Scribe leaves such CRs alone. */
export const ExternalSpec = Type.Object({
  provider: Type.String({
    minLength: 1,
    maxLength: 253,
    description: "An external provider, e.g. 'domain.com/provider'.",
  }),
  parameters: Type.Optional(StringMap()),
});

export const Condition = Type.Object({
  type: Type.String({ minLength: 1, maxLength: 316 }),
  status: StringEnum(['True', 'False', 'Unknown'] as const),
  reason: Type.String({ minLength: 1, maxLength: 1024 }),
  message: Type.String({ maxLength: 32768 }),
  lastTransitionTime: Timestamp(),
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type Condition = Static<typeof Condition>;

export const MoverStatus = Type.Object({
  result: Type.Optional(StringEnum(['Successful', 'Failed'] as const)),
  logs: Type.Optional(Type.String({ maxLength: 8192 })),
});
export type MoverStatus = Static<typeof MoverStatus>;

/** One line of the bounded journal of machine transitions kept in status. */
export const JournalEntry = Type.Object({
  time: Timestamp(),
  event: Type.String({ maxLength: 128 }),
  from: Type.String({ maxLength: 64 }),
  to: Type.String({ maxLength: 64 }),
  reason: Type.Optional(Type.String({ maxLength: 1024 })),
});
export type JournalEntry = Static<typeof JournalEntry>;
export const JOURNAL_MAX_ENTRIES = 20;

/** Status fields common to both kinds: the seed's, plus what the engine persists to resume. */
export const CommonStatus = {
  conditions: Type.Optional(
    Type.Array(Condition, { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] }),
  ),
  lastSyncTime: Type.Optional(Timestamp()),
  lastSyncStartTime: Type.Optional(Timestamp()),
  lastSyncDuration: Type.Optional(Type.String({ description: 'Go-style duration, e.g. 3m10.261673933s.' })),
  nextSyncTime: Type.Optional(Timestamp()),
  lastManualSync: Type.Optional(Type.String({ maxLength: MANUAL_TRIGGER_MAX_LENGTH })),
  latestMoverStatus: Type.Optional(MoverStatus),
  state: Type.Optional(Type.String({ maxLength: 64, description: "The state machine's current state." })),
  cycle: Type.Optional(
    Type.Object(
      {
        id: Type.Optional(Type.String({ maxLength: 64 })),
        objects: Type.Optional(StringMap({ description: 'Names of the objects of the current cycle.' })),
        attempt: Type.Optional(Type.Integer({ minimum: 0 })),
        retryAfter: Type.Optional(Timestamp()),
        generation: Type.Optional(
          Type.Integer({ minimum: 0, description: 'The spec generation the cycle was planned for.' }),
        ),
      },
      { description: 'Facts of the running cycle that a restarted operator resumes from.' },
    ),
  ),
  journal: Type.Optional(Type.Array(JournalEntry, { maxItems: JOURNAL_MAX_ENTRIES })),
};
