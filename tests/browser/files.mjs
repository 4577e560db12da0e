// Readers for the files the page exports, written independently of the
// product's own writers: RFC 4180 CSV and the first sheet of an XLSX (a zip
// of XML parts), enough to compare cell by cell.
import { inflateRawSync } from 'node:zlib';

/** Rows of cells from CSV text (quotes, doubled quotes, CRLF, BOM). */
export function parseCsv(text, sep = ',') {
  const rows = [];
  let row = [], cell = '', quoted = false;
  text = text.replace(/^\uFEFF/, '');
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === sep) row.push(cell), (cell = '');
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell), rows.push(row), (row = []), (cell = '');
    } else cell += c;
  }
  if (cell || row.length) row.push(cell), rows.push(row);
  return rows;
}

/** The entries of a zip archive, by name. */
function unzip(buf) {
  let end = buf.length - 22;
  while (end >= 0 && buf.readUInt32LE(end) !== 0x06054b50) end--;
  if (end < 0) throw new Error('not a zip archive');
  const count = buf.readUInt16LE(end + 10);
  let at = buf.readUInt32LE(end + 16);
  const files = {};
  for (let n = 0; n < count; n++) {
    const method = buf.readUInt16LE(at + 10), size = buf.readUInt32LE(at + 20);
    const nameLen = buf.readUInt16LE(at + 28), extraLen = buf.readUInt16LE(at + 30), commentLen = buf.readUInt16LE(at + 32);
    const local = buf.readUInt32LE(at + 42);
    const name = buf.toString('utf8', at + 46, at + 46 + nameLen);
    const data = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const raw = buf.subarray(data, data + size);
    files[name] = method === 8 ? inflateRawSync(raw) : raw;
    at += 46 + nameLen + extraLen + commentLen;
  }
  return files;
}

const unescapeXml = (s) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

/** Rows of cell texts of the first worksheet of an .xlsx. */
export function readXlsx(buf) {
  return readXlsxCells(buf).map((row) => row.map((c) => c.text));
}

/** The names of an .xlsx's worksheets, in order. */
export function xlsxSheetNames(buf) {
  const book = unzip(buf)['xl/workbook.xml'].toString('utf8');
  return [...book.matchAll(/<sheet [^>]*name="([^"]*)"/g)].map((m) => unescapeXml(m[1]));
}

/** Rows of `{text, number}` cells of the first worksheet: `number` is true
 * for a cell stored as a number (what Excel sums), false for text. */
export function readXlsxCells(buf) {
  const files = unzip(buf);
  const shared = [...(files['xl/sharedStrings.xml'] || '').toString('utf8').matchAll(/<si>([\s\S]*?)<\/si>/g)].map((m) =>
    unescapeXml([...m[1].matchAll(/<t[^>]*>([\s\S]*?)<\/t>/g)].map((t) => t[1]).join('')),
  );
  const sheet = files['xl/worksheets/sheet1.xml'].toString('utf8');
  const col = (ref) => [...ref.replace(/\d+/g, '')].reduce((n, ch) => n * 26 + ch.charCodeAt(0) - 64, 0) - 1;
  return [...sheet.matchAll(/<row[^>]*>([\s\S]*?)<\/row>/g)].map((r) => {
    const cells = [];
    for (const c of r[1].matchAll(/<c r="([A-Z]+\d+)"([^>]*?)(?:\/>|>([\s\S]*?)<\/c>)/g)) {
      const v = /<v>([\s\S]*?)<\/v>/.exec(c[3] || '');
      const inline = /<t[^>]*>([\s\S]*?)<\/t>/.exec(c[3] || '');
      const text = / t="s"/.test(c[2]) ? shared[Number(v[1])] : v ? unescapeXml(v[1]) : inline ? unescapeXml(inline[1]) : '';
      // A number cell has no type or t="n"; text is t="s", t="str" or t="inlineStr".
      cells[col(c[1])] = { text, number: Boolean(v) && !/ t="(s|str|inlineStr|b|e)"/.test(c[2]) };
    }
    return Array.from(cells, (x) => x ?? { text: '', number: false });
  });
}
