"""Deterministic agent traces for the benchmark: a root `invoke_agent` span with 3-6 children
(LLM `chat` calls carrying ~1 KB of prompt, and tool calls), independent of any wire format.

Every request body is a `BodyModel`; the encoders in bench.otlp_bodies and bench.vendor_bodies
turn it into bytes. Ids are not stored here but derived from a per-request sequence number
(`seq`) so that one pre-encoded body can be sent many times with fresh ids (bench.templates)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

SEQ_BYTES: Final = 4
# The trace id is seq (4 bytes) + template index (2) + trace index (4) + salt (6).
SALT_BYTES: Final = 6
MAX_TEMPLATES: Final = 2**16
# The span id is seq (4 bytes) + its 1-based index in the body (4 bytes).
MAX_SPANS_PER_BODY: Final = 2**16  # vendor UUIDs keep the span index in 4 hex digits

CHILDREN_MIN: Final = 3
CHILDREN_MAX: Final = 6
# Traces of one body start within this window; bench.templates shifts each sent copy later.
BODY_WINDOW_NS: Final = 1_000_000_000
TOOL_ERROR_RATE: Final = 0.02


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """One agent application: its service, model and tools."""

    service: str
    agent_name: str
    provider: str
    model: str
    tools: tuple[str, ...]
    system_prompt: str


AGENTS: Final = (
    AgentProfile("support-agent", "support-triage", "openai", "gpt-4o",
                 ("search_knowledge_base", "get_order", "refund_order"),
                 "You are a customer support agent for an online store. Answer politely, cite the "
                 "knowledge base article you used, never promise a refund before checking the order, "
                 "and escalate to a human when the customer asks for it twice."),
    AgentProfile("research-agent", "research-assistant", "anthropic", "claude-sonnet-4-5",
                 ("web_search", "fetch_url", "summarize_document"),
                 "You are a research assistant. Search before you answer, fetch the primary source, "
                 "quote it exactly, and list every URL you relied on at the end of the answer."),
    AgentProfile("billing-agent", "invoice-reviewer", "openai", "gpt-4o-mini",
                 ("lookup_invoice", "create_ticket"),
                 "You review invoices for anomalies: duplicate charges, wrong tax rates, missing "
                 "purchase orders. Reply with a JSON verdict and a one-paragraph explanation."),
)

# Plain words for prompts and completions: text that compresses like prose, not like noise.
_VOCABULARY: Final = """
the a an of to and in is it that for on with as was at by this be from or have not are but
customer order invoice refund charge account payment card shipping delivery package address
tracking number week month day yesterday today tomorrow please thanks help issue problem error
question answer policy return exchange warranty product price discount coupon total tax amount
received twice missing late damaged wrong size color item replace cancel subscription plan
upgrade downgrade billing cycle renewal email phone support ticket agent manager escalate
review check verify confirm update status pending approved rejected processed shipped
document source article report summary analysis data result search query page link reference
model response latency token context window prompt completion tool call function argument
could would should will can may might must need want know think see find look get make
"""
WORDS: Final = tuple(_VOCABULARY.split())


@dataclass(frozen=True, slots=True)
class SpanModel:
    """One span, format-neutral. `index` is 1-based within the body (the low half of its id)."""

    index: int
    parent_index: int  # 0 for a root span
    operation: str  # "invoke_agent", "chat" or "execute_tool"
    name: str
    start_ns: int
    end_ns: int
    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    prompt: str = ""  # chat: the user prompt (~1 KB); execute_tool: the arguments (JSON)
    completion: str = ""  # chat: the answer; execute_tool: the result (JSON)
    tool_name: str = ""
    call_id: str = ""  # chat: gen_ai.response.id; execute_tool: gen_ai.tool.call.id
    error: str = ""  # status message of a failed span; "" when it succeeded


@dataclass(frozen=True, slots=True)
class TraceModel:
    index: int  # position in the body, part of the trace id
    salt: bytes  # completes the trace id
    agent: AgentProfile
    conversation_id: str
    spans: tuple[SpanModel, ...]  # root first


@dataclass(frozen=True, slots=True)
class BodyModel:
    template_index: int
    traces: tuple[TraceModel, ...]

    @property
    def span_count(self) -> int:
        return sum(len(trace.spans) for trace in self.traces)


def trace_id(seq: int, body: BodyModel, trace: TraceModel) -> bytes:
    return (seq.to_bytes(SEQ_BYTES, "big") + body.template_index.to_bytes(2, "big")
            + trace.index.to_bytes(4, "big") + trace.salt)


def span_id(seq: int, index: int) -> bytes:
    return seq.to_bytes(SEQ_BYTES, "big") + index.to_bytes(4, "big")


def span_uuid(seq: int, body: BodyModel, trace: TraceModel, index: int) -> str:
    """A UUID-shaped span id for the vendor shapes; starts with seq's 8 hex digits like the others."""
    return f"{seq:08x}-{index:04x}-{body.template_index:04x}-{trace.index & 0xFFFF:04x}-{trace.salt.hex()}"


def trace_uuid(seq: int, body: BodyModel, trace: TraceModel) -> str:
    raw = trace_id(seq, body, trace).hex()
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def _text(rng: random.Random, target_chars: int) -> str:
    words: list[str] = []
    length = 0
    while length < target_chars:
        sentence = rng.choices(WORDS, k=rng.randint(6, 16))
        sentence[0] = sentence[0].capitalize()
        text = " ".join(sentence) + "."
        words.append(text)
        length += len(text) + 1
    return " ".join(words)


def _chat(rng: random.Random, agent: AgentProfile, index: int, parent: int, start_ns: int) -> SpanModel:
    prompt = _text(rng, rng.randint(800, 1200))
    completion = _text(rng, rng.randint(200, 700))
    duration_ns = rng.randint(300, 4_000) * 1_000_000
    return SpanModel(
        index=index, parent_index=parent, operation="chat", name=f"chat {agent.model}",
        start_ns=start_ns, end_ns=start_ns + duration_ns, model=agent.model,
        input_tokens=(len(prompt) + len(agent.system_prompt)) // 4 + rng.randint(0, 40),
        output_tokens=len(completion) // 4 + rng.randint(0, 20),
        prompt=prompt, completion=completion, call_id=f"resp_{rng.getrandbits(96):024x}")


def _tool(rng: random.Random, agent: AgentProfile, index: int, parent: int, start_ns: int) -> SpanModel:
    tool = rng.choice(agent.tools)
    arguments = f'{{"query": "{_text(rng, 60)[:-1]}", "limit": {rng.randint(1, 20)}}}'
    failed = rng.random() < TOOL_ERROR_RATE
    result = "" if failed else f'{{"items": {rng.randint(0, 9)}, "summary": "{_text(rng, 150)[:-1]}"}}'
    duration_ns = rng.randint(10, 800) * 1_000_000
    return SpanModel(
        index=index, parent_index=parent, operation="execute_tool", name=f"execute_tool {tool}",
        start_ns=start_ns, end_ns=start_ns + duration_ns, tool_name=tool, prompt=arguments,
        completion=result, call_id=f"call_{rng.getrandbits(64):016x}",
        error=f"{tool} timed out after 30s" if failed else "")


def build_body(seed: int, template_index: int, span_count: int, base_time_ns: int) -> BodyModel:
    """Traces totalling exactly `span_count` spans (the last trace may have fewer children),
    a pure function of its arguments."""
    if not 0 <= template_index < MAX_TEMPLATES:
        raise ValueError(f"template index must be below {MAX_TEMPLATES}")
    if not 1 <= span_count < MAX_SPANS_PER_BODY:
        raise ValueError(f"spans per body must be between 1 and {MAX_SPANS_PER_BODY - 1}")
    # A string seed is hashed deterministically (SHA-512), unlike hash() of a tuple.
    rng = random.Random(f"spanhouse-bench:{seed}:{template_index}")
    traces: list[TraceModel] = []
    next_index = 1
    while next_index <= span_count:
        remaining = span_count - next_index + 1
        agent = rng.choice(AGENTS)
        children = min(rng.randint(CHILDREN_MIN, CHILDREN_MAX), remaining - 1)
        root_index = next_index
        start_ns = base_time_ns + rng.randrange(BODY_WINDOW_NS)
        cursor = start_ns + rng.randint(2, 30) * 1_000_000
        spans: list[SpanModel] = []
        input_tokens = output_tokens = 0
        for child in range(children):
            make = _chat if child % 2 == 0 else _tool
            span = make(rng, agent, root_index + 1 + child, root_index, cursor)
            spans.append(span)
            input_tokens += span.input_tokens
            output_tokens += span.output_tokens
            cursor = span.end_ns + rng.randint(1, 20) * 1_000_000
        root = SpanModel(
            index=root_index, parent_index=0, operation="invoke_agent", name=f"invoke_agent {agent.agent_name}",
            start_ns=start_ns, end_ns=cursor, model=agent.model, input_tokens=input_tokens,
            output_tokens=output_tokens)
        traces.append(TraceModel(
            index=len(traces), salt=rng.getrandbits(8 * SALT_BYTES).to_bytes(SALT_BYTES, "big"),
            agent=agent, conversation_id=f"conv_{rng.getrandbits(64):016x}", spans=(root, *spans)))
        next_index += 1 + children
    return BodyModel(template_index, tuple(traces))

