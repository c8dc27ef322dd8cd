// What every page is handed and gives back: the panel shell's services (Ctx), the page
// contract (Page), and how a command's error is read. Pages import this, never the
// shell, so the shell (app.ts) can import the pages without a cycle.
import type { Overview } from "./api";

export type PageName = "overview" | "alerts" | "tenants" | "settings";

export interface Page {
  el: HTMLElement;
  /** Re-reads what the page shows. Called on entering the page and on every change. */
  refresh(): Promise<void>;
  /** Called when the page is entered (defaults to refresh). */
  enter?(): Promise<void>;
  /** Called when another page is shown instead (drop anything secret on screen). */
  leave?(): void;
}

export interface Ctx {
  /** Runs a command; a rejection shows its message in #error and resolves to undefined. */
  run<T>(p: Promise<T>): Promise<T | undefined>;
  /** `kind`: the command error's kind, kept on the box (`data-kind`) for the panel to act on. */
  showError(message: string, kind?: string | null): void;
  clearError(): void;
  navigate(page: PageName): void;
  openAlert(id: number): void;
  /** The latest overview (null until the first one arrived). */
  overview(): Overview | null;
  /** Refreshes header and the current page now. */
  refreshAll(): Promise<void>;
}

/** No tenant set up and no sandbox: the Alerts page shows its welcome screen, and the panel opens there. */
export function firstRunFor(o: Overview | null): boolean {
  return !!o && o.tenants === 0 && !o.sandbox;
}

/** A command's error kind (`{kind, message}` from the desktop), for the panel to act on. */
export function errorKind(e: unknown): string | null {
  if (e && typeof e === "object" && "kind" in e && typeof (e as { kind: unknown }).kind === "string") {
    return (e as { kind: string }).kind;
  }
  return null;
}

export function errorMessage(e: unknown): string {
  if (typeof e === "string") return e;
  if (e instanceof Error) return e.message;
  if (e && typeof e === "object" && "message" in e) return String((e as { message: unknown }).message);
  return String(e);
}
