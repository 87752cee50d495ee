import { useState } from "preact/hooks";
import { allPages, api, type ProxyEndpoint, type UsageDetail } from "../api";
import { CopyButton, ErrorBox, Link, Loading, useLoad } from "../components/common";
import {
  type Block,
  type ParsedReply,
  type ParsedRequest,
  parseReply,
  parseRequest,
  pretty,
} from "../conversation";
import { count, millis, recordCost, utcTime } from "../format";
import { href } from "../router";
import { statusClass } from "./calls";
import { sessionPath } from "./sessions";

const FOLD_AT = 1500;
const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

/** Long text folded to its start, one click to see it all (system prompts run to tens of kilobytes). */
function LongText(props: { text: string; class?: string }) {
  const [open, setOpen] = useState(false);
  const long = props.text.length > FOLD_AT;
  return (
    <div class={`text ${props.class ?? ""}`}>
      {long && !open ? `${props.text.slice(0, FOLD_AT)}…` : props.text}
      {long && (
        <button type="button" class="link" onClick={() => setOpen(!open)}>
          {open ? "Show less" : `Show all ${count(props.text.length)} characters`}
        </button>
      )}
    </div>
  );
}

function Json(props: { value: unknown }) {
  const text = typeof props.value === "string" ? props.value : JSON.stringify(props.value, null, 2);
  return <pre class="json">{text}</pre>;
}

function CacheMark(props: { block: Block }) {
  const control = props.block.cache_control as { type?: string; ttl?: string } | undefined;
  if (!control) return null;
  return <span class="tag cache">cache breakpoint{control.ttl ? ` (${control.ttl})` : ""}</span>;
}

function ToolResultContent(props: { content: unknown }) {
  if (typeof props.content === "string") return <LongText text={props.content} />;
  if (Array.isArray(props.content)) {
    return (
      <>
        {props.content.map((block, index) => (
          <BlockView key={index} block={block as Block} />
        ))}
      </>
    );
  }
  return props.content === undefined ? null : <Json value={props.content} />;
}

function BlockView(props: { block: Block }) {
  const { block } = props;
  switch (block.type) {
    case "text":
      return (
        <div class="block">
          <CacheMark block={block} />
          <LongText text={String(block.text ?? "")} />
        </div>
      );
    case "thinking":
      return (
        <details class="block thinking">
          <summary>
            Thinking{block.signature ? <span class="muted"> · signed</span> : null}
          </summary>
          <LongText text={String(block.thinking ?? "")} />
        </details>
      );
    case "redacted_thinking":
      return <div class="block thinking muted">Redacted thinking (encrypted by Anthropic)</div>;
    case "tool_use":
    case "server_tool_use":
      return (
        <div class="block tool-call">
          <div class="block-title">
            {block.type === "server_tool_use" ? "Server tool call" : "Tool call"}: <code>{String(block.name)}</code>
            <span class="muted"> {String(block.id ?? "")}</span>
          </div>
          <Json value={block.input ?? {}} />
        </div>
      );
    case "tool_result":
      return (
        <div class={`block tool-result${block.is_error ? " is-error" : ""}`}>
          <div class="block-title">
            Tool result{block.is_error ? " (error)" : ""}
            <span class="muted"> for {String(block.tool_use_id ?? "")}</span>
            <CacheMark block={block} />
          </div>
          <ToolResultContent content={block.content} />
        </div>
      );
    case "web_search_tool_result": {
      const results = Array.isArray(block.content) ? (block.content as Block[]) : [];
      return (
        <div class="block tool-result">
          <div class="block-title">Web search results</div>
          {results.length ? (
            <ul>
              {results.map((result, index) => (
                <li key={index}>
                  {String(result.title ?? "")} <span class="muted">{String(result.url ?? "")}</span>
                </li>
              ))}
            </ul>
          ) : (
            <Json value={block.content} />
          )}
        </div>
      );
    }
    case "image": {
      const source = (block.source ?? {}) as { type?: string; media_type?: string; data?: string; url?: string };
      if (source.type === "base64" && source.media_type && IMAGE_TYPES.has(source.media_type) && source.data) {
        return (
          <div class="block">
            <img class="attachment" alt="Image sent in the request" src={`data:${source.media_type};base64,${source.data}`} />
          </div>
        );
      }
      return (
        <div class="block muted">
          Image ({source.type ?? "unknown source"}
          {source.url ? `: ${source.url}` : ""})
        </div>
      );
    }
    case "document": {
      const source = (block.source ?? {}) as { type?: string; media_type?: string; data?: unknown };
      return (
        <div class="block">
          <div class="block-title">
            Document{block.title ? `: ${String(block.title)}` : ""}{" "}
            <span class="muted">{source.media_type ?? source.type ?? ""}</span>
          </div>
          {source.type === "text" && typeof source.data === "string" && <LongText text={source.data} />}
        </div>
      );
    }
    default:
      return (
        <div class="block">
          <div class="block-title">{String(block.type ?? "unknown block")}</div>
          <Json value={block} />
        </div>
      );
  }
}

function Turn(props: { role: string; blocks: Block[]; note?: string; reply?: boolean }) {
  return (
    <div class={`turn ${props.role}${props.reply ? " reply" : ""}`}>
      <div class="role">
        <span class="role-name">{props.role}</span>
        {props.note && <span class="muted"> · {props.note}</span>}
      </div>
      {props.blocks.length ? (
        props.blocks.map((block, index) => <BlockView key={index} block={block} />)
      ) : (
        <div class="muted">(empty)</div>
      )}
    </div>
  );
}

function Conversation(props: { request: ParsedRequest | null; reply: ParsedReply | null; detail: UsageDetail }) {
  const { request, reply, detail } = props;
  return (
    <div class="conversation" data-testid="conversation">
      {request ? (
        <>
          {request.settings.length > 0 && (
            <div class="settings">
              {request.settings.map(([name, value]) => (
                <span key={name} class="tag">
                  {name}: {value}
                </span>
              ))}
            </div>
          )}
          {request.system.length > 0 && <Turn role="system" blocks={request.system} />}
          {request.tools.length > 0 && (
            <details class="tools">
              <summary>
                {request.tools.length} tool{request.tools.length === 1 ? "" : "s"} offered:{" "}
                {request.tools.map((tool) => String(tool.name ?? tool.type)).join(", ")}
              </summary>
              {request.tools.map((tool, index) => (
                <div key={index} class="block">
                  <div class="block-title">
                    <code>{String(tool.name ?? tool.type)}</code>
                  </div>
                  {typeof tool.description === "string" && <LongText text={tool.description} />}
                  {tool.input_schema !== undefined && <Json value={tool.input_schema} />}
                </div>
              ))}
            </details>
          )}
          {request.messages.map((message, index) => (
            <Turn key={index} role={message.role} blocks={message.content} />
          ))}
        </>
      ) : (
        <p class="muted">
          {detail.request_body ? "The request body is not a Messages API request: see the raw view." : "No request body was stored."}
        </p>
      )}
      <h2 class="reply-title">Reply</h2>
      {reply ? (
        <>
          {reply.error && (
            <div class="error" role="note">
              <strong>{reply.error.type}</strong>
              <p>{reply.error.message}</p>
            </div>
          )}
          {(reply.content.length > 0 || !reply.error) && (
            <Turn
              role="assistant"
              reply
              blocks={reply.content}
              note={[
                detail.stream ? "reassembled from the stream" : "",
                reply.stopReason ? `stop: ${reply.stopReason}` : "",
                reply.incomplete ? "stream ended before message_stop" : "",
              ]
                .filter(Boolean)
                .join(" · ")}
            />
          )}
        </>
      ) : (
        <p class="muted">
          {detail.response_body ? "The reply is not a Messages API response: see the raw view." : "No response body was stored."}
        </p>
      )}
    </div>
  );
}

function Raw(props: { body: string | null; what: string }) {
  const [formatted, setFormatted] = useState(false);
  if (props.body === null) return <p class="muted">No {props.what} body was stored.</p>;
  const text = formatted ? pretty(props.body) : props.body;
  return (
    <div class="raw">
      <div class="raw-actions">
        <span class="muted">{count(props.body.length)} characters, exactly as stored</span>
        {props.body.trimStart().startsWith("{") && (
          <button type="button" class="secondary small" onClick={() => setFormatted(!formatted)}>
            {formatted ? "As stored" : "Pretty-print"}
          </button>
        )}
        <CopyButton text={props.body} />
      </div>
      <pre data-testid={`raw-${props.what}`}>{text}</pre>
    </div>
  );
}

type Tab = "conversation" | "request" | "response";

export function CallDetailPage(props: { id: string }) {
  const detail = useLoad(props.id, () => api.get<UsageDetail>(`/api/usage/${encodeURIComponent(props.id)}`));
  const endpoints = useLoad("endpoints", () => allPages<ProxyEndpoint>("/api/proxy-endpoints"));
  const [tab, setTab] = useState<Tab>("conversation");
  const call = detail.data;
  const endpoint = endpoints.data?.items.find((item) => item.id === call?.proxy_endpoint_id);
  return (
    <section>
      <p>
        <Link href="/calls">← Calls</Link>
      </p>
      {detail.loading && !call && <Loading what="the call" />}
      {detail.error !== null && <ErrorBox error={detail.error} retry={() => detail.reload()} />}
      {call && (
        <>
          <header class="page-header">
            <h1>
              {call.model ?? "Call"} <span class={statusClass(call.status_code)}>{call.status_code ?? "—"}</span>
            </h1>
            <span class="muted">{utcTime(call.requested_at)} UTC</span>
          </header>
          <dl class="facts">
            <div>
              <dt>Cost</dt>
              <dd data-testid="call-cost">
                {recordCost(call.cost_cents)}
                {call.cost_unknown && <span class="muted"> (model not in the price list)</span>}
                {call.stop_reason === "refusal" && Number(call.cost_cents) === 0 && (
                  <span class="muted" title="Anthropic bills nothing for a refusal before any output">
                    {" "}
                    (refused before any output: not billed)
                  </span>
                )}
              </dd>
            </div>
            <div>
              <dt>Without prompt caching</dt>
              <dd>{recordCost(call.cost_without_cache_cents)}</dd>
            </div>
            <div>
              <dt>Input</dt>
              <dd>{count(call.input_tokens)}</dd>
            </div>
            <div>
              <dt>Output</dt>
              <dd data-testid="call-output">
                {count(call.output_tokens)}
                {call.output_tokens_estimated && (
                  <span class="muted" title="The stream ended before Anthropic's final count">
                    {" "}
                    (estimated from what was relayed)
                  </span>
                )}
              </dd>
            </div>
            {call.thinking_tokens > 0 && (
              <div>
                <dt>Of the output, thinking</dt>
                <dd data-testid="call-thinking">{count(call.thinking_tokens)}</dd>
              </div>
            )}
            <div>
              <dt>Cache write 5 min / 1 hour</dt>
              <dd>
                {count(call.cache_creation_5m_input_tokens)} / {count(call.cache_creation_1h_input_tokens)}
              </dd>
            </div>
            <div>
              <dt>Cache read</dt>
              <dd>{count(call.cache_read_input_tokens)}</dd>
            </div>
            <div>
              <dt>Duration / first byte</dt>
              <dd>
                {millis(call.duration_ms)} / {millis(call.ttfb_ms)}
              </dd>
            </div>
            <div>
              <dt>Stop reason</dt>
              <dd>{call.stop_reason ?? "—"}</dd>
            </div>
            <div>
              <dt>Endpoint</dt>
              <dd>{endpoint ? endpoint.name : call.proxy_endpoint_id ? "deleted" : "—"}</dd>
            </div>
            <div>
              <dt>Anthropic key</dt>
              <dd>
                {call.api_key_id ? (
                  <Link href={href("/calls", { key: call.api_key_id })} title="Calls paid with this key">
                    {call.api_key_hint ?? call.api_key_id}
                  </Link>
                ) : (
                  "—"
                )}
              </dd>
            </div>
            {call.session_id && (
              <div>
                <dt>Claude Code session</dt>
                <dd>
                  <Link href={sessionPath(call.session_id)} title={call.session_id}>
                    {call.agent === "subagent" ? "Subagent call in the session" : "See the session"}
                  </Link>
                </dd>
              </div>
            )}
            <div>
              <dt>Request id</dt>
              <dd class="mono">{call.request_id ?? "—"}</dd>
            </div>
          </dl>
          <div class="tabs" role="tablist">
            {(
              [
                ["conversation", "Conversation"],
                ["request", "Raw request"],
                ["response", "Raw response"],
              ] as [Tab, string][]
            ).map(([name, label]) => (
              <button
                type="button"
                role="tab"
                key={name}
                aria-selected={tab === name}
                class={tab === name ? "active" : ""}
                onClick={() => setTab(name)}
              >
                {label}
              </button>
            ))}
          </div>
          <div class="panel">
            {tab === "conversation" && (
              <Conversation
                request={parseRequest(call.request_body)}
                reply={parseReply(call.response_body)}
                detail={call}
              />
            )}
            {tab === "request" && <Raw body={call.request_body} what="request" />}
            {tab === "response" && <Raw body={call.response_body} what="response" />}
          </div>
        </>
      )}
    </section>
  );
}
