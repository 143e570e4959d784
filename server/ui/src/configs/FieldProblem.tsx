// A problem of one field of the entry editor, shown next to it: the browser's own check or the
// server's refusal (a parse error with its line and column, a schema violation with its JSON
// pointer). The field points at it (`aria-describedby`) and is marked invalid.
import { type Problems, placeInMessage } from '../model/config';

/** The id of the note of `field`'s problem. */
export function problemId(field: string): string {
  return `problem-${field.replace(/[^A-Za-z0-9_-]/g, '-')}`;
}

/** The attributes of an input whose `field` may have a problem. */
export function problemProps(
  problems: Problems,
  field: string,
): { 'aria-invalid'?: true; 'aria-describedby'?: string } {
  return problems[field] ? { 'aria-invalid': true, 'aria-describedby': problemId(field) } : {};
}

/** Props of [`FieldProblem`]. */
export interface FieldProblemProps {
  /** Problems by field. */
  problems: Problems;
  /** The field shown. */
  field: string;
  /** Moves the caret to a line and column of the field's text (offered when the message names one). */
  onLocate?(line: number, column: number): void;
}

/** `field`'s problem, if it has one. */
export function FieldProblem({ problems, field, onLocate }: FieldProblemProps) {
  const message = problems[field];
  if (!message) return null;
  const at = placeInMessage(message);
  return (
    <p className="error field-problem" id={problemId(field)} role="alert">
      {message}
      {at && onLocate && (
        <>
          {' '}
          <button type="button" className="small" onClick={() => onLocate(at.line, at.column)}>
            Go to line {at.line}, column {at.column}
          </button>
        </>
      )}
    </p>
  );
}
