// A tokenizer and parser for the subset of the RouterOS command line the driver sends.
//
// RouterOS ends a command at `;` or a newline, evaluates `[ ... ]` as a nested command and
// substitutes `$name`. The simulator supports exactly one command per line and only `[find ...]`
// as a nested command; every other use of those characters is a syntax error and nothing runs,
// so a driver that lets such a character reach the command line sees a failure in tests instead
// of silently executing something else.

export class RouterOsSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`${message} (line ${line} column ${column})`);
    this.name = "RouterOsSyntaxError";
  }
}

/** `key=value` or `key~"regex"` in a `where` clause or `[find ...]`. */
export interface Condition {
  key: string;
  op: "=" | "~";
  value: string;
}

export type Value = { kind: "text"; text: string } | { kind: "find"; conditions: Condition[] };

export interface Argument {
  key: string;
  value: Value;
  column: number;
}

export interface ParsedCommand {
  /** Menu path, e.g. ["disk"] or ["system", "resource"]. */
  menu: string[];
  command: string;
  /** Unnamed parameter (`set [find ...]`, `remove 3`). */
  target?: Value;
  args: Argument[];
  /** `print detail` and friends. */
  flags: string[];
  where: Condition[];
}

/** Menus and their commands. */
export const MENUS: Record<string, readonly string[]> = {
  disk: ["add", "set", "remove", "print"],
  file: ["print", "remove"],
  "system resource": ["print"],
};
const MENU_PREFIXES = new Set(["system"]);
const PRINT_FLAGS = new Set(["detail", "without-paging", "terse"]);

interface Segment {
  kind: "raw" | "quoted" | "bracket";
  text: string;
  /** For brackets: the parsed nested command. */
  nested?: Condition[];
}
interface Word {
  segments: Segment[];
  column: number;
}

/** Position bookkeeping so errors carry RouterOS-style (line, column). */
class Cursor {
  pos = 0;
  constructor(readonly src: string) {}
  get ch(): string | undefined {
    return this.src[this.pos];
  }
  where(at = this.pos): { line: number; column: number } {
    let line = 1;
    let col = 1;
    for (let i = 0; i < at; i++) {
      if (this.src[i] === "\n") {
        line++;
        col = 1;
      } else col++;
    }
    return { line, column: col };
  }
  fail(message: string, at = this.pos): never {
    const w = this.where(at);
    throw new RouterOsSyntaxError(message, w.line, w.column);
  }
}

// Characters that end, nest or expand a command in RouterOS. Outside quotes every one of them
// is refused; inside quotes only `$` (variable substitution) and control characters are.
const BREAKING = new Set([";", "\n", "\r", "$", "{", "}", "(", ")", "]"]);

function readQuoted(c: Cursor): string {
  c.pos++; // opening quote
  let out = "";
  for (;;) {
    const ch = c.ch;
    if (ch === undefined) c.fail("syntax error");
    if (ch === '"') {
      c.pos++;
      return out;
    }
    if (ch === "$" || ch < " " || ch === "\x7f") c.fail("syntax error");
    if (ch === "\\") {
      const next = c.src[c.pos + 1];
      if (next === undefined) c.fail("syntax error");
      const simple: Record<string, string> = {
        '"': '"',
        "\\": "\\",
        n: "\n",
        r: "\r",
        t: "\t",
        $: "$",
        "?": "?",
        _: " ",
      };
      const hex = /^[0-9A-F]{2}$/.exec(c.src.slice(c.pos + 1, c.pos + 3));
      if (next in simple) {
        const v = simple[next] ?? "";
        // An escaped control character would put a line break into a stored value.
        if (v < " ") c.fail("syntax error");
        out += v;
        c.pos += 2;
      } else if (hex) {
        const v = String.fromCharCode(parseInt(hex[0], 16));
        if (v < " " || v === "$") c.fail("syntax error");
        out += v;
        c.pos += 3;
      } else {
        // Not an escape RouterOS knows: kept literally (a regex `\.` reaches the matcher as is).
        out += "\\" + next;
        c.pos += 2;
      }
      continue;
    }
    out += ch;
    c.pos++;
  }
}

function readWord(c: Cursor, inBracket: boolean): Word {
  const word: Word = { segments: [], column: c.pos };
  let raw = "";
  const flush = (): void => {
    if (raw) word.segments.push({ kind: "raw", text: raw });
    raw = "";
  };
  for (;;) {
    const ch = c.ch;
    if (ch === undefined || ch === " " || ch === "\t") break;
    if (ch === "]" && inBracket) break;
    if (ch === '"') {
      flush();
      word.segments.push({ kind: "quoted", text: readQuoted(c) });
      continue;
    }
    if (ch === "[") {
      if (inBracket) c.fail("syntax error");
      flush();
      const start = c.pos;
      c.pos++;
      const inner = readWords(c, true);
      if (c.ch !== "]") c.fail("syntax error");
      c.pos++;
      word.segments.push({
        kind: "bracket",
        text: c.src.slice(start, c.pos),
        nested: parseFind(inner, c),
      });
      continue;
    }
    if (BREAKING.has(ch) || ch < " " || ch === "\x7f") c.fail("syntax error");
    raw += ch;
    c.pos++;
  }
  flush();
  return word;
}

function readWords(c: Cursor, inBracket: boolean): Word[] {
  const words: Word[] = [];
  for (;;) {
    while (c.ch === " " || c.ch === "\t") c.pos++;
    const ch = c.ch;
    if (ch === undefined) return words;
    if (ch === "]" && inBracket) return words;
    words.push(readWord(c, inBracket));
  }
}

function plain(word: Word): string | undefined {
  if (word.segments.length === 1 && word.segments[0]?.kind === "raw") return word.segments[0].text;
  return undefined;
}

/** Splits `key=value` / `key~value` (value possibly quoted or a bracket). */
function splitPair(
  word: Word,
  c: Cursor,
  ops: string,
): { key: string; op: "=" | "~"; value: Value } | undefined {
  const first = word.segments[0];
  if (!first || first.kind !== "raw") return undefined;
  const m = new RegExp(`^([a-z][a-z0-9-]*)([${ops}])(.*)$`).exec(first.text);
  if (!m) return undefined;
  const key = m[1] ?? "";
  const op = m[2] as "=" | "~";
  const rest: Segment[] = [];
  if (m[3]) rest.push({ kind: "raw", text: m[3] });
  rest.push(...word.segments.slice(1));
  const bracket = rest.find((s) => s.kind === "bracket");
  if (bracket) {
    if (rest.length !== 1 || !bracket.nested) c.fail("syntax error", word.column);
    return { key, op, value: { kind: "find", conditions: bracket.nested } };
  }
  return { key, op, value: { kind: "text", text: rest.map((s) => s.text).join("") } };
}

function parseConditions(words: Word[], c: Cursor): Condition[] {
  const out: Condition[] = [];
  for (const w of words) {
    if (plain(w) === "and") continue;
    const pair = splitPair(w, c, "=~");
    if (!pair || pair.value.kind !== "text") c.fail("expected end of command", w.column);
    out.push({ key: pair.key, op: pair.op, value: pair.value.text });
  }
  return out;
}

function parseFind(words: Word[], c: Cursor): Condition[] {
  const [head, ...rest] = words;
  if (!head || plain(head) !== "find") c.fail("bad command name", head?.column ?? c.pos);
  const conds = rest[0] && plain(rest[0]) === "where" ? rest.slice(1) : rest;
  return parseConditions(conds, c);
}

/** Parses one command line. Throws RouterOsSyntaxError or BadCommandError. */
export function parseCommandLine(line: string): ParsedCommand {
  const c = new Cursor(line);
  const words = readWords(c, false);
  if (words.length === 0) throw new RouterOsSyntaxError("expected command name", 1, 1);

  // Path: `/disk add`, `/disk/add`, `/system resource print`, `disk print`.
  const pathWords: { text: string; column: number }[] = [];
  let i = 0;
  for (; i < words.length; i++) {
    const w = words[i];
    if (!w) break;
    const text = plain(w);
    if (text === undefined || text.includes("=") || text.includes("~")) break;
    let col = w.column;
    for (const part of text.split("/")) {
      if (part) pathWords.push({ text: part, column: col });
      col += part.length + 1;
    }
    const menuSoFar = pathWords.map((p) => p.text);
    const lastIsCommand =
      menuSoFar.length >= 2 &&
      MENUS[menuSoFar.slice(0, -1).join(" ")]?.includes(menuSoFar.at(-1) ?? "");
    if (lastIsCommand) {
      i++;
      break;
    }
    const joined = menuSoFar.join(" ");
    if (!(joined in MENUS) && !MENU_PREFIXES.has(joined)) {
      const bad = pathWords.at(-1);
      const at = c.where(bad?.column ?? 0);
      throw new BadCommandError(bad?.text ?? "", at.line, at.column);
    }
  }
  const command = pathWords.at(-1);
  const menu = pathWords.slice(0, -1).map((p) => p.text);
  if (!command || !MENUS[menu.join(" ")]?.includes(command.text)) {
    const at = c.where(command?.column ?? 0);
    throw new BadCommandError(command?.text ?? "", at.line, at.column);
  }

  const parsed: ParsedCommand = { menu, command: command.text, args: [], flags: [], where: [] };
  const rest = words.slice(i);
  for (let j = 0; j < rest.length; j++) {
    const w = rest[j];
    if (!w) continue;
    const text = plain(w);
    if (parsed.command === "print") {
      if (text === "where") {
        parsed.where = parseConditions(rest.slice(j + 1), c);
        break;
      }
      if (text !== undefined && PRINT_FLAGS.has(text)) {
        parsed.flags.push(text);
        continue;
      }
      c.fail("expected end of command", w.column);
    }
    const pair = splitPair(w, c, "=");
    if (pair) {
      parsed.args.push({ key: pair.key, value: pair.value, column: c.where(w.column).column });
      continue;
    }
    // The unnamed parameter of set/remove: `[find ...]`, an item number or a name.
    if (
      (parsed.command === "set" || parsed.command === "remove") &&
      parsed.target === undefined &&
      j === 0
    ) {
      const seg = w.segments;
      if (seg.length === 1 && seg[0]?.kind === "bracket" && seg[0].nested) {
        parsed.target = { kind: "find", conditions: seg[0].nested };
      } else {
        parsed.target = { kind: "text", text: seg.map((s) => s.text).join("") };
      }
      continue;
    }
    c.fail("expected end of command", w.column);
  }
  return parsed;
}

export class BadCommandError extends Error {
  constructor(
    readonly word: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`bad command name ${word} (line ${line} column ${column})`);
    this.name = "BadCommandError";
  }
}
