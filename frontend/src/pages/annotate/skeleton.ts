/** The annotate page's elements: breadcrumbs and save state, toolbar slot, the viewer and the sidebar. */
import type { AppContext } from "../../app";
import { annotationList, type AnnotationListHandlers } from "../../components/AnnotationList";
import { h } from "../../components/dom";
import { readsBox, type ReadsBoxHandlers } from "../../components/ReadsBox";
import { reviewBox, type ReviewBoxHandlers } from "../../components/ReviewBox";
import { saveStatus } from "../../components/SaveStatus";
import { tagsBox, type TagsBoxHandlers } from "../../components/TagsBox";
import { topBar } from "../../components/TopBar";
import { viewerCorners } from "../../components/ViewerCorners";
import { worklistPath } from "../../router";
import type { AnnotateUi } from "./page";

export function annotateSkeleton(
  ctx: AppContext,
  slug: string,
  query: URLSearchParams,
  imageId: number,
  on: AnnotationListHandlers & { tags: TagsBoxHandlers; review: ReviewBoxHandlers; reads: ReadsBoxHandlers },
): AnnotateUi {
  const crumbImage = h("span", { "data-testid": "crumb-image" }, `Image ${imageId}`);
  const crumbs = h(
    "nav",
    { class: "crumbs" },
    h("a", { href: "/", "data-link": true }, "Projects"),
    " / ",
    h("a", { href: worklistPath(slug, query), "data-link": true, "data-testid": "back-to-worklist" }, "Worklist"),
    " / ",
    crumbImage,
  );
  const save = saveStatus();
  const viewportEl = h("div", { class: "viewport" });
  viewportEl.addEventListener("contextmenu", (e) => e.preventDefault());
  const corners = viewerCorners();
  const notice = h("div", { class: "viewer-notice" });
  const assistInfo = h("div", { class: "assist-info", "data-testid": "assist-info" });
  const wrap = h("div", { class: "viewer-wrap", "data-testid": "viewer" }, viewportEl, ...corners.els, notice, assistInfo);
  const toolbarSlot = h("div", { class: "toolbar-slot" });
  const pickerSlot = h("div", {});
  const annList = annotationList(on);
  const imageStatus = h("p", { class: "image-status", "data-testid": "image-status" });
  const review = reviewBox(on.review);
  const reads = readsBox(on.reads);
  const tags = tagsBox(on.tags);
  const conflictSlot = h("div", {});
  const errorSlot = h("div", {});
  const sidebar = h(
    "aside",
    { class: "sidebar" },
    conflictSlot,
    errorSlot,
    imageStatus,
    review.el,
    reads.el,
    h("h2", {}, "Class for new labels"),
    pickerSlot,
    h("h2", {}, "Labels on this image"),
    annList.el,
    h("h2", {}, "Image tags"),
    tags.el,
  );
  const page = h("div", { class: "page annotate" }, topBar(ctx, crumbs, save.el), toolbarSlot, h("main", { class: "stage" }, wrap, sidebar));
  return { page, wrap, viewportEl, notice, assistInfo, crumbImage, corners, saveStatus: save, toolbarSlot, pickerSlot, annList, imageStatus, review, reads, tags, conflictSlot, errorSlot };
}
