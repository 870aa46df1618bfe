/**
 * The review part of the annotate page's sidebar: who submitted and who reviewed the image,
 * who else is reading it, the reviewers' comments (one about a label selects it), and a
 * reviewer's actions: accept or return a submitted image, edit its labels, reopen an accepted one.
 */
import type { ImageReview, ImageStatus } from "../api/types";
import { clear, h } from "./dom";
import { modal } from "./HelpOverlay";

export interface ReviewBoxState {
  status: ImageStatus;
  review: ImageReview | null;
  /** the reader is a reviewer or an admin of the project */
  reviews: boolean;
  /** the reviewer chose to edit the submitted image's labels */
  editing: boolean;
  /** another reader holds the image's lease */
  heldBy: string | null;
  /** why the labels are read-only now, or null */
  locked: string | null;
  /** the name a comment's label goes by ("nodule 2"), null when it is gone */
  labelName: (annotationId: number) => string | null;
}

export interface ReviewBoxHandlers {
  accept: () => void;
  giveBack: () => void;
  edit: () => void;
  reopen: () => void;
  selectAnnotation: (annotationId: number) => void;
}

function button(testId: string, title: string, text: string, run: () => void, primary = false): HTMLElement {
  return h("button", { type: "button", class: primary ? "primary" : "", "data-testid": testId, title, on: { click: run } }, text);
}

export function reviewBox(on: ReviewBoxHandlers): { el: HTMLElement; update(s: ReviewBoxState): void; refused(): void } {
  const el = h("section", { class: "review-box", "data-testid": "review-box" });
  let lock: HTMLElement | null = null;
  return {
    el,
    /** an edit was refused: the lock line says why, louder for a moment */
    refused() {
      if (!lock) return;
      lock.classList.toggle("flash", false);
      void lock.offsetWidth; // restart the animation
      lock.classList.toggle("flash", true);
    },
    update(s) {
      clear(el);
      lock = s.locked ? h("p", { class: "review-locked", role: "status", "data-testid": "review-locked" }, s.locked) : null;
      if (lock) el.appendChild(lock);
      const review = s.review;
      const facts = [
        review?.submitted_by ? `Submitted by ${review.submitted_by}` : null,
        review?.reviewed_by ? `${s.status === "returned" ? "Returned" : s.status === "reviewed" ? "Accepted" : "Reviewed"} by ${review.reviewed_by}` : null,
      ].filter(Boolean);
      if (facts.length) el.appendChild(h("p", { class: "review-facts", "data-testid": "review-facts" }, facts.join(" · ")));
      if (s.heldBy) el.appendChild(h("p", { class: "review-held", role: "status", "data-testid": "review-held" }, `${s.heldBy} is reading this image now.`));
      const comments = review?.comments ?? [];
      if (comments.length) {
        const list = h("ul", { class: "review-comments", "data-testid": "review-comments" });
        for (const c of comments) {
          const about = c.annotation != null ? s.labelName(c.annotation) : null;
          list.appendChild(
            h(
              "li",
              { "data-annotation-id": c.annotation ?? "" },
              h("strong", {}, c.author ?? "someone"),
              about ? " " : null,
              about ? h("button", { type: "button", class: "link", title: "Select it", on: { click: () => on.selectAnnotation(c.annotation!) } }, `on ${about}`) : null,
              ": ",
              c.body,
            ),
          );
        }
        el.appendChild(list);
      }
      if (!s.reviews) return;
      const actions = h("div", { class: "review-actions" });
      if (s.status === "done") {
        actions.append(
          button("review-accept", "Accept the image: its labels become the final set and lock (A)", "Accept (A)", on.accept, true),
          button("review-return", "Return it to its annotator with a comment (R)", "Return… (R)", on.giveBack),
        );
        if (!s.editing) actions.append(button("review-edit", "Edit the labels before deciding", "Edit labels", on.edit));
      } else if (s.status === "reviewed") {
        actions.append(button("review-reopen", "Reopen the image: its labels unlock (audited)", "Reopen", on.reopen), button("review-return", "Return it to its annotator with a comment (R)", "Return… (R)", on.giveBack));
      }
      if (actions.firstChild) el.appendChild(actions);
    },
  };
}

/** Asks why the image goes back; the comment may be about the selected label. */
export function returnDialog(selectedLabel: string | null, on: { submit: (comment: string, aboutSelected: boolean) => void; cancel: () => void }): HTMLElement {
  const text = h("textarea", { rows: 4, maxlength: 2000, "data-testid": "return-comment", "aria-label": "Why it goes back" });
  const about = h("input", { type: "checkbox", "data-testid": "return-about-label" });
  about.checked = selectedLabel != null;
  const error = h("p", { class: "form-error", role: "alert" });
  const submit = () => {
    if (!text.value.trim()) {
      error.textContent = "Say what to fix: the annotator sees this comment.";
      return;
    }
    on.submit(text.value, about.checked);
  };
  text.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) submit();
  });
  const dialog = modal(
    "return-dialog",
    "Return to the annotator",
    on.cancel,
    h("h2", {}, "Return this image to its annotator"),
    text,
    ...(selectedLabel ? [h("label", {}, about, ` About the selected label (${selectedLabel})`)] : []),
    error,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", class: "primary", "data-choice": "return", on: { click: submit } }, "Return (Ctrl+Enter)"),
      h("button", { type: "button", "data-choice": "cancel", on: { click: on.cancel } }, "Cancel (Esc)"),
    ),
  );
  queueMicrotask(() => text.focus());
  return dialog;
}
