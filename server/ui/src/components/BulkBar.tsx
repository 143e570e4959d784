// Bulk enable/disable of the selected flags in the current environment: one targeting PUT per
// flag with its If-Match (a few at a time), a confirmation first in a protected environment,
// and a per-flag report of what failed (a 412 says the flag changed since the list loaded).
import { useState } from 'react';
import { ApiError, type Environment, type Flag } from '../api/client';
import { putTargeting, toTargeting } from '../api/writes';
import { type BulkOutcome, type BulkPlan, planBulk, runBulk } from '../model/bulk';
import { Confirm } from './Confirm';

/** Props of [`BulkBar`]. */
export interface BulkBarProps {
  /** Project key. */
  project: string;
  /** The current environment. */
  environment: Environment;
  /** The flags as loaded (the revisions written against). */
  flags: readonly Flag[];
  /** Selected flag keys. */
  selected: ReadonlySet<string>;
  /** Whether the user may switch flags in the environment. */
  canWrite: boolean;
  /** Replaces the selection (failed flags stay selected after a run). */
  onSelect(keys: Set<string>): void;
  /** Called after a run, to reload the list. */
  onDone(): Promise<void>;
}

interface Report {
  enabled: boolean;
  env: string;
  plan: BulkPlan;
  outcomes: BulkOutcome[];
}

function reason(error: unknown): string {
  if (error instanceof ApiError && error.status === 412)
    return 'changed since the list was loaded; try again';
  if (error instanceof ApiError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/** The bulk action bar (shown while flags are selected) and the report of the last run. */
export function BulkBar(props: BulkBarProps) {
  const { environment: e, selected } = props;
  const [asking, setAsking] = useState<boolean | null>(null);
  const [progress, setProgress] = useState<{ done: number; total: number } | null>(null);
  const [report, setReport] = useState<Report | null>(null);

  async function run(enabled: boolean) {
    const plan = planBulk(props.flags, selected, e.key, enabled);
    setReport(null);
    setProgress({ done: 0, total: plan.writes.length });
    const outcomes = await runBulk(
      plan.writes,
      (w) =>
        putTargeting(props.project, e.key, w.key, w.targeting.revision, {
          ...toTargeting(w.targeting),
          enabled,
        }),
      4,
      () => setProgress((p) => p && { ...p, done: p.done + 1 }),
    );
    setProgress(null);
    setReport({ enabled, env: e.key, plan, outcomes });
    props.onSelect(new Set(outcomes.filter((o) => !o.ok).map((o) => o.key)));
    await props.onDone();
  }

  function request(enabled: boolean) {
    if (e.protected) setAsking(enabled);
    else void run(enabled);
  }

  const failed = report?.outcomes.filter((o): o is Extract<BulkOutcome, { ok: false }> => !o.ok) ?? [];
  const written = (report?.outcomes.length ?? 0) - failed.length;
  const names = [...selected].sort();
  return (
    <>
      {selected.size > 0 && (
        <div className="bulk" role="toolbar" aria-label="Selected flags">
          <span>
            <strong>{selected.size}</strong> selected
          </span>
          {props.canWrite ? (
            <>
              <button type="button" disabled={progress !== null} onClick={() => request(true)}>
                Turn on in {e.key}
              </button>
              <button type="button" disabled={progress !== null} onClick={() => request(false)}>
                Turn off in {e.key}
              </button>
            </>
          ) : (
            <span className="muted">Your role cannot change {e.key}.</span>
          )}
          <button type="button" className="ghost" onClick={() => props.onSelect(new Set())}>
            Clear selection
          </button>
          {progress && (
            <progress max={progress.total} value={progress.done} aria-label="Writing">
              {progress.done} of {progress.total}
            </progress>
          )}
        </div>
      )}
      {report && (
        <div
          className={failed.length ? 'bulk-report error' : 'bulk-report ok'}
          role={failed.length ? 'alert' : 'status'}
        >
          <p>
            Turned {report.enabled ? 'on' : 'off'} {written} of {report.outcomes.length} flags in {report.env}
            {report.plan.unchanged.length > 0 &&
              `; ${report.plan.unchanged.length} already ${report.enabled ? 'on' : 'off'}`}
            {report.plan.missing.length > 0 && `; ${report.plan.missing.length} without targeting there`}.
            {failed.length > 0 && ` ${failed.length} failed (still selected):`}
          </p>
          {failed.length > 0 && (
            <ul>
              {failed.map((f) => (
                <li key={f.key} data-failed={f.key}>
                  <strong>{f.key}</strong>: {reason(f.error)}
                </li>
              ))}
            </ul>
          )}
          <button type="button" className="small ghost" onClick={() => setReport(null)}>
            Dismiss
          </button>
        </div>
      )}
      <Confirm
        open={asking !== null}
        title={`Turn ${asking ? 'on' : 'off'} ${selected.size} flags in ${e.key}?`}
        confirmLabel={asking ? 'Turn on' : 'Turn off'}
        onCancel={() => setAsking(null)}
        onConfirm={() => {
          const enabled = asking;
          setAsking(null);
          if (enabled !== null) void run(enabled);
        }}
      >
        <p>
          <strong>{e.name || e.key}</strong> is a protected environment: each flag is published as a new
          snapshot that SDKs pick up within seconds.
        </p>
        <p className="bulk-names">
          {names.slice(0, 20).join(', ')}
          {names.length > 20 ? `, and ${names.length - 20} more` : ''}
        </p>
      </Confirm>
    </>
  );
}
