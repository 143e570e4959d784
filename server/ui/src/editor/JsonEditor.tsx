// A JSON editor (CodeMirror 6: highlighting, bracket matching, a parse linter). Loaded on
// demand, only by object flags, so CodeMirror is not in the initial bundle.
//
// The editor lives in a shadow root: CodeMirror then installs its styles as constructed
// stylesheets (adoptedStyleSheets) instead of <style> elements, which the console's CSP
// (`style-src 'self'`, no 'unsafe-inline') would refuse. Its colours are the console's CSS
// variables, which inherit into the shadow root, so both themes apply.
import { json, jsonParseLinter } from '@codemirror/lang-json';
import { HighlightStyle, syntaxHighlighting } from '@codemirror/language';
import { linter, lintGutter } from '@codemirror/lint';
import { tags } from '@lezer/highlight';
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
  /** Id of an element describing the text's problems (`aria-describedby`, and `aria-invalid`). */
  describedBy?: string | undefined;
}

const theme = EditorView.theme({
  '&': { backgroundColor: 'var(--panel)', color: 'var(--text)', fontSize: '0.9rem' },
  '&.cm-focused': { outline: '3px solid var(--focus)', outlineOffset: '2px' },
  '.cm-content': { fontFamily: 'ui-monospace, Menlo, Consolas, monospace', caretColor: 'var(--text)' },
  '.cm-cursor': { borderLeftColor: 'var(--text)' },
  '.cm-gutters': {
    backgroundColor: 'var(--bg)',
    color: 'var(--muted)',
    borderRight: '1px solid var(--border)',
  },
  '.cm-activeLine, .cm-activeLineGutter': { backgroundColor: 'transparent' },
  '&.cm-focused .cm-selectionBackground, .cm-selectionBackground': { backgroundColor: 'var(--selection)' },
  '.cm-tooltip': { backgroundColor: 'var(--panel)', color: 'var(--text)', border: '1px solid var(--border)' },
});

const highlight = syntaxHighlighting(
  HighlightStyle.define([
    { tag: tags.propertyName, color: 'var(--code-key)' },
    { tag: tags.string, color: 'var(--code-string)' },
    { tag: [tags.number, tags.bool, tags.null], color: 'var(--code-literal)' },
  ]),
);

/** Edits JSON text. */
export default function JsonEditor({ value, onChange, label, disabled, describedBy }: JsonEditorProps) {
  const host = useRef<HTMLDivElement>(null);
  const changed = useRef(onChange);
  changed.current = onChange;
  const content = useRef<HTMLElement | null>(null);
  // The description lives outside the shadow root, so the id cannot reach the editable element
  // there; its text is copied into an aria-description instead.
  useEffect(() => {
    const el = content.current;
    if (!el) return;
    const text = describedBy ? (document.getElementById(describedBy)?.textContent ?? '') : '';
    el.setAttribute('aria-invalid', String(!!describedBy));
    if (text) el.setAttribute('aria-description', text);
    else el.removeAttribute('aria-description');
  });
  // biome-ignore lint/correctness/useExhaustiveDependencies: the editor owns its text after the first render
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const shadow = el.shadowRoot ?? el.attachShadow({ mode: 'open' });
    const mount = document.createElement('div');
    shadow.replaceChildren(mount);
    const view = new EditorView({
      doc: value,
      root: shadow,
      parent: mount,
      extensions: [
        basicSetup,
        json(),
        linter(jsonParseLinter()),
        lintGutter(),
        theme,
        highlight,
        // Long lines wrap: no horizontal scrolling region (which keyboard users could not scroll).
        EditorView.lineWrapping,
        EditorView.editable.of(!disabled),
        EditorView.contentAttributes.of({ 'aria-label': label }),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) changed.current(u.state.doc.toString());
        }),
      ],
    });
    content.current = view.contentDOM;
    return () => {
      content.current = null;
      view.destroy();
    };
  }, [disabled, label]);
  return <div className="json-editor" ref={host} />;
}
