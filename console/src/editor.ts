// The code editor: CodeMirror 6 with the playground's four languages.
// Tab is left to move focus (keyboard users leave the editor with it);
// Ctrl/Cmd+Enter runs the code.
//
// The editor lives in a shadow root: there CodeMirror styles itself with
// constructed style sheets (adoptedStyleSheets) instead of a <style>
// element, which the console's CSP (style-src 'self') would refuse.
import { basicSetup } from "codemirror";
import { closeCompletion } from "@codemirror/autocomplete";
import { Compartment, EditorState, Prec } from "@codemirror/state";
import { EditorView, keymap } from "@codemirror/view";
import { StreamLanguage } from "@codemirror/language";
import { python } from "@codemirror/lang-python";
import { javascript } from "@codemirror/lang-javascript";
import { shell } from "@codemirror/legacy-modes/mode/shell";
import { oneDark } from "@codemirror/theme-one-dark";
import type { Language } from "./api";

// Sizes, fonts and the focus ring (the page's style.css does not reach
// into the shadow root; its custom properties do).
const layout = EditorView.theme({
  "&": { minHeight: "14rem", maxHeight: "60vh", fontSize: "0.9rem" },
  "&.cm-focused": { outline: "3px solid var(--focus, #1d4ed8)", outlineOffset: "-3px" },
  ".cm-scroller": {
    fontFamily: 'ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", "Liberation Mono", Menlo, monospace',
    overflow: "auto",
  },
  ".cm-content": { tabSize: "4" },
  "@media (max-width: 640px)": { "&": { minHeight: "10rem", maxHeight: "45vh" } },
});

function languageSupport(lang: Language) {
  switch (lang) {
    case "python":
      return python();
    case "javascript":
      return javascript();
    case "typescript":
      return javascript({ typescript: true });
    case "bash":
      return StreamLanguage.define(shell);
  }
}

export interface CodeEditor {
  view: EditorView;
  getCode(): string;
  setCode(code: string): void;
  setLanguage(lang: Language): void;
  focus(): void;
  closePopups(): void;
}

export function createEditor(
  parent: HTMLElement,
  opts: { code: string; language: Language; label: string; onRun: () => void; onChange?: () => void },
): CodeEditor {
  const lang = new Compartment();
  const shadow = parent.attachShadow({ mode: "open" });
  const dark = window.matchMedia?.("(prefers-color-scheme: dark)").matches ?? false;
  const view = new EditorView({
    parent: shadow,
    root: shadow,
    state: EditorState.create({
      doc: opts.code,
      extensions: [
        basicSetup,
        dark ? oneDark : [],
        layout,
        lang.of(languageSupport(opts.language)),
        Prec.highest(
          keymap.of([
            {
              key: "Mod-Enter",
              run: (v) => {
                closeCompletion(v);
                opts.onRun();
                return true;
              },
            },
          ]),
        ),
        EditorView.contentAttributes.of({ "aria-label": opts.label }),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) opts.onChange?.();
        }),
      ],
    }),
  });
  return {
    view,
    getCode: () => view.state.doc.toString(),
    setCode: (code) =>
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: code } }),
    setLanguage: (l) => view.dispatch({ effects: lang.reconfigure(languageSupport(l)) }),
    focus: () => view.focus(),
    closePopups: () => void closeCompletion(view),
  };
}
