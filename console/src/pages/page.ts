export interface Page {
  title: string;
  root: HTMLElement;
  // Called on every navigation to the page (params from the hash's query,
  // rest: the path segments after the page's name).
  show(params: URLSearchParams, rest: string[]): void;
  // Called when another page is shown: stop polling.
  hide(): void;
}

// Runs fn now and every `ms` while started; skips a tick while one is still
// running, and while the tab is hidden.
export class Poller {
  private timer: number | null = null;
  private busy = false;

  constructor(
    private readonly fn: () => Promise<void>,
    private readonly ms: number,
  ) {}

  start(): void {
    this.stop();
    void this.tick();
    this.timer = window.setInterval(() => void this.tick(), this.ms);
  }

  stop(): void {
    if (this.timer !== null) window.clearInterval(this.timer);
    this.timer = null;
  }

  get running(): boolean {
    return this.timer !== null;
  }

  async tick(): Promise<void> {
    if (this.busy || document.visibilityState === "hidden") return;
    this.busy = true;
    try {
      await this.fn();
    } finally {
      this.busy = false;
    }
  }
}
