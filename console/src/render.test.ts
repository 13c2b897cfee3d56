import { expect, test } from "vitest";
import { niceTicks } from "./chart";
import { folderListing, normalizeFolder } from "./drive_tree";
import { parseMarkdown } from "./markdown";
import { estimateFrameHeight, frameDocument, preferredKind } from "./results";
import { usageCsv } from "./pages/usage";

test("the richest rendering is shown first; JSON scalars as text", () => {
  expect(preferredKind({ text: "df", html: "<table>" })).toBe("html");
  expect(preferredKind({ text: "<Figure>", png: "AAAA" })).toBe("png");
  expect(preferredKind({ text: "3", json: 3 })).toBe("text");
  expect(preferredKind({ text: "[1]", json: [1] })).toBe("json");
  expect(preferredKind({})).toBe(null);
});

test("frame documents carry their own restrictive policy before the content", () => {
  const doc = frameDocument("<script>x()</script>", "http://127.0.0.1:8420");
  const csp = doc.indexOf("Content-Security-Policy");
  expect(csp).toBeGreaterThan(0);
  expect(csp).toBeLessThan(doc.indexOf("<script>"));
  expect(doc).toContain("default-src 'none'");
  expect(doc).toContain("style-src http://127.0.0.1:8420/console/frame.css");
  expect(doc).not.toContain("script-src");
});

test("frame heights follow the content, within bounds", () => {
  expect(estimateFrameHeight("html", "<table>" + "<tr><td>1</td></tr>".repeat(4) + "</table>")).toBe(144);
  expect(estimateFrameHeight("html", "<tr>".repeat(1000))).toBe(480);
  expect(estimateFrameHeight("svg", '<svg width="10" height="300pt">')).toBe(424);
});

test("nice ticks", () => {
  expect(niceTicks(0)).toEqual([0, 1]);
  expect(niceTicks(9)).toEqual([0, 2.5, 5, 7.5, 10]);
  expect(niceTicks(100)).toEqual([0, 25, 50, 75, 100]);
  expect(niceTicks(7)).toEqual([0, 2, 4, 6, 8]);
});

test("Drive folders come from the files' paths", () => {
  const files = [
    { path: "/a.txt", size: 1 },
    { path: "/data/q4.csv", size: 10 },
    { path: "/data/2026/jan.csv", size: 5 },
    { path: "/data2/x.csv", size: 2 },
  ];
  const root = folderListing(files, "/");
  expect(root.files.map((f) => f.path)).toEqual(["/a.txt"]);
  expect(root.folders.map((f) => [f.name, f.files, f.size])).toEqual([
    ["data", 2, 15],
    ["data2", 1, 2],
  ]);
  const data = folderListing(files, "/data/");
  expect(data.files.map((f) => f.path)).toEqual(["/data/q4.csv"]);
  expect(data.folders.map((f) => f.path)).toEqual(["/data/2026"]);
  expect(normalizeFolder("/../data//x/")).toBe("/data/x");
});

test("SKILL.md blocks", () => {
  const blocks = parseMarkdown("# Title\n\nSome `code` here\nand more.\n\n- one\n- two\n\n```python\nprint(1)\n```\n");
  expect(blocks.map((b) => b.kind)).toEqual(["heading", "para", "list", "code"]);
  expect(blocks[1].text).toBe("Some `code` here and more.");
  expect(blocks[2].items).toEqual(["one", "two"]);
  expect(blocks[3]).toMatchObject({ lang: "python", text: "print(1)" });
});

test("the daily CSV has every day of the period, zeros included", () => {
  const csv = usageCsv(
    {
      workspace: "w",
      sandboxes: 1,
      session_seconds: 10,
      active_seconds: 2,
      cpu_seconds: 1,
      executions: 3,
      credits: null,
      by_day: [{ date: "2026-01-02", sandboxes: 1, session_seconds: 10, active_seconds: 2, cpu_seconds: 1, executions: 3 }],
    },
    "2026-01-01",
    "2026-01-03",
  );
  expect(csv.trim().split("\r\n")).toEqual([
    "date,sandboxes,session_seconds,active_seconds,cpu_seconds,executions,credits_used",
    "2026-01-01,0,0,0,0,0,0",
    "2026-01-02,1,10,2,1,3,2",
    "2026-01-03,0,0,0,0,0,0",
  ]);
});
