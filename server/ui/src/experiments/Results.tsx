// The results of an experiment in one environment (`GET .../experiments/{flag}/results`): the
// split (weight, units and exposures per variant, the sample-ratio-mismatch test, with a clear
// warning when it fails), then per metric each treatment against the control (difference,
// interval, relative lift, fixed-horizon and always-valid p-values, CUPED when present) as a
// table and a forest plot (loaded on demand).
import { lazy, Suspense } from 'react';
import type { ExperimentResults, MetricResult } from '../api/queries';
import { formatDifference, formatInterval, formatLift, formatMean, formatP, pIs } from '../model/experiment';
import { toPercent } from '../model/rollout';

const ForestPlot = lazy(() => import('./ForestPlot'));
const PValueChart = lazy(() => import('./PValueChart'));

type Results = ExperimentResults;
type Metric = MetricResult;

/** The split of units between the variants, and the SRM test. */
function Split({ results }: { results: Results }) {
  const units = results.variants.reduce((s, v) => s + v.units, 0);
  const srm = results.srm;
  return (
    <section aria-labelledby="split-title" className="panel">
      <h2 id="split-title">Split</h2>
      {results.srm_alarm && (
        <div className="alert danger" role="alert">
          <strong>Sample ratio mismatch</strong> (χ², {pIs(srm?.p_value)}): units did not reach the variants
          in the configured proportions. Something between assignment and exposure is broken (a redirect that
          loses events, a bot filter, a variant that crashes). Do not trust the metrics below until the cause
          is found.
        </div>
      )}
      <p className="muted">
        {results.exposures_raw} exposures received, {units} units assigned; {results.units_excluded} units saw
        more than one variant and are left out.{' '}
        {srm
          ? results.srm_alarm
            ? ''
            : `Sample ratio as configured (χ², ${pIs(srm.p_value)}).`
          : 'Sample ratio not checked yet (no units).'}
      </p>
      <div className="table-wrap">
        <table className="split">
          <thead>
            <tr>
              <th scope="col">Variant</th>
              <th scope="col">Weight</th>
              <th scope="col">Units</th>
              <th scope="col">Share of units</th>
              <th scope="col">Exposures</th>
            </tr>
          </thead>
          <tbody>
            {results.variants.map((v, i) => (
              <tr key={v.variant}>
                <th scope="row">
                  <span className={`dot v${i % 6}`} aria-hidden="true" /> {v.variant}
                  {i === 0 && <span className="muted"> (control)</span>}
                </th>
                <td>{toPercent(v.weight)} %</td>
                <td>{v.units}</td>
                <td>{units > 0 ? `${((v.units / units) * 100).toFixed(2)} %` : '–'}</td>
                <td>{v.exposures}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/** One metric: per variant its value, per treatment the comparison, and the forest plot. */
function MetricSection({
  metric,
  confidence,
  timeline,
}: {
  metric: Metric;
  confidence: number;
  timeline: Results['timeline'];
}) {
  const id = `metric-${metric.key}`;
  const control = metric.variants[0]?.variant;
  return (
    <section aria-labelledby={id} className="panel metric">
      <h3 id={id}>
        {metric.key} <span className="muted">({metric.kind})</span>{' '}
        <span className={`badge ${metric.role === 'primary' ? 'primary' : ''}`}>{metric.role}</span>
      </h3>
      <div className="table-wrap">
        <table className="metric-table">
          <thead>
            <tr>
              <th scope="col">Variant</th>
              <th scope="col">Units</th>
              <th scope="col">{metric.kind === 'conversion' ? 'Rate' : 'Mean'}</th>
              <th scope="col">Difference</th>
              <th scope="col">{Math.round(confidence * 1000) / 10} % interval</th>
              <th scope="col">Lift</th>
              <th scope="col">p-value</th>
              <th scope="col">
                <abbr title="Always-valid p-value (mSPRT): safe to check continuously">Sequential p</abbr>
              </th>
            </tr>
          </thead>
          <tbody>
            {metric.variants.map((v) => {
              const c = metric.comparisons.find((x) => x.variant === v.variant);
              return [
                <tr key={v.variant}>
                  <th scope="row">
                    {v.variant}
                    {v.variant === control && <span className="muted"> (control)</span>}
                  </th>
                  <td>{v.units}</td>
                  <td>
                    {formatMean(v.mean, metric.kind)}
                    {v.conversions != null && <small className="muted"> ({v.conversions})</small>}
                  </td>
                  {c ? (
                    <>
                      <td>{formatDifference(c.difference, metric.kind)}</td>
                      <td>{formatInterval(c.difference_ci, metric.kind)}</td>
                      <td>{formatLift(c.relative_lift)}</td>
                      <td>{formatP(c.p_value)}</td>
                      <td>{formatP(c.sequential_p_value)}</td>
                    </>
                  ) : (
                    <td colSpan={5} className="muted">
                      {v.variant === control ? 'baseline' : 'no comparison'}
                    </td>
                  )}
                </tr>,
                c?.cuped && (
                  <tr key={`${v.variant}-cuped`} className="cuped">
                    <th scope="row">
                      {v.variant} <span className="muted">CUPED</span>
                    </th>
                    <td colSpan={2} className="muted">
                      variance −{(c.cuped.variance_reduction * 100).toFixed(0)} %, θ ={' '}
                      {c.cuped.theta.toFixed(3)}
                    </td>
                    <td>{formatDifference(c.cuped.difference, metric.kind)}</td>
                    <td>{formatInterval(c.cuped.difference_ci, metric.kind)}</td>
                    <td>–</td>
                    <td>{formatP(c.cuped.p_value)}</td>
                    <td>–</td>
                  </tr>
                ),
              ];
            })}
          </tbody>
        </table>
      </div>
      {metric.overall && (
        <p className="muted">
          All variants together: χ² = {metric.overall.chi_square.toFixed(2)} (df {metric.overall.df}),{' '}
          {pIs(metric.overall.p_value)}.
        </p>
      )}
      {metric.note && <p className="note">{metric.note}</p>}
      <Suspense fallback={<p aria-busy="true">Loading chart…</p>}>
        <ForestPlot metric={metric} confidence={confidence} />
        <PValueChart metric={metric} timeline={timeline} confidence={confidence} />
      </Suspense>
    </section>
  );
}

/** The results of an experiment in one environment. */
export function ResultsView({ results, confidence }: { results: Results; confidence: number }) {
  return (
    <>
      <Split results={results} />
      <h2 className="metrics-title">Metrics</h2>
      {results.metrics.map((m) => (
        <MetricSection key={m.key} metric={m} confidence={confidence} timeline={results.timeline} />
      ))}
    </>
  );
}
