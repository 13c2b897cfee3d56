import { expect, test } from "vitest";
import { LineSplitter, readNdjson } from "./ndjson";

test("lines split across chunks are joined", () => {
  const s = new LineSplitter();
  expect(s.push('{"a":1}\n{"b"')).toEqual(['{"a":1}']);
  expect(s.push(':2}\n\n')).toEqual(['{"b":2}']);
  expect(s.push('{"c":3}')).toEqual([]);
  expect(s.flush()).toEqual(['{"c":3}']);
});

test("a body read in pieces gives every event in order, UTF-8 split mid-character", async () => {
  const bytes = new TextEncoder().encode('{"type":"stdout","text":"é"}\n{"type":"end"}\n');
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      for (let i = 0; i < bytes.length; i += 5) c.enqueue(bytes.slice(i, i + 5));
      c.close();
    },
  });
  const events: unknown[] = [];
  await readNdjson(body, (e) => events.push(e));
  expect(events).toEqual([{ type: "stdout", text: "é" }, { type: "end" }]);
});
