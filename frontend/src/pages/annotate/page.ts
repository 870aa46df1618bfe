/**
 * What the annotate page's parts share: its mutable state in one object, its elements, and the
 * few page-wide actions (render, select, change tool) every part calls.
 */
import type { AppContext } from "../../app";
import type { Box, ImageDetail, ImageRead, LabelClass } from "../../api/types";
import type { annotationList } from "../../components/AnnotationList";
import type { LabelPicker } from "../../components/LabelPicker";
import type { readsBox } from "../../components/ReadsBox";
import type { reviewBox } from "../../components/ReviewBox";
import type { SaveStatus } from "../../components/SaveStatus";
import type { TagsBox } from "../../components/TagsBox";
import type { Toolbar } from "../../components/Toolbar";
import type { ViewerCorners } from "../../components/ViewerCorners";
import type { EditMode } from "../../editing/controller";
import type { AnnotationDoc } from "../../editing/document";
import type { SaveQueue } from "../../sync/saveQueue";
import type { CommandRegistry } from "../../viewer/commands";
import type { AnnotationOverlay, OverlayState } from "../../viewer/overlay";
import type { WindowPreset } from "../../viewer/presets";
import type { Mask } from "../../viewer/rle";
import type { MeasureTool } from "../../viewer/toolGroups";
import type { StackView } from "../../viewer/viewports";

/** A label to lay on the next slice once its labels are loaded; `fit`: propagate (fit it there by box → mask). */
export interface Carried {
  imageId: number;
  label_class: number;
  box: Box;
  mask: Mask | null;
  width: number;
  height: number;
  fit: boolean;
}

export interface AnnotateState {
  /** the image being labelled: the slice shown, once its labels are loaded */
  imageId: number;
  image: ImageDetail | null;
  /** its labels, tags, status and undo history */
  doc: AnnotationDoc;
  view: StackView | null;
  overlay: AnnotationOverlay | null;
  /** the stack index of the image being labelled */
  annotatedIndex: number;
  sliceIds: number[];
  classes: Map<number, LabelClass>;
  mode: EditMode;
  measureTool: MeasureTool | null;
  selectedKey: string | null;
  activeClass: number | null;
  brushRadius: number;
  threshold: { enabled: boolean; lower: number; upper: number };
  showProposals: boolean;
  showAccepted: boolean;
  outline: boolean;
  opacity: number;
  /** the image's values are Hounsfield units: the threshold brush applies */
  hu: boolean;
  cursor: OverlayState["cursor"];
  draft: OverlayState["draft"];
  presets: WindowPreset[];
  presetIndex: number;
  /** the window the radiologist chose (a drag or a preset): it stays while scrolling the series */
  userWindow: { center: number; width: number } | null;
  windowDrag: boolean;
  modalEl: HTMLElement | null;
  toolbar: Toolbar | null;
  picker: LabelPicker | null;
  /** the first pixels are on screen */
  rendered: boolean;
  /** the animation frame an overlay render waits for */
  frame: number;
  /** counts slice switches: a later scroll wins over a load still on its way */
  switching: number;
  carried: Carried | null;
  /** the assist's last label while it is still an unreviewed proposal: a new box replaces it */
  assisted: string | null;
  /** counts box → mask requests: only the latest one's answer is laid */
  assistSeq: number;
  /** a reviewer chose to edit the submitted image's labels (else they are read-only to them) */
  reviewEditing: boolean;
  /** another reader holds the image's lease */
  heldBy: string | null;
  /** the image's independent reads, for a reviewer adjudicating it (two or more) */
  reads: ImageRead[];
}

export function initialState(imageId: number, doc: AnnotationDoc): AnnotateState {
  return {
    imageId,
    image: null,
    doc,
    view: null,
    overlay: null,
    annotatedIndex: 0,
    sliceIds: [],
    classes: new Map(),
    mode: "select",
    measureTool: null,
    selectedKey: null,
    activeClass: null,
    brushRadius: 6,
    threshold: { enabled: false, lower: -500, upper: 500 },
    showProposals: true,
    showAccepted: true,
    outline: false,
    opacity: 1,
    hu: false,
    cursor: null,
    draft: null,
    presets: [],
    presetIndex: -1,
    userWindow: null,
    windowDrag: false,
    modalEl: null,
    toolbar: null,
    picker: null,
    rendered: false,
    frame: 0,
    switching: 0,
    carried: null,
    assisted: null,
    assistSeq: 0,
    reviewEditing: false,
    heldBy: null,
    reads: [],
  };
}

/** The page's elements. */
export interface AnnotateUi {
  page: HTMLElement;
  wrap: HTMLElement;
  viewportEl: HTMLDivElement;
  notice: HTMLElement;
  /** what the box → mask assist last did (engine, time, why it fell back) */
  assistInfo: HTMLElement;
  crumbImage: HTMLElement;
  corners: ViewerCorners;
  saveStatus: SaveStatus;
  toolbarSlot: HTMLElement;
  pickerSlot: HTMLElement;
  annList: ReturnType<typeof annotationList>;
  imageStatus: HTMLElement;
  review: ReturnType<typeof reviewBox>;
  reads: ReturnType<typeof readsBox>;
  tags: TagsBox;
  conflictSlot: HTMLElement;
  errorSlot: HTMLElement;
}

export interface AnnotatePage {
  readonly ctx: AppContext;
  readonly slug: string;
  readonly query: URLSearchParams;
  readonly queue: SaveQueue;
  readonly signal: AbortSignal;
  readonly s: AnnotateState;
  readonly ui: AnnotateUi;
  readonly commands: CommandRegistry;
  /** run on unmount, last first */
  readonly cleanups: (() => void)[];
  /** redraw the overlay on the next frame */
  render: () => void;
  renderNow: () => void;
  renderSidebar: () => void;
  renderCorners: () => void;
  /** the notice over the viewer */
  status: (text: string) => void;
  /** Selection is looking: it saves nothing and leaves the class for new labels as it is. */
  select: (key: string | null) => void;
  setMode: (m: EditMode, tool?: MeasureTool | null) => void;
  /** the time spent on the image so far goes to the save queue */
  commitActivity: () => void;
  /** a fresh document for an image, wired to the save queue and the page */
  newDoc: (id: number) => AnnotationDoc;
}
