import type { ImageListItem } from "../api/types";

type Known = Pick<ImageListItem, "id" | "instance_number" | "frame_number" | "dicom_url">;

/**
 * wadouri image ids for a series, from the `dicom_url` the API sends with each image: ids the
 * listing did not include are left out of the stack. Frames of one multi-frame instance share one
 * URL (so the file is fetched once) and use the loader's `?frame=N` syntax (1-based);
 * single-frame instances use the plain URL.
 */
export function wadouriImageIds(
  seriesIds: number[],
  known: Map<number, Known>,
  origin: string,
): { ids: number[]; imageIds: string[] } {
  const imageIds = seriesIds.filter((id) => known.has(id));
  const byInstance = new Map<string, number[]>();
  const instanceOf = (id: number) => {
    const item = known.get(id);
    return item && item.instance_number != null ? `i${item.instance_number}` : `id${id}`;
  };
  for (const id of imageIds) {
    const k = instanceOf(id);
    const group = byInstance.get(k) ?? [];
    group.push(id);
    byInstance.set(k, group);
  }
  // instance numbers are not unique in every series: only frames with distinct numbers form one instance
  for (const [k, group] of byInstance) {
    const frames = new Set(group.map((id) => known.get(id)!.frame_number));
    if (frames.size !== group.length) {
      byInstance.delete(k);
      for (const id of group) byInstance.set(`id${id}`, [id]);
    }
  }
  const groupOf = (id: number) => byInstance.get(instanceOf(id)) ?? byInstance.get(`id${id}`)!;
  return {
    ids: imageIds,
    imageIds: imageIds.map((id) => {
      const group = groupOf(id);
      const frame = known.get(id)!.frame_number;
      const url = `${origin}${known.get(group.length > 1 ? group[0] : id)!.dicom_url}`;
      return group.length > 1 || frame > 1 ? `wadouri:${url}?frame=${frame}` : `wadouri:${url}`;
    }),
  };
}
