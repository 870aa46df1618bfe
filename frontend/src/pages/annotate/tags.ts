/** The image's tags and the classifier's suggestions of them: set, accept, reject. */
import { errorText } from "../../api/http";
import { decideTagSuggestion } from "../../api/images";
import { topSuggestion } from "../../components/TagsBox";
import type { AnnotatePage } from "./page";

/** The image's tags become `next` (undoable, saved like any edit). */
export function setTags(p: AnnotatePage, next: number[], label = "Tags"): void {
  p.s.doc.execute({ label, changes: [p.s.doc.setTags(next)] });
}

/** Accept the top suggestion: its tag is set (the server marks the suggestion accepted). */
export function acceptSuggestion(p: AnnotatePage): void {
  const top = topSuggestion(p.s.image?.tag_suggestions ?? [], p.s.doc.tags);
  if (top) setTags(p, [...p.s.doc.tags, top.label_class], "Accept suggested tag");
}

/** Reject a suggestion (the top one without `labelClass`): it is not offered again. */
export async function rejectSuggestion(p: AnnotatePage, labelClass?: number): Promise<void> {
  const image = p.s.image;
  const id = labelClass ?? topSuggestion(image?.tag_suggestions ?? [], p.s.doc.tags)?.label_class;
  if (!image || id === undefined) return;
  try {
    const suggestions = await decideTagSuggestion(image.id, id, "rejected");
    if (p.s.image?.id === image.id) p.s.image = { ...p.s.image, tag_suggestions: suggestions };
    p.renderSidebar();
  } catch (e) {
    p.status(`Could not reject the suggestion (${errorText(e)}).`);
  }
}
