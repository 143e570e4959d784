// A modal confirmation on the native <dialog> (focus moves into it, Escape cancels).
import { type ReactNode, useEffect, useId, useRef } from 'react';

/** Props of [`Confirm`]. */
export interface ConfirmProps {
  /** Shown while true. */
  open: boolean;
  /** Heading. */
  title: string;
  /** The explanation. */
  children: ReactNode;
  /** Label of the confirming button. */
  confirmLabel: string;
  /** Called on confirm. */
  onConfirm(): void;
  /** Called on cancel (button, Escape). */
  onCancel(): void;
}

/** A confirmation dialog. */
export function Confirm({ open, title, children, confirmLabel, onConfirm, onCancel }: ConfirmProps) {
  const ref = useRef<HTMLDialogElement>(null);
  // Several dialogs can be on one screen: each is named by its own heading.
  const titleId = useId();
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog ref={ref} aria-labelledby={titleId} onCancel={onCancel} onClose={() => open && onCancel()}>
      <h2 id={titleId}>{title}</h2>
      <div>{children}</div>
      <div className="actions">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="button" className="primary" onClick={onConfirm}>
          {confirmLabel}
        </button>
      </div>
    </dialog>
  );
}
