import { describe, expect, test } from "vitest";
import { dateRange, formatBytes, formatDuration, parentPath, stripAnsi, toCsv, utcDate } from "./format";

describe("format", () => {
  test("bytes", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(512 * 1024 * 1024)).toBe("512 MiB");
  });
  test("durations", () => {
    expect(formatDuration(42)).toBe("42 s");
    expect(formatDuration(125)).toBe("2 min 5 s");
    expect(formatDuration(3 * 3600 + 120)).toBe("3 h 2 min");
    expect(formatDuration(2 * 86400 + 3600)).toBe("2 d 1 h");
  });
  test("dates in UTC", () => {
    const now = new Date("2026-03-01T10:00:00Z");
    expect(utcDate(0, now)).toBe("2026-03-01");
    expect(utcDate(1, now)).toBe("2026-02-28");
    expect(dateRange("2026-02-27", "2026-03-01")).toEqual(["2026-02-27", "2026-02-28", "2026-03-01"]);
  });
  test("ANSI colour codes are removed from tracebacks", () => {
    expect(stripAnsi("\u001b[31mValueError\u001b[0m: x")).toBe("ValueError: x");
  });
  test("CSV quotes what needs quoting and defuses formulas", () => {
    expect(toCsv([["a", "b,c", 'say "hi"'], [1, null, "=SUM(A1)"]])).toBe(
      'a,"b,c","say ""hi"""\r\n1,,\'=SUM(A1)\r\n',
    );
  });
  test("paths", () => {
    expect(parentPath("/home/user/x")).toBe("/home/user");
    expect(parentPath("/home")).toBe("/");
  });
});
