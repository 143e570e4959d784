// The experiment definition of a flag (its `experiment`): the primary and guardrail metrics,
// the rollout analysed (the default or a rule), the confidence level, the effect size the
// sequential test is tuned for, and the exposure de-duplication window. Saved with the rest of
// the flag's definition (`PUT /v1/projects/{p}/flags/{key}`, If-Match); checked here first,
// a 412 is shown as a conflict to reload, and a 422 or 400 at the field the server names.
import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { ApiError, type Flag } from '../api/client';
import { keys } from '../api/queries';
import { definitionOf, putDefinition } from '../api/writes';
import { Confirm } from '../components/Confirm';
import { ErrorNote } from '../components/ErrorNote';
import { DiffView } from '../editor/DiffView';
import {
  DEFAULTS,
  type ExperimentSpec,
  METRIC_KINDS,
  type MetricKind,
  type MetricSpec,
  newSpec,
  specField,
  specProblems,
} from '../model/experiment';

/** Props of [`SpecEditor`]. */
export interface SpecEditorProps {
  /** Project key. */
  project: string;
  /** The flag as opened (its revision is the If-Match of the save). */
  flag: Flag;
  /** Whether the user may change the flag's definition. */
  canEdit: boolean;
  /** Called after a save (with the published versions' note) or to reload after a conflict. */
  onSaved(note: string): void;
}

/** A metric: its key (the `key` of track events) and how it aggregates. */
function MetricFields(props: {
  id: string;
  legend: string;
  value: MetricSpec;
  problem: string | undefined;
  disabled: boolean;
  onChange(m: MetricSpec): void;
  onRemove?: () => void;
}) {
  const errorId = `${props.id}-error`;
  return (
    <fieldset className="metric-fields">
      <legend>{props.legend}</legend>
      <label className="inline">
        Metric key
        <input
          value={props.value.key}
          disabled={props.disabled}
          aria-invalid={!!props.problem}
          aria-describedby={props.problem ? errorId : undefined}
          onChange={(e) => props.onChange({ ...props.value, key: e.target.value })}
        />
      </label>
      <label className="inline">
        Aggregation
        <select
          value={props.value.kind}
          disabled={props.disabled}
          onChange={(e) => props.onChange({ ...props.value, kind: e.target.value as MetricKind })}
        >
          {METRIC_KINDS.map((k) => (
            <option key={k} value={k}>
              {k === 'conversion'
                ? 'conversion (did it at least once)'
                : k === 'sum'
                  ? 'sum of values'
                  : 'mean of values'}
            </option>
          ))}
        </select>
      </label>
      {props.onRemove && !props.disabled && (
        <button type="button" className="small danger" onClick={props.onRemove}>
          Remove
        </button>
      )}
      {props.problem && (
        <p className="error field-error" id={errorId}>
          {props.problem}
        </p>
      )}
    </fieldset>
  );
}

/** A number field of the definition, with its problem below it. */
function NumberField(props: {
  name: string;
  label: string;
  hint: string;
  value: number;
  step: string;
  problem: string | undefined;
  disabled: boolean;
  onChange(v: number): void;
}) {
  const errorId = `spec-${props.name}-error`;
  const hintId = `spec-${props.name}-hint`;
  return (
    <label>
      {props.label}
      <input
        type="number"
        step={props.step}
        defaultValue={Number.isFinite(props.value) ? props.value : ''}
        disabled={props.disabled}
        aria-invalid={!!props.problem}
        aria-describedby={props.problem ? `${hintId} ${errorId}` : hintId}
        onChange={(e) => props.onChange(e.target.value === '' ? Number.NaN : Number(e.target.value))}
      />
      <small id={hintId} className="muted">
        {props.hint}
      </small>
      {props.problem && (
        <span className="error field-error" id={errorId}>
          {props.problem}
        </span>
      )}
    </label>
  );
}

/** Edits and saves a flag's experiment definition. */
export function SpecEditor({ project, flag, canEdit, onSaved }: SpecEditorProps) {
  const queryClient = useQueryClient();
  const opened = flag.experiment ?? null;
  const [spec, setSpec] = useState<ExperimentSpec>(() => ({ ...newSpec(), ...opened }));
  const [removing, setRemoving] = useState(false);
  const [reviewing, setReviewing] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const ruleIds = [
    ...new Set(Object.values(flag.environments ?? {}).flatMap((t) => (t.rules ?? []).map((r) => r.id))),
  ].sort();
  const problems = specProblems(spec, ruleIds);
  const server = error instanceof ApiError ? specField(error.field) : undefined;
  const problem = (field: string) =>
    problems[field] ?? (server === field && error instanceof Error ? error.message : undefined);
  const guardrails = spec.guardrail_metrics ?? [];
  const next = removing ? null : spec;
  const changed = JSON.stringify(opened) !== JSON.stringify(next);
  const conflict = error instanceof ApiError && error.status === 412;

  async function save() {
    setReviewing(false);
    setError(null);
    try {
      const w = await putDefinition(project, flag.key, flag.revision, {
        ...definitionOf(flag),
        experiment: next,
      });
      await queryClient.invalidateQueries({ queryKey: keys.flags(project) });
      await queryClient.invalidateQueries({ queryKey: ['experiment-results', project, flag.key] });
      onSaved(
        `Saved; published ${w.data.published.map((p) => `${p.environment} v${p.version}`).join(', ')}.`,
      );
    } catch (e) {
      setError(e);
    }
  }

  const setGuardrail = (i: number, m: MetricSpec) =>
    setSpec({ ...spec, guardrail_metrics: guardrails.map((x, j) => (j === i ? m : x)) });

  return (
    <section className="panel spec" aria-labelledby="spec-title">
      <h2 id="spec-title">Definition (every environment)</h2>
      {removing ? (
        <p className="note">
          {flag.key} stops being an experiment when you save: its results are no longer computed. Events
          already received are kept.
        </p>
      ) : (
        <>
          <MetricFields
            id="spec-primary"
            legend="Primary metric (decides)"
            value={spec.primary_metric}
            problem={problem('primary_metric.key') ?? problem('primary_metric')}
            disabled={!canEdit}
            onChange={(primary_metric) => setSpec({ ...spec, primary_metric })}
          />
          {guardrails.map((m, i) => (
            <MetricFields
              // biome-ignore lint/suspicious/noArrayIndexKey: a guardrail being renamed keeps its fields
              key={i}
              id={`spec-guardrail-${i}`}
              legend={`Guardrail metric ${i + 1} (must not get worse)`}
              value={m}
              problem={problem(`guardrail_metrics[${i}].key`) ?? problem(`guardrail_metrics[${i}]`)}
              disabled={!canEdit}
              onChange={(g) => setGuardrail(i, g)}
              onRemove={() => setSpec({ ...spec, guardrail_metrics: guardrails.filter((_, j) => j !== i) })}
            />
          ))}
          {canEdit && (
            <button
              type="button"
              className="small"
              onClick={() =>
                setSpec({ ...spec, guardrail_metrics: [...guardrails, { key: '', kind: 'conversion' }] })
              }
            >
              + Guardrail metric
            </button>
          )}
          <div className="row spec-numbers">
            <label>
              Rollout analysed
              <select
                value={spec.rule_id ?? ''}
                disabled={!canEdit}
                aria-invalid={!!problem('rule_id')}
                aria-describedby={problem('rule_id') ? 'spec-rule_id-error' : undefined}
                onChange={(e) => setSpec({ ...spec, rule_id: e.target.value || null })}
              >
                <option value="">the default rollout</option>
                {[...new Set([...ruleIds, ...(spec.rule_id ? [spec.rule_id] : [])])].map((id) => (
                  <option key={id} value={id}>
                    rule {id}
                  </option>
                ))}
              </select>
              {problem('rule_id') && (
                <span className="error field-error" id="spec-rule_id-error">
                  {problem('rule_id')}
                </span>
              )}
            </label>
            <NumberField
              name="confidence"
              label="Confidence level"
              hint="Of the intervals, e.g. 0.95"
              step="0.01"
              value={spec.confidence ?? DEFAULTS.confidence}
              problem={problem('confidence')}
              disabled={!canEdit}
              onChange={(confidence) => setSpec({ ...spec, confidence })}
            />
            <NumberField
              name="sequential_mde"
              label="Sequential test effect size"
              hint="Relative effect it is tuned for, 0.05 = 5 %"
              step="0.01"
              value={spec.sequential_mde ?? DEFAULTS.sequential_mde}
              problem={problem('sequential_mde')}
              disabled={!canEdit}
              onChange={(sequential_mde) => setSpec({ ...spec, sequential_mde })}
            />
            <NumberField
              name="dedupe_window_ms"
              label="Exposure de-duplication window (ms)"
              hint="3600000 = one hour"
              step="1000"
              value={spec.dedupe_window_ms ?? DEFAULTS.dedupe_window_ms}
              problem={problem('dedupe_window_ms')}
              disabled={!canEdit}
              onChange={(dedupe_window_ms) => setSpec({ ...spec, dedupe_window_ms })}
            />
          </div>
        </>
      )}
      <div className="savebar" aria-live="polite">
        {conflict && (
          <div className="error" role="alert">
            <strong>{flag.key} changed since you opened it.</strong> Someone saved a newer version of its
            definition; reload to see it (your edits here are discarded).{' '}
            <button type="button" onClick={() => onSaved('')}>
              Reload
            </button>
          </div>
        )}
        {!conflict && (server === undefined || server === 'experiment') && <ErrorNote error={error} />}
        {canEdit && (
          <>
            {Object.keys(problems).length > 0 && !removing && (
              <span className="error">Fix the fields marked above first.</span>
            )}
            <button
              type="button"
              className="primary"
              disabled={!changed || (!removing && Object.keys(problems).length > 0)}
              onClick={() => setReviewing(true)}
            >
              Review and save
            </button>
            {opened && (
              <button
                type="button"
                className={removing ? '' : 'danger'}
                onClick={() => setRemoving(!removing)}
              >
                {removing ? 'Keep the experiment' : 'Stop the experiment'}
              </button>
            )}
          </>
        )}
      </div>
      <Confirm
        open={reviewing}
        title={`Save the experiment definition of ${flag.key}?`}
        confirmLabel="Save and publish"
        onCancel={() => setReviewing(false)}
        onConfirm={() => void save()}
      >
        <p>The definition is the same in every environment; saving publishes each of them.</p>
        <DiffView label="Experiment definition" before={opened} after={next} />
      </Confirm>
    </section>
  );
}
