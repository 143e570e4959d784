// A JSON editor (CodeMirror 6: highlighting, bracket matching, a parse linter). Loaded on
// demand, only by object flags, so CodeMirror is not in the initial bundle.
import { json, jsonParseLinter } from '@codemirror/lang-json';
import { linter, lintGutter } from '@codemirror/lint';
import { basicSetup, EditorView } from 'codemirror';
import { useEffect, useRef } from 'react';

/** Props of [`JsonEditor`]. */
export interface JsonEditorProps {
  /** Initial text. */
  value: string;
  /** Called with the text on every change. */
  onChange(text: string): void;
  /** Accessible name. */
  label: string;
  /** Read-only. */
  disabled?: boolean;
}

/** Edits JSON text. */
export default function JsonEditor({ value, onChange, label, disabled }: JsonEditorProps) {
  const host = useRef<HTMLDivElement>(null);
  const changed = useRef(onChange);
  changed.current = onChange;
  // biome-ignore lint/correctness/useExhaustiveDependencies: the editor owns its text after the first render
  useEffect(() => {
    if (!host.current) return;
    const view = new EditorView({
      doc: value,
      parent: host.current,
      extensions: [
        basicSetup,
        json(),
        linter(jsonParseLinter()),
        lintGutter(),
        EditorView.editable.of(!disabled),
        EditorView.contentAttributes.of({ 'aria-label': label }),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) changed.current(u.state.doc.toString());
        }),
      ],
    });
    return () => view.destroy();
  }, [disabled, label]);
  return <div className="json-editor" ref={host} />;
}
