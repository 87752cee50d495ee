// Reading stored Messages API bodies: the request as sent, and the reply as JSON or as a raw SSE stream.

export type Block = Record<string, unknown> & { type?: string };

export interface Message {
  role: string;
  content: Block[];
}

export interface ParsedRequest {
  model: string | null;
  system: Block[];
  messages: Message[];
  tools: Block[];
  settings: [string, string][];
}

export interface ParsedReply {
  model: string | null;
  content: Block[];
  stopReason: string | null;
  usage: Record<string, unknown> | null;
  error: { type: string; message: string } | null;
  /** A stream that ended without `message_stop` (client gone, upstream broke). */
  incomplete: boolean;
}

function asBlocks(content: unknown): Block[] {
  if (typeof content === "string") return [{ type: "text", text: content }];
  if (Array.isArray(content)) {
    return content.map((block) =>
      block && typeof block === "object" ? (block as Block) : { type: "text", text: String(block) },
    );
  }
  return [];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === "object" && !Array.isArray(value);
}

/** The request body, or null when it is not a Messages API JSON object. */
export function parseRequest(body: string | null): ParsedRequest | null {
  if (!body) return null;
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return null;
  }
  if (!isRecord(json)) return null;
  const messages = Array.isArray(json.messages)
    ? json.messages.filter(isRecord).map((message) => ({
        role: String(message.role ?? "unknown"),
        content: asBlocks(message.content),
      }))
    : [];
  const settings: [string, string][] = [];
  for (const name of ["max_tokens", "temperature", "top_p", "top_k", "stream", "service_tier"]) {
    if (json[name] !== undefined) settings.push([name, String(json[name])]);
  }
  if (isRecord(json.thinking)) {
    const thinking = json.thinking;
    settings.push([
      "thinking",
      thinking.type === "enabled" ? `enabled, budget ${String(thinking.budget_tokens)}` : String(thinking.type),
    ]);
  }
  if (isRecord(json.tool_choice)) settings.push(["tool_choice", String(json.tool_choice.type)]);
  return {
    model: typeof json.model === "string" ? json.model : null,
    system: asBlocks(json.system),
    messages,
    tools: Array.isArray(json.tools) ? json.tools.filter(isRecord) : [],
    settings,
  };
}

function errorOf(value: unknown): ParsedReply["error"] {
  if (!isRecord(value)) return { type: "error", message: String(value) };
  return { type: String(value.type ?? "error"), message: String(value.message ?? JSON.stringify(value)) };
}

/** A reply body: a JSON message, a JSON error, or an SSE stream to reassemble. Null if unreadable. */
export function parseReply(body: string | null): ParsedReply | null {
  if (!body) return null;
  const text = body.trimStart();
  if (text.startsWith("{")) {
    try {
      const json = JSON.parse(text) as Record<string, unknown>;
      if (json.type === "error" || (isRecord(json.error) && !json.content)) {
        return {
          model: null,
          content: [],
          stopReason: null,
          usage: null,
          error: errorOf(json.error),
          incomplete: false,
        };
      }
      return {
        model: typeof json.model === "string" ? json.model : null,
        content: asBlocks(json.content),
        stopReason: typeof json.stop_reason === "string" ? json.stop_reason : null,
        usage: isRecord(json.usage) ? json.usage : null,
        error: null,
        incomplete: false,
      };
    } catch {
      return null;
    }
  }
  if (text.startsWith("event:") || text.startsWith("data:")) return reassembleStream(text);
  return null;
}

/** The data payloads of an SSE text, in order (comments and unparsable payloads skipped). */
export function sseEvents(text: string): Record<string, unknown>[] {
  const events: Record<string, unknown>[] = [];
  for (const chunk of text.split(/\r?\n\r?\n/)) {
    const data = chunk
      .split(/\r?\n/)
      .filter((line) => line.startsWith("data:"))
      .map((line) => line.slice(5).replace(/^ /, ""))
      .join("\n");
    if (!data) continue;
    try {
      const parsed: unknown = JSON.parse(data);
      if (isRecord(parsed)) events.push(parsed);
    } catch {
      // A stream cut mid-event leaves a partial line: what came before it still counts.
    }
  }
  return events;
}

/** The message a stream delivered, rebuilt from its events as the Anthropic SDKs do. */
export function reassembleStream(text: string): ParsedReply {
  const reply: ParsedReply = {
    model: null,
    content: [],
    stopReason: null,
    usage: null,
    error: null,
    incomplete: true,
  };
  const partialJson = new Map<number, string>();
  for (const event of sseEvents(text)) {
    switch (event.type) {
      case "message_start": {
        const message = isRecord(event.message) ? event.message : {};
        reply.model = typeof message.model === "string" ? message.model : null;
        reply.usage = isRecord(message.usage) ? { ...message.usage } : null;
        reply.content = asBlocks(message.content);
        break;
      }
      case "content_block_start": {
        const index = Number(event.index);
        const block = isRecord(event.content_block) ? { ...(event.content_block as Block) } : { type: "unknown" };
        reply.content[index] = block;
        break;
      }
      case "content_block_delta": {
        const index = Number(event.index);
        const block = reply.content[index] ?? (reply.content[index] = { type: "unknown" });
        const delta = isRecord(event.delta) ? event.delta : {};
        if (delta.type === "text_delta") block.text = String(block.text ?? "") + String(delta.text ?? "");
        else if (delta.type === "thinking_delta")
          block.thinking = String(block.thinking ?? "") + String(delta.thinking ?? "");
        else if (delta.type === "signature_delta") block.signature = delta.signature;
        else if (delta.type === "input_json_delta")
          partialJson.set(index, (partialJson.get(index) ?? "") + String(delta.partial_json ?? ""));
        else if (delta.type === "citations_delta")
          block.citations = [...(Array.isArray(block.citations) ? block.citations : []), delta.citation];
        break;
      }
      case "content_block_stop": {
        const index = Number(event.index);
        const json = partialJson.get(index);
        if (json !== undefined && reply.content[index]) {
          try {
            reply.content[index].input = json ? JSON.parse(json) : {};
          } catch {
            reply.content[index].input = json;
          }
          partialJson.delete(index);
        }
        break;
      }
      case "message_delta": {
        const delta = isRecord(event.delta) ? event.delta : {};
        if (typeof delta.stop_reason === "string") reply.stopReason = delta.stop_reason;
        // Usage in message_delta is cumulative: its fields replace those of message_start.
        if (isRecord(event.usage)) reply.usage = { ...(reply.usage ?? {}), ...event.usage };
        break;
      }
      case "message_stop":
        reply.incomplete = false;
        break;
      case "error":
        reply.error = errorOf(event.error);
        break;
      default:
        break;
    }
  }
  // Unfinished tool input (a cut stream): show what arrived.
  for (const [index, json] of partialJson) if (reply.content[index]) reply.content[index].input = json;
  reply.content = reply.content.filter(Boolean);
  return reply;
}

/** JSON pretty-printed when it parses, else the text as stored. */
export function pretty(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
