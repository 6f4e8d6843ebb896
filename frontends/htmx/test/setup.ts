// happy-dom has no XPathEvaluator, which htmx 2 builds at load time for one
// query: the descendants of a node carrying an hx-on:* / hx-on-* attribute
// (with or without data-). This stand-in answers that query, so that the
// real htmx.org loads and behaves in the tests' document.
const prefixes = ['hx-on:', 'data-hx-on:', 'hx-on-', 'data-hx-on-'];

class HxOnQuery {
  evaluate(node: Node): { iterateNext(): Node | null } {
    const found = node instanceof Element || node instanceof Document || node instanceof DocumentFragment
      ? [...node.querySelectorAll('*')].filter((el) => [...el.attributes].some((a) => prefixes.some((p) => a.name.startsWith(p))))
      : [];
    let i = 0;
    return { iterateNext: () => found[i++] ?? null };
  }
}

if (!('XPathEvaluator' in globalThis)) {
  Object.defineProperty(globalThis, 'XPathEvaluator', {
    value: class {
      createExpression(): HxOnQuery {
        return new HxOnQuery();
      }
    },
    configurable: true,
  });
}
