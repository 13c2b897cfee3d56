// Drive stores files by path; folders are the paths' prefixes. This turns a
// flat list into one folder's subfolders and files.
export interface Listing<F extends { path: string; size: number }> {
  folders: { name: string; path: string; files: number; size: number }[];
  files: F[];
}

export function normalizeFolder(folder: string): string {
  const parts = folder.split("/").filter((p) => p && p !== "." && p !== "..");
  return "/" + parts.join("/");
}

export function folderListing<F extends { path: string; size: number }>(
  all: F[],
  folder: string,
): Listing<F> {
  const base = normalizeFolder(folder);
  const prefix = base === "/" ? "/" : base + "/";
  const folders = new Map<string, { name: string; path: string; files: number; size: number }>();
  const files: F[] = [];
  for (const f of all) {
    if (!f.path.startsWith(prefix)) continue;
    const rest = f.path.slice(prefix.length);
    const slash = rest.indexOf("/");
    if (slash < 0) {
      files.push(f);
      continue;
    }
    const name = rest.slice(0, slash);
    const entry = folders.get(name) ?? { name, path: prefix + name, files: 0, size: 0 };
    entry.files += 1;
    entry.size += f.size;
    folders.set(name, entry);
  }
  return {
    folders: [...folders.values()].sort((a, b) => a.name.localeCompare(b.name)),
    files: files.sort((a, b) => a.path.localeCompare(b.path)),
  };
}
