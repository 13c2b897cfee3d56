// Syntax check for /v1/validate: parses (never runs) the code on stdin and
// prints a JSON list of {line, column, message}. Runs inside a sandbox.
// Usage: node check_js.js javascript|typescript
"use strict";
const fs = require("fs");
const path = require("path");
const src = fs.readFileSync(0, "utf8");
const language = process.argv[2] || "javascript";
const modules = path.join(__dirname, "..", "node", "node_modules");
const errors = [];

function tryRequire(name) {
  try {
    return require(path.join(modules, name));
  } catch (e) {
    return null;
  }
}

if (language === "typescript") {
  const ts = tryRequire("typescript");
  if (!ts) {
    errors.push({ line: null, column: null, message: "the typescript package is not installed" });
  } else {
    const sf = ts.createSourceFile("cell.ts", src, ts.ScriptTarget.Latest, true);
    for (const d of sf.parseDiagnostics || []) {
      const pos = sf.getLineAndCharacterOfPosition(d.start || 0);
      errors.push({
        line: pos.line + 1,
        column: pos.character + 1,
        message: ts.flattenDiagnosticMessageText(d.messageText, "\n"),
      });
    }
  }
} else {
  const acorn = tryRequire("acorn");
  if (acorn) {
    try {
      acorn.parse(src, { ecmaVersion: "latest", sourceType: "module", allowAwaitOutsideFunction: true,
                         allowReturnOutsideFunction: false, locations: true });
    } catch (e) {
      const loc = e.loc || { line: null, column: null };
      errors.push({ line: loc.line, column: loc.column === null ? null : loc.column + 1,
                    message: String(e.message).replace(/ \(\d+:\d+\)$/, "") });
    }
  } else {
    try {
      new (require("vm").Script)(src, { filename: "cell.js" });
    } catch (e) {
      const m = /cell\.js:(\d+)/.exec(e.stack || "");
      errors.push({ line: m ? Number(m[1]) : null, column: null, message: e.message });
    }
  }
}
process.stdout.write(JSON.stringify(errors) + "\n");
