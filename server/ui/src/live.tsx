// Live updates: the project's change stream (`GET /v1/projects/{project}/changes`, server-sent
// events of every audited write, by anyone, from any server replica). Each change refetches
// what it touches, so open pages show it within a second, and is announced (who changed what).
import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import type { Schemas } from './api/client';

/** One audited change, as the stream sends it. */
export type Change = Schemas['ProjectChange'];

/** How many recent changes [`LiveNotices`] keeps on screen. */
const SHOWN = 3;

/**
 * Subscribes to `project`'s change stream while mounted: on every change, marks the project's
 * queries stale (react-query refetches the visible ones) and returns the newest changes first.
 * The browser's `EventSource` reconnects by itself and resumes with `Last-Event-ID`.
 */
export function useLiveChanges(project: string): Change[] {
  const client = useQueryClient();
  const [changes, setChanges] = useState<Change[]>([]);
  useEffect(() => {
    if (!project) return;
    setChanges([]);
    const source = new EventSource(`/v1/projects/${encodeURIComponent(project)}/changes`);
    source.addEventListener('change', (event) => {
      let change: Change;
      try {
        change = JSON.parse((event as MessageEvent<string>).data) as Change;
      } catch {
        return; // not ours: the stream only sends JSON changes
      }
      setChanges((old) => [change, ...old].slice(0, SHOWN));
      // Everything that belongs to the project may have changed: flags, segments, versions,
      // the audit log, environments.
      void client.invalidateQueries({
        predicate: (q) => q.queryKey.includes(project) || q.queryKey[0] === 'audit',
      });
    });
    return () => source.close();
  }, [project, client]);
  return changes;
}

/** `targeting.update` → "updated the targeting of". */
function verb(action: string): string {
  const [what = action, how = ''] = action.split('.');
  const past: Record<string, string> = {
    create: 'created',
    update: 'updated',
    delete: 'deleted',
    rollback: 'rolled back',
    revoke: 'revoked',
    rotate: 'rotated',
    disable: 'disabled',
  };
  return `${past[how] ?? how} ${what}`;
}

/** "just now", "12 s ago", "3 min ago". */
function ago(at: number, now: number): string {
  const s = Math.max(0, Math.round((now - at) / 1000));
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  return `${Math.round(s / 60)} min ago`;
}

/**
 * The newest changes to `project` by anyone, announced politely to assistive technology:
 * "Ada updated targeting flag:checkout in production · just now".
 */
export function LiveNotices({ project }: { project: string }) {
  const changes = useLiveChanges(project);
  const now = Date.now();
  return (
    <section className="live" aria-label="Live changes">
      <div role="status" aria-live="polite">
        <ul>
          {changes.map((c) => (
            <li key={c.seq} data-testid="live-change">
              <strong>{c.actor_name}</strong> {verb(c.action)} <code>{c.resource}</code>
              {c.environment ? ` in ${c.environment}` : ''} · {ago(c.at, now)}
            </li>
          ))}
        </ul>
      </div>
    </section>
  );
}
