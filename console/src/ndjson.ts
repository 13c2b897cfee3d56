// Splits a stream of text chunks into complete lines (NDJSON: one JSON
// value per line). A chunk may end mid-line; the rest waits for the next.
export class LineSplitter {
  private rest = "";

  push(chunk: string): string[] {
    const text = this.rest + chunk;
    const lines = text.split("\n");
    this.rest = lines.pop() ?? "";
    return lines.filter((l) => l.trim() !== "");
  }

  flush(): string[] {
    const last = this.rest;
    this.rest = "";
    return last.trim() === "" ? [] : [last];
  }
}

// Reads an NDJSON response body, calling onEvent for each parsed object as
// it arrives. Rejects with the fetch's AbortError when the signal aborts.
export async function readNdjson(
  body: ReadableStream<Uint8Array>,
  onEvent: (ev: Record<string, unknown>) => void,
): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const split = new LineSplitter();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const text = decoder.decode(value, { stream: true });
    for (const line of split.push(text)) onEvent(JSON.parse(line) as Record<string, unknown>);
  }
  for (const line of split.push(decoder.decode())) onEvent(JSON.parse(line) as Record<string, unknown>);
  for (const line of split.flush()) onEvent(JSON.parse(line) as Record<string, unknown>);
}
