import { S3Error } from './errors.ts';

/**
 * The small XML subset S3 request and response bodies use: elements, text, the five predefined
 * entities and numeric character references, CDATA, comments and the XML declaration. Attributes are
 * read and ignored (S3 documents carry only `xmlns`). Anything else is MalformedXML.
 */
export interface XmlElement {
  name: string;
  children: XmlElement[];
  text: string;
}

const MAX_DEPTH = 32;

export function malformedXml(): S3Error {
  return new S3Error(
    400,
    'MalformedXML',
    'The XML you provided was not well-formed or did not validate against our published schema.',
  );
}

function decodeEntities(text: string): string {
  return text.replace(
    /&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);|&/g,
    (_whole, entity: string | undefined) => {
      switch (entity) {
        case undefined:
          throw malformedXml();
        case 'amp':
          return '&';
        case 'lt':
          return '<';
        case 'gt':
          return '>';
        case 'quot':
          return '"';
        case 'apos':
          return "'";
        default: {
          const code = entity.startsWith('#x')
            ? parseInt(entity.slice(2), 16)
            : parseInt(entity.slice(1), 10);
          if (!Number.isFinite(code) || code > 0x10ffff || code === 0 || (code >= 0xd800 && code <= 0xdfff)) {
            throw malformedXml();
          }
          return String.fromCodePoint(code);
        }
      }
    },
  );
}

/** Parses one XML document into its root element; throws MalformedXML. */
export function parseXml(source: string): XmlElement {
  let at = 0;
  const text = source.replace(/^\uFEFF/, '');
  const skipMisc = (): void => {
    for (;;) {
      while (at < text.length && /\s/.test(text[at] ?? '')) {
        at += 1;
      }
      if (text.startsWith('<?', at)) {
        const end = text.indexOf('?>', at + 2);
        if (end < 0) {
          throw malformedXml();
        }
        at = end + 2;
      } else if (text.startsWith('<!--', at)) {
        const end = text.indexOf('-->', at + 4);
        if (end < 0) {
          throw malformedXml();
        }
        at = end + 3;
      } else {
        return;
      }
    }
  };
  const nameAt = (): string => {
    const match = /^[A-Za-z_][\w.:-]*/.exec(text.slice(at, at + 256));
    if (match === null) {
      throw malformedXml();
    }
    at += match[0].length;
    return match[0];
  };
  const element = (depth: number): XmlElement => {
    if (depth > MAX_DEPTH || text[at] !== '<') {
      throw malformedXml();
    }
    at += 1;
    const name = nameAt();
    // Attributes: name="value" or name='value', ignored.
    for (;;) {
      while (/\s/.test(text[at] ?? '')) {
        at += 1;
      }
      if (text.startsWith('/>', at)) {
        at += 2;
        return { name, children: [], text: '' };
      }
      if (text[at] === '>') {
        at += 1;
        break;
      }
      nameAt();
      while (/\s/.test(text[at] ?? '')) {
        at += 1;
      }
      if (text[at] !== '=') {
        throw malformedXml();
      }
      at += 1;
      while (/\s/.test(text[at] ?? '')) {
        at += 1;
      }
      const quote = text[at];
      if (quote !== '"' && quote !== "'") {
        throw malformedXml();
      }
      const end = text.indexOf(quote, at + 1);
      if (end < 0) {
        throw malformedXml();
      }
      decodeEntities(text.slice(at + 1, end));
      at = end + 1;
    }
    const children: XmlElement[] = [];
    let content = '';
    for (;;) {
      if (at >= text.length) {
        throw malformedXml();
      }
      if (text.startsWith('</', at)) {
        at += 2;
        if (nameAt() !== name) {
          throw malformedXml();
        }
        while (/\s/.test(text[at] ?? '')) {
          at += 1;
        }
        if (text[at] !== '>') {
          throw malformedXml();
        }
        at += 1;
        return { name, children, text: content };
      }
      if (text.startsWith('<!--', at)) {
        const end = text.indexOf('-->', at + 4);
        if (end < 0) {
          throw malformedXml();
        }
        at = end + 3;
      } else if (text.startsWith('<![CDATA[', at)) {
        const end = text.indexOf(']]>', at + 9);
        if (end < 0) {
          throw malformedXml();
        }
        content += text.slice(at + 9, end);
        at = end + 3;
      } else if (text[at] === '<') {
        children.push(element(depth + 1));
      } else {
        const next = text.indexOf('<', at);
        const end = next < 0 ? text.length : next;
        content += decodeEntities(text.slice(at, end));
        at = end;
      }
    }
  };
  skipMisc();
  const root = element(0);
  skipMisc();
  if (at !== text.length) {
    throw malformedXml();
  }
  return root;
}

/** Element names compare without their namespace prefix. */
function localName(name: string): string {
  const colon = name.indexOf(':');
  return colon < 0 ? name : name.slice(colon + 1);
}

export function childrenNamed(element: XmlElement, name: string): XmlElement[] {
  return element.children.filter((child) => localName(child.name) === name);
}

export function childNamed(element: XmlElement, name: string): XmlElement | undefined {
  return element.children.find((child) => localName(child.name) === name);
}

/** Text of a child element (trimmed), or undefined when absent. */
export function childText(element: XmlElement, name: string): string | undefined {
  const child = childNamed(element, name);
  return child === undefined ? undefined : child.text.trim();
}

/** Parses a body and checks its root element's name. */
export function parseXmlDocument(body: Buffer, rootName: string): XmlElement {
  let source: string;
  try {
    source = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw malformedXml();
  }
  const root = parseXml(source);
  if (localName(root.name) !== rootName) {
    throw malformedXml();
  }
  return root;
}

export function escapeXml(text: string): string {
  return text.replace(
    /[&<>"'\u0000-\u0008\u000b\u000c\u000e-\u001f]/g,
    (c) =>
      ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] ??
      `&#${String(c.codePointAt(0))};`,
  );
}

/** A response tree: `[name, children | text]`; undefined children are skipped. */
export type XmlNode = [string, string | number | boolean | (XmlNode | undefined)[]];

function renderNode([name, content]: XmlNode): string {
  if (Array.isArray(content)) {
    return `<${name}>${content
      .filter((node): node is XmlNode => node !== undefined)
      .map(renderNode)
      .join('')}</${name}>`;
  }
  return `<${name}>${escapeXml(String(content))}</${name}>`;
}

const S3_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';

/** A whole response document with the S3 namespace on its root element. */
export function renderXml(root: XmlNode, namespace = true): string {
  const body = renderNode(root);
  const withNs = namespace ? body.replace(`<${root[0]}>`, `<${root[0]} xmlns="${S3_NAMESPACE}">`) : body;
  return `<?xml version="1.0" encoding="UTF-8"?>\n${withNs}`;
}
