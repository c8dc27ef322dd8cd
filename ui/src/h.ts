// The only way the panel builds DOM. Text goes in as text nodes (never parsed as HTML),
// attributes through setAttribute, listeners only as functions. Every string an audit
// record carries is attacker-chosen, so nothing here can turn a string into markup or code,
// and every text node and tooltip shows control characters escaped and names the
// characters that would reorder or hide text (format.ts `shown`, as the CLI prints them).
import { markInvisible, shown } from "./format";

export type Child = Node | string | number | null | undefined | false | Child[];
export type AttrValue = string | number | boolean | null | undefined;
export type Listeners = { [K in keyof HTMLElementEventMap]?: (ev: HTMLElementEventMap[K]) => void };
export interface Attrs {
  [name: string]: AttrValue | Listeners;
  on?: Listeners;
}

// Properties that must be set as properties so the live state follows (not just the default).
const PROPS = new Set(["value", "checked", "disabled", "hidden", "selected", "multiple", "required", "readOnly"]);

// Handlers from strings are code from strings; inline style is refused by the CSP.
function refuseAttr(fn: string, name: string): void {
  if (/^on/i.test(name) || name.toLowerCase() === "style") throw new Error(`${fn}(): refusing attribute ${name}`);
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [name, value] of Object.entries(attrs)) {
      if (name === "on") continue;
      refuseAttr("h", name);
      if (value === null || value === undefined || value === false) continue;
      if (PROPS.has(name)) {
        (el as unknown as Record<string, unknown>)[name] = value;
      } else {
        const text = value === true ? "" : String(value);
        // Tooltips and labels are read by people; ids, keys and data attributes by code.
        el.setAttribute(name === "className" ? "class" : name, name === "title" || name === "aria-label" ? shown(text) : text);
      }
    }
    const on = attrs.on as Record<string, EventListener> | undefined;
    if (on) {
      for (const [type, fn] of Object.entries(on)) {
        if (typeof fn !== "function") throw new Error(`h(): listener for ${type} is not a function`);
        el.addEventListener(type, fn);
      }
    }
  }
  append(el, ...children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/**
 * An SVG element (the overview's chart) under h()'s rules: attributes as text, no on* or
 * style, children as text nodes. No href either: the chart links nothing and loads nothing.
 */
export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs?: Record<string, AttrValue> | null,
  ...children: Child[]
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    refuseAttr("svg", name);
    if (/href$/i.test(name)) throw new Error(`svg(): refusing attribute ${name}`);
    if (value === null || value === undefined || value === false) continue;
    const text = value === true ? "" : String(value);
    el.setAttribute(name, name === "aria-label" ? shown(text) : text);
  }
  append(el, ...children);
  return el;
}

/** Text as shown inside `parent`: a `<pre>` keeps its line breaks (the raw record's). */
function showIn(parent: Node, text: string): string {
  return parent instanceof Element && parent.closest("pre") ? markInvisible(text) : shown(text);
}

/** Appends children; strings and numbers become text nodes. */
export function append(parent: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(parent, ...c);
    else if (c instanceof Node) parent.appendChild(c);
    else parent.appendChild(document.createTextNode(showIn(parent, String(c))));
  }
}

/** Replaces every child of `parent`. */
export function replace(parent: Node, ...children: Child[]): void {
  while (parent.firstChild) parent.removeChild(parent.firstChild);
  append(parent, ...children);
}

/** Sets an element's text (textContent: never parsed). */
export function setText(el: Element, text: string): void {
  el.textContent = showIn(el, text);
}
