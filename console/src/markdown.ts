// A small Markdown reader for SKILL.md: headings, paragraphs, lists, fenced
// code, inline code and bold. It builds elements with text nodes only; a
// link shows its text and address, never as something to click.
import { h } from "./dom";

export interface Block {
  kind: "heading" | "para" | "list" | "code";
  level?: number;
  ordered?: boolean;
  lang?: string;
  text?: string;
  items?: string[];
}

export function parseMarkdown(src: string): Block[] {
  const lines = src.replace(/\r\n?/g, "\n").split("\n");
  const blocks: Block[] = [];
  let para: string[] = [];
  let list: Block | null = null;
  const flush = () => {
    if (para.length) blocks.push({ kind: "para", text: para.join(" ") });
    para = [];
    if (list) blocks.push(list);
    list = null;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = /^\s*(```|~~~)\s*([\w+-]*)/.exec(line);
    if (fence) {
      flush();
      const body: string[] = [];
      i += 1;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++]);
      blocks.push({ kind: "code", lang: fence[2] || "", text: body.join("\n") });
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      flush();
      blocks.push({ kind: "heading", level: heading[1].length, text: heading[2].trim() });
      continue;
    }
    const item = /^\s*([-*+]|\d+[.)])\s+(.*)$/.exec(line);
    if (item) {
      if (para.length) {
        blocks.push({ kind: "para", text: para.join(" ") });
        para = [];
      }
      const ordered = /\d/.test(item[1]);
      if (!list || list.ordered !== ordered) {
        if (list) blocks.push(list);
        list = { kind: "list", ordered, items: [] };
      }
      list.items!.push(item[2]);
      continue;
    }
    if (line.trim() === "") {
      flush();
      continue;
    }
    if (list && /^\s{2,}\S/.test(line)) {
      list.items![list.items!.length - 1] += " " + line.trim();
      continue;
    }
    if (list) {
      blocks.push(list);
      list = null;
    }
    para.push(line.trim());
  }
  flush();
  return blocks;
}

// Inline: `code`, **bold**, [text](url) -> "text (url)".
export function inline(text: string): (Node | string)[] {
  const out: (Node | string)[] = [];
  const re = /`([^`]+)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\(([^)\s]+)\)/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    if (m[1] !== undefined) out.push(h("code", null, m[1]));
    else if (m[2] !== undefined) out.push(h("strong", null, m[2]));
    else out.push(`${m[3]} (${m[4]})`);
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

export function renderMarkdown(
  src: string,
  codeActions?: (code: string, lang: string) => HTMLElement | null,
  headingOffset = 1,
): HTMLElement {
  const root = h("div", { class: "markdown" });
  for (const b of parseMarkdown(src)) {
    if (b.kind === "heading") {
      const level = Math.min(6, (b.level ?? 1) + headingOffset);
      root.appendChild(h(`h${level}` as "h2", null, inline(b.text ?? "")));
    } else if (b.kind === "para") {
      root.appendChild(h("p", null, inline(b.text ?? "")));
    } else if (b.kind === "list") {
      const items = (b.items ?? []).map((t) => h("li", null, inline(t)));
      root.appendChild(b.ordered ? h("ol", null, items) : h("ul", null, items));
    } else {
      const pre = h("pre", { class: "code-block" }, h("code", null, b.text ?? ""));
      const actions = codeActions?.(b.text ?? "", b.lang ?? "");
      root.appendChild(h("div", { class: "code-wrap" }, pre, actions));
    }
  }
  return root;
}
