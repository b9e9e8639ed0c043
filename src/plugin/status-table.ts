/** The `kubectl scribe status` table. */
import type { ScribeCr } from '../../machines/api.js';
import { renderTable } from '../inspect/table.js';

/** Renders every CR as one row: kind, name, state, last sync, duration, next sync, last result. */
export function renderStatusTable(crs: readonly ScribeCr[], allNamespaces: boolean): string {
  if (crs.length === 0) return 'No ReplicationSources or ReplicationDestinations found.\n';
  const sorted = [...crs].sort((a, b) =>
    `${a.metadata.namespace}/${a.kind}/${a.metadata.name}`.localeCompare(
      `${b.metadata.namespace}/${b.kind}/${b.metadata.name}`,
    ),
  );
  const headers = ['KIND', 'NAME', 'STATE', 'LAST SYNC', 'DURATION', 'NEXT SYNC', 'LAST RESULT'];
  const rows = sorted.map((cr) => {
    const s = cr.status ?? {};
    const row = [
      cr.kind,
      cr.metadata.name ?? '',
      s.state ?? '<none>',
      s.lastSyncTime ?? '<none>',
      s.lastSyncDuration ?? '<none>',
      s.nextSyncTime ?? (cr.spec.trigger?.manual ? `manual (${cr.spec.trigger.manual})` : '<none>'),
      s.latestMoverStatus?.result ?? '<none>',
    ];
    return allNamespaces ? [cr.metadata.namespace ?? '', ...row] : row;
  });
  return renderTable(allNamespaces ? ['NAMESPACE', ...headers] : headers, rows);
}
