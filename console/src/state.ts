// State the pages share: the playground's sandbox, and code another page
// hands to the playground ("open in playground").
import type { Language } from "./api";

const SANDBOX_KEY = "kiln.sandbox";

type Listener = () => void;
const listeners = new Set<Listener>();

export const shared = {
  get sandboxId(): string | null {
    return sessionStorage.getItem(SANDBOX_KEY);
  },
  set sandboxId(id: string | null) {
    if (id) sessionStorage.setItem(SANDBOX_KEY, id);
    else sessionStorage.removeItem(SANDBOX_KEY);
    for (const l of listeners) l();
  },
  pendingCode: null as { code: string; language: Language; from: string } | null,
};

export function onSandboxChange(fn: Listener): void {
  listeners.add(fn);
}

export function navigate(hash: string): void {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = hash;
}
