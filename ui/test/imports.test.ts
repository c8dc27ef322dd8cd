// The panel's modules import one way: the shell (app.ts) builds the pages, and the pages
// reach the shell only through ctx.ts, so no import cycle joins them.
import { describe, expect, it } from "vitest";

const sources = import.meta.glob("../src/**/*.ts", { query: "?raw", import: "default", eager: true }) as Record<
  string,
  string
>;

const imports = (text: string): string[] => [...text.matchAll(/^import[^;]*?from\s+"([^"]+)"/gms)].map((m) => m[1]);

describe("import direction", () => {
  it("reads the pages and what they import", () => {
    const pages = Object.keys(sources).filter((n) => n.includes("/pages/"));
    expect(pages.length).toBeGreaterThanOrEqual(4);
    expect(imports(sources["../src/app.ts"])).toContain("./ctx");
  });

  it("no page imports the shell", () => {
    const offenders = Object.entries(sources)
      .filter(([name]) => name.includes("/pages/"))
      .filter(([, text]) => imports(text).some((i) => i === "../app"))
      .map(([name]) => name);
    expect(offenders).toEqual([]);
  });

  it("sections build parts of a page and import neither pages nor the shell", () => {
    const sections = Object.entries(sources).filter(([name]) => name.includes("/sections/"));
    expect(sections.length).toBeGreaterThanOrEqual(2);
    for (const [name, text] of sections) {
      const wrong = imports(text).filter((i) => i.startsWith("../pages") || i === "../app" || i.startsWith("./"));
      expect(wrong, name).toEqual([]);
    }
  });

  it("ctx.ts imports nothing but types", () => {
    const ctx = sources["../src/ctx.ts"];
    for (const line of ctx.split("\n").filter((l) => l.startsWith("import"))) {
      expect(line).toMatch(/^import type /);
    }
  });
});
