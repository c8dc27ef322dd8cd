// Every audit-record field is attacker-chosen text: nothing in the panel may parse strings
// as HTML or code. This scans the panel's source (and index.html) for the APIs that do.
import { describe, expect, it } from "vitest";

const sources = import.meta.glob(["../src/**/*", "../index.html"], { query: "?raw", import: "default", eager: true }) as Record<
  string,
  string
>;

const FORBIDDEN: [string, RegExp][] = [
  ["innerHTML", /\binnerHTML\b/],
  ["outerHTML", /\bouterHTML\b/],
  ["insertAdjacentHTML", /\binsertAdjacentHTML\b/],
  ["document.write", /\bdocument\s*\.\s*write(ln)?\b/],
  ["createContextualFragment", /\bcreateContextualFragment\b/],
  ["DOMParser", /\bDOMParser\b/],
  ["srcdoc", /\bsrcdoc\b/],
  ["eval", /\beval\s*\(/],
  ["new Function", /\bnew\s+Function\s*\(/],
  ["setTimeout/setInterval with a string", /\bset(Timeout|Interval)\s*\(\s*["'`]/],
  ["setAttribute of an on* handler", /setAttribute\s*\(\s*["'`]on/i],
  ["setAttribute of style", /setAttribute\s*\(\s*["'`]style/i],
  ["inline handler in HTML", /<[^>]+\son[a-z]+\s*=/i],
  ["inline style in HTML", /<[^>]+\sstyle\s*=/i],
  ["inline script in HTML", /<script(?![^>]*\bsrc=)[^>]*>/i],
];

describe("forbidden APIs", () => {
  it("finds the panel's source files", () => {
    const names = Object.keys(sources);
    expect(names.some((n) => n.endsWith("src/app.ts"))).toBe(true);
    expect(names.some((n) => n.endsWith("src/h.ts"))).toBe(true);
    expect(names.some((n) => n.endsWith("src/pages/alerts.ts"))).toBe(true);
    expect(names.some((n) => n.endsWith("index.html"))).toBe(true);
  });

  it("would catch each forbidden use", () => {
    const samples = [
      "el.innerHTML = x",
      "el.outerHTML = x",
      "el.insertAdjacentHTML('beforeend', x)",
      "document.write(x)",
      "range.createContextualFragment(x)",
      "new DOMParser()",
      "frame.srcdoc = x",
      "eval(x)",
      "new Function(x)",
      "setTimeout('alert(1)', 1)",
      "el.setAttribute('onclick', x)",
      'el.setAttribute("style", x)',
      '<img src=x onerror="a()">',
      '<div style="color:red">',
      "<script>alert(1)</script>",
    ];
    samples.forEach((s, i) => expect(FORBIDDEN[i][1].test(s), s).toBe(true));
  });

  for (const [name, re] of FORBIDDEN) {
    it(`no ${name} in ui/src or ui/index.html`, () => {
      const hits = Object.entries(sources)
        .filter(([, text]) => re.test(text))
        .map(([file]) => file);
      expect(hits).toEqual([]);
    });
  }
});
