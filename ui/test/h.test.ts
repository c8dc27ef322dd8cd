import { describe, expect, it } from "vitest";
import { h, replace, setText, svg } from "../src/h";
import { shown } from "../src/format";

describe("h()", () => {
  it("puts strings in as text, never as markup", () => {
    const evil = "<img src=x onerror=alert(1)><script>alert(2)</script>";
    const el = h("div", { title: evil, "data-x": evil }, evil, h("span", null, evil));
    expect(el.querySelector("img, script")).toBeNull();
    expect(el.textContent).toBe(evil + evil);
    expect(el.getAttribute("title")).toBe(evil);
    expect(el.childNodes[0].nodeType).toBe(Node.TEXT_NODE);
  });

  it("refuses on* and style attributes given as strings", () => {
    expect(() => h("div", { onclick: "alert(1)" })).toThrow(/onclick/);
    expect(() => h("div", { ONERROR: "x" })).toThrow();
    expect(() => h("div", { style: "color:red" })).toThrow(/style/);
  });

  it("attaches listeners only as functions", () => {
    let clicked = 0;
    const b = h("button", { type: "button", on: { click: () => clicked++ } }, "Go");
    b.click();
    expect(clicked).toBe(1);
    expect(b.getAttribute("on")).toBeNull();
    expect(() => h("button", { on: { click: "alert(1)" as unknown as () => void } })).toThrow();
  });

  it("sets live properties and skips false/null attributes", () => {
    const i = h("input", { type: "checkbox", checked: true, disabled: false, title: null });
    expect(i.checked).toBe(true);
    expect(i.hasAttribute("disabled")).toBe(false);
    expect(i.hasAttribute("title")).toBe(false);
  });

  it("replace() swaps children for text", () => {
    const el = h("div", null, h("b", null, "old"));
    replace(el, "<b>new</b>", 3);
    expect(el.children.length).toBe(0);
    expect(el.textContent).toBe("<b>new</b>3");
  });
});

describe("svg()", () => {
  it("builds SVG elements with text children and text attributes only", () => {
    const evil = "<img src=x onerror=alert(1)>\u202E";
    const r = svg("rect", { width: 4, "aria-label": evil, "data-x": evil }, svg("title", null, evil));
    expect(r.namespaceURI).toBe("http://www.w3.org/2000/svg");
    expect(r.querySelector("img")).toBeNull();
    expect(r.querySelector("title")!.textContent).toBe("<img src=x onerror=alert(1)><U+202E>");
    expect(r.getAttribute("aria-label")).toBe("<img src=x onerror=alert(1)><U+202E>");
    expect(r.getAttribute("width")).toBe("4");
  });

  it("refuses on*, style and href attributes", () => {
    expect(() => svg("svg", { onload: "alert(1)" })).toThrow(/onload/);
    expect(() => svg("rect", { style: "fill:red" })).toThrow(/style/);
    expect(() => svg("use", { href: "#x" })).toThrow(/href/);
    expect(() => svg("use", { "xlink:href": "#x" })).toThrow(/href/);
  });
});

describe("shown() and the invisible characters", () => {
  it("escapes control characters and names bidi and zero-width ones, as the CLI does", () => {
    expect(shown("a\u001b[2Kb\rc\u001b]8;;http://evil\u0007d\u009b\u007f")).toBe(
      "a\\u{1b}[2Kb\\u{d}c\\u{1b}]8;;http://evil\\u{7}d\\u{9b}\\u{7f}",
    );
    expect(shown("ceo@\u202Emoc.live")).toBe("ceo@<U+202E>moc.live");
    for (const c of ["\u202A", "\u202D", "\u2066", "\u2069", "\u200E", "\u200F", "\u061C", "\u200B", "\u200D", "\u2060", "\uFEFF"]) {
      const hex = c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
      expect(shown(`x${c}y`)).toBe(`x<U+${hex}>y`);
    }
    expect(shown("Zoë 山田 محمد")).toBe("Zoë 山田 محمد");
  });

  it("every text node and tooltip of the panel shows them; a <pre>'s line breaks and ids stay", () => {
    const el = h("div", { title: "a\u202Eb\r", "data-key": "k\u200Bk" }, "rule \u202Egnp.exe\u001b[2K", h("span", null, "\u200B\n"));
    expect(el.textContent).toBe("rule <U+202E>gnp.exe\\u{1b}[2K<U+200B>\\u{a}");
    expect(el.getAttribute("title")).toBe("a<U+202E>b\\u{d}");
    expect(el.getAttribute("data-key")).toBe("k\u200Bk");
    setText(el, "\u2066x");
    expect(el.textContent).toBe("<U+2066>x");
    const pre = h("pre", null, "{\n  \"Name\": \"\u202Etxt\"\n}");
    expect(pre.textContent).toBe('{\n  "Name": "<U+202E>txt"\n}');
  });
});
