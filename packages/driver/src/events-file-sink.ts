// An EventSink (events package interface) that appends every write as one JSON line to a file.
// Used with --events-file: it lets a test (or a person on a laptop without a cluster) see exactly
// which Events a separately running driver process emitted, after the recorder's correlation,
// without an API server. Lines: {"op":"create","namespace","name","body":{…Event}} or
// {"op":"patch","namespace","name","patch":{count,lastTimestamp,message}}.
import { appendFileSync } from "node:fs";
import type { EventBody, EventPatch, EventSink } from "@rds-nvme-csi/events";

export class FileEventSink implements EventSink {
  constructor(readonly file: string) {}

  // Synchronous appends: each line is one write(2) with O_APPEND, so lines never interleave and a
  // killed process leaves only whole lines behind.
  async create(event: EventBody): Promise<void> {
    appendFileSync(this.file, JSON.stringify({ op: "create", namespace: event.metadata.namespace, name: event.metadata.name, body: event }) + "\n");
  }

  async patch(namespace: string, name: string, patch: EventPatch): Promise<void> {
    appendFileSync(this.file, JSON.stringify({ op: "patch", namespace, name, patch }) + "\n");
  }
}

export interface FileEventLine {
  op: "create" | "patch";
  namespace: string;
  name: string;
  body?: { reason: string; type: string; message: string; involvedObject: { kind: string; namespace?: string; name: string } };
  patch?: { count: number; message: string };
}

/** Reads an events file back (tests, tooling). A torn last line is skipped. */
export function parseEventsFile(text: string): FileEventLine[] {
  const out: FileEventLine[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as FileEventLine);
    } catch {
      // an incomplete line at the end of a file still being written
    }
  }
  return out;
}
