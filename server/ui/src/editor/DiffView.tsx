// A line diff of two JSON documents (jsdiff), as a table of added and removed lines.
import { diffLines } from 'diff';

/** Shows what changes from `before` to `after` (pretty-printed JSON, keys as given). */
export function DiffView({ before, after, label }: { before: unknown; after: unknown; label: string }) {
  const parts = diffLines(JSON.stringify(before, null, 2) ?? '', JSON.stringify(after, null, 2) ?? '');
  const changed = parts.some((p) => p.added || p.removed);
  return (
    <figure className="diff">
      <figcaption>{label}</figcaption>
      {!changed && <p className="muted">No changes.</p>}
      {changed && (
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard
        <pre tabIndex={0}>
          {parts.map((p, i) => {
            const cls = p.added ? 'add' : p.removed ? 'del' : 'same';
            const sign = p.added ? '+ ' : p.removed ? '- ' : '  ';
            const lines = p.value.replace(/\n$/, '').split('\n');
            // Unchanged runs are shortened to their first and last two lines.
            const shown =
              cls === 'same' && lines.length > 5 ? [...lines.slice(0, 2), '…', ...lines.slice(-2)] : lines;
            return (
              // biome-ignore lint/suspicious/noArrayIndexKey: the parts of one diff never reorder
              <span key={i} className={cls}>
                {shown.map((l) => `${sign}${l}\n`).join('')}
              </span>
            );
          })}
        </pre>
      )}
    </figure>
  );
}
