import { describe, expect, it } from "vitest";
import { h, replace } from "../src/h";

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
