/**
 * A small, strict XML 1.0 reader for checking generated domain XML: it rejects what a conforming parser
 * (libvirt's libxml2) rejects — characters outside XML's Char production (control characters, lone
 * surrogates), a `<` or a bare `&` in text or attributes, unknown entities, mismatched tags, duplicate
 * attributes, a DOCTYPE — and it reads values as such a parser does, line ends and attribute whitespace
 * normalised. Enough for libvirt's documents: elements, attributes, text, comments, CDATA, PIs.
 */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: (XmlElement | string)[];
}

export class XmlSyntaxError extends Error {}

const NAME = /[A-Za-z_:][A-Za-z0-9._:-]*/y;

function isXmlChar(cp: number): boolean {
  return (
    cp === 0x9 ||
    cp === 0xa ||
    cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

export function parseXml(input: string): XmlElement {
  // Every character must be an XML Char; iterating by code point leaves lone surrogates on their own.
  let offset = 0;
  for (const ch of input) {
    const cp = ch.codePointAt(0)!;
    if (!isXmlChar(cp) || (ch.length === 1 && cp >= 0xd800 && cp <= 0xdfff))
      throw new XmlSyntaxError(`character U+${cp.toString(16).padStart(4, '0')} at ${offset} is not allowed in XML`);
    offset += ch.length;
  }
  // End-of-line handling (XML 1.0 §2.11): CRLF and lone CR become LF before anything else.
  const text = input.replace(/\r\n?/g, '\n');
  let i = 0;
  const fail = (why: string): never => {
    throw new XmlSyntaxError(`${why} at offset ${i}: ${JSON.stringify(text.slice(i, i + 40))}`);
  };
  const startsWith = (s: string) => text.startsWith(s, i);
  const skipSpace = () => {
    while (i < text.length && ' \t\n'.includes(text[i]!)) i++;
  };
  const name = (): string => {
    NAME.lastIndex = i;
    const m = NAME.exec(text);
    if (!m) fail('expected a name');
    i += m![0].length;
    return m![0];
  };
  const reference = (): string => {
    // at '&'
    const end = text.indexOf(';', i);
    if (end < 0 || end - i > 12) fail('bare & (not a reference)');
    const ref = text.slice(i + 1, end);
    i = end + 1;
    switch (ref) {
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'amp':
        return '&';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
    }
    const m = /^#(?:x([0-9a-fA-F]+)|([0-9]+))$/.exec(ref);
    if (!m) return fail(`unknown entity &${ref};`);
    const cp = m[1] !== undefined ? Number.parseInt(m[1], 16) : Number(m[2]);
    if (!isXmlChar(cp) || (cp >= 0xd800 && cp <= 0xdfff)) fail(`reference to a character XML forbids: &${ref};`);
    return String.fromCodePoint(cp);
  };
  const skipMisc = () => {
    for (;;) {
      skipSpace();
      if (startsWith('<!--')) {
        const end = text.indexOf('-->', i + 4);
        if (end < 0) fail('unterminated comment');
        if (text.slice(i + 4, end).includes('--')) fail('-- inside a comment');
        i = end + 3;
      } else if (startsWith('<?')) {
        const end = text.indexOf('?>', i + 2);
        if (end < 0) fail('unterminated processing instruction');
        i = end + 2;
      } else return;
    }
  };
  const element = (): XmlElement => {
    if (text[i] !== '<') fail('expected <');
    i++;
    const el: XmlElement = { name: name(), attrs: {}, children: [] };
    for (;;) {
      const before = i;
      skipSpace();
      if (startsWith('/>')) {
        i += 2;
        return el;
      }
      if (text[i] === '>') {
        i++;
        break;
      }
      if (i === before) fail('expected whitespace before an attribute');
      const attr = name();
      skipSpace();
      if (text[i] !== '=') fail('expected =');
      i++;
      skipSpace();
      const quote = text[i];
      if (quote !== '"' && quote !== "'") fail('expected a quoted attribute value');
      i++;
      let value = '';
      while (text[i] !== quote) {
        const c = text[i];
        if (c === undefined) fail('unterminated attribute value');
        if (c === '<') fail('< in an attribute value');
        if (c === '&') value += reference();
        else {
          // Attribute-value normalisation (§3.3.3): literal whitespace characters become spaces.
          value += c === '\n' || c === '\t' ? ' ' : c;
          i++;
        }
      }
      i++;
      if (Object.hasOwn(el.attrs, attr)) fail(`duplicate attribute ${attr}`);
      el.attrs[attr] = value;
    }
    let buf = '';
    const flush = () => {
      if (buf) el.children.push(buf);
      buf = '';
    };
    for (;;) {
      if (i >= text.length) fail(`unterminated element <${el.name}>`);
      if (startsWith('</')) {
        i += 2;
        const closing = name();
        if (closing !== el.name) fail(`</${closing}> closes <${el.name}>`);
        skipSpace();
        if (text[i] !== '>') fail('expected >');
        i++;
        flush();
        return el;
      }
      if (startsWith('<![CDATA[')) {
        const end = text.indexOf(']]>', i);
        if (end < 0) fail('unterminated CDATA');
        buf += text.slice(i + 9, end);
        i = end + 3;
      } else if (startsWith('<!--')) {
        const end = text.indexOf('-->', i + 4);
        if (end < 0) fail('unterminated comment');
        i = end + 3;
      } else if (startsWith('<?')) {
        const end = text.indexOf('?>', i);
        if (end < 0) fail('unterminated processing instruction');
        i = end + 2;
      } else if (startsWith('<!')) {
        fail('DOCTYPE and other declarations are not accepted');
      } else if (text[i] === '<') {
        flush();
        el.children.push(element());
      } else if (text[i] === '&') {
        buf += reference();
      } else {
        if (startsWith(']]>')) fail(']]> in text');
        buf += text[i];
        i++;
      }
    }
  };
  skipMisc();
  if (startsWith('<!')) fail('DOCTYPE and other declarations are not accepted');
  const root = element();
  skipMisc();
  if (i !== text.length) fail('content after the root element');
  return root;
}

/** Elements at `path` below `root` (`devices/disk/source`), in document order. */
export function select(root: XmlElement, path: string): XmlElement[] {
  let level = [root];
  for (const step of path.split('/')) {
    const next: XmlElement[] = [];
    for (const el of level) for (const c of el.children) if (typeof c !== 'string' && c.name === step) next.push(c);
    level = next;
  }
  return level;
}

/** The text inside an element (its string children, joined). */
export function textOf(el: XmlElement | undefined): string | undefined {
  return el?.children.filter((c): c is string => typeof c === 'string').join('');
}
