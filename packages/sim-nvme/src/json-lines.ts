// Newline-delimited JSON: the framing the control socket and the export port share (one JSON
// object per line, UTF-8). Only the framing is here; what a message means is each protocol's.

export type Message = Record<string, unknown>;

/**
 * A socket "data" listener: buffers the stream and hands every complete line to `onMessage`, or
 * to `onMalformed` when it is not JSON. A callback returning "stop" drops the rest of this chunk
 * (the caller has destroyed the socket).
 */
export function jsonLines(
  onMessage: (msg: Message) => void | "stop",
  onMalformed: (line: string) => void | "stop",
): (data: Buffer) => void {
  let buf = "";
  return (data) => {
    buf += data.toString("utf8");
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let msg: Message;
      try {
        msg = JSON.parse(line) as Message;
      } catch {
        if (onMalformed(line) === "stop") return;
        continue;
      }
      if (onMessage(msg) === "stop") return;
    }
  };
}
