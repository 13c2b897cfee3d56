/**
 * Kiln: run untrusted Python, JavaScript, TypeScript and Bash in sandboxes.
 *
 * ```ts
 * import { Sandbox } from "kiln-sdk";
 * const sandbox = await Sandbox.create();
 * console.log((await sandbox.runCode("6 * 7")).text); // 42
 * await sandbox.kill();
 * ```
 *
 * `KILN_URL` (default http://127.0.0.1:8420) and `KILN_API_KEY` say where
 * kilnd is and which key to send.
 */
export * from "./errors.js";
export * from "./models.js";
export { addObserver, type BodyData, type ClientOptions, type Observer } from "./http.js";
export {
  Actions, Client, CodeStream, CommandHandle, Commands, Drive, Files, Sandbox, Skills,
  type ActionInput, type CallOptions, type OutputHandler, type ReadFormat, type RunCodeOptions,
  type RunCommandOptions, type SandboxOptions,
} from "./sandbox.js";
