// Skills: the folders of instructions and helpers every sandbox sees at
// /skills/<name>. Read SKILL.md and the skill's files; open a code sample
// or a file in the playground.
import { api, describeError, type Language, type Skill, type SkillSummary } from "../api";
import { button, h, replace } from "../dom";
import { renderMarkdown } from "../markdown";
import { navigate, shared } from "../state";
import type { Page } from "./page";

export function languageFor(nameOrLang: string): Language | null {
  const l = nameOrLang.toLowerCase();
  const ext = l.includes(".") ? l.slice(l.lastIndexOf(".") + 1) : l;
  if (["py", "python"].includes(ext)) return "python";
  if (["js", "mjs", "javascript", "node"].includes(ext)) return "javascript";
  if (["ts", "typescript"].includes(ext)) return "typescript";
  if (["sh", "bash", "shell"].includes(ext)) return "bash";
  return null;
}

export function createSkills(): Page {
  let skills: SkillSummary[] = [];
  const listHost = h("nav", { class: "skills-list", "aria-label": "Skills" });
  const detail = h("section", { class: "panel skill-detail", "aria-live": "polite" });

  const root = h(
    "div",
    { class: "page skills" },
    h("div", { class: "page-head" }, h("h1", null, "Skills")),
    h(
      "p",
      { class: "hint" },
      "Every sandbox sees these read-only at /skills/<name>/: instructions for an agent plus helpers its code can import.",
    ),
    h("div", { class: "skills-grid" }, listHost, detail),
  );

  function openInPlayground(code: string, language: Language, from: string) {
    shared.pendingCode = { code, language, from };
    navigate("#/playground");
  }

  async function loadList(selected: string | null) {
    try {
      skills = await api.skills();
    } catch (e) {
      replace(listHost, h("p", { class: "error-title", role: "alert" }, describeError(e)));
      return;
    }
    replace(
      listHost,
      skills.length === 0
        ? h("p", { class: "empty" }, "kilnd has no skills loaded (--skills-dir).")
        : h(
            "ul",
            { class: "plain cards" },
            skills.map((s) =>
              h(
                "li",
                null,
                h(
                  "a",
                  {
                    href: `#/skills/${encodeURIComponent(s.name)}`,
                    class: "card-link",
                    "aria-current": s.name === selected ? "page" : null,
                  },
                  h("strong", null, s.name),
                  h("span", { class: "hint" }, s.description),
                ),
              ),
            ),
          ),
    );
  }

  async function showSkill(name: string) {
    replace(detail, h("p", { class: "hint" }, `Loading ${name}…`));
    let skill: Skill;
    try {
      skill = await api.skill(name);
    } catch (e) {
      replace(detail, h("p", { class: "error-title", role: "alert" }, describeError(e)));
      return;
    }
    const viewer = h("div", { class: "file-viewer" });
    const codeFiles = skill.files.filter((f) => languageFor(f));
    const fileButtons = skill.files.map((f) =>
      h(
        "li",
        null,
        button(f, () => void showFile(skill, f, viewer), { class: "link", "aria-label": `Read ${f}` }),
      ),
    );
    const starter = codeFiles[0];
    replace(
      detail,
      h(
        "div",
        { class: "panel-head" },
        h("h2", { id: "skill-heading", tabindex: "-1" }, skill.name),
        starter
          ? button(
              "Open in playground",
              () => void openFile(skill, starter),
              { class: "primary", id: "skill-open" },
            )
          : null,
      ),
      h("p", null, skill.description),
      h("h3", null, "Files"),
      h("ul", { class: "plain file-buttons" }, fileButtons),
      viewer,
      h("h3", null, "SKILL.md"),
      renderMarkdown(
        skill.body,
        (code, lang) => {
          const l = languageFor(lang || "python");
          if (!l || !code.trim()) return null;
          return button("Open in playground", () => openInPlayground(code + "\n", l, `an example from ${skill.name}`), {
            class: "compact",
          });
        },
        2,
      ),
    );
  }

  async function showFile(skill: Skill, file: string, viewer: HTMLElement) {
    replace(viewer, h("p", { class: "hint" }, `Loading ${file}…`));
    try {
      const text = await api.skillFile(skill.name, file);
      const lang = languageFor(file);
      replace(
        viewer,
        h(
          "div",
          { class: "panel-head" },
          h("h3", null, h("code", null, `/skills/${skill.name}/${file}`)),
          lang
            ? button("Open in playground", () => openInPlayground(text, lang, `${skill.name}/${file}`), {
                class: "compact",
              })
            : null,
        ),
        h("pre", { class: "code-block file-text", tabindex: "0", "aria-label": `Contents of ${file}` }, text),
      );
    } catch (e) {
      replace(viewer, h("p", { class: "error-title", role: "alert" }, describeError(e)));
    }
  }

  async function openFile(skill: Skill, file: string) {
    try {
      const text = await api.skillFile(skill.name, file);
      openInPlayground(text, languageFor(file) ?? "python", `${skill.name}/${file}`);
    } catch (e) {
      replace(detail, h("p", { class: "error-title", role: "alert" }, describeError(e)));
    }
  }

  return {
    title: "Skills",
    root,
    show(_params, rest) {
      const name = rest[0] ?? null;
      void loadList(name);
      if (name) void showSkill(name);
      else
        replace(
          detail,
          h("p", { class: "empty" }, "Choose a skill to read its instructions and files."),
        );
    },
    hide() {},
  };
}
