"""The OpenTelemetry GenAI conventions (gen_ai.*) for a Dynamiq run, read from its type and its
serialized node: operation, provider, model, request parameters, usage and messages."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from opentelemetry.proto.trace.v1.trace_pb2 import Span

from spanhouse.adapters.common.attributes import clean_text
from spanhouse.adapters.dynamiq.attributes import json_text, put, put_strings
from spanhouse.adapters.dynamiq.validate import Run

# Dynamiq node class (or connection class) name, lowercased -> gen_ai.provider.name.
PROVIDERS: Final = {
    "openai": "openai", "azureai": "azure.ai.openai", "anthropic": "anthropic", "bedrock": "aws.bedrock",
    "aws": "aws.bedrock", "vertexai": "gcp.vertex_ai", "gemini": "gcp.gemini", "mistral": "mistral_ai",
    "groq": "groq", "cohere": "cohere", "deepseek": "deepseek", "perplexity": "perplexity", "xai": "x_ai",
    "watsonx": "ibm.watsonx.ai",
}
# Serialized LLM node field -> attribute; numbers only.
REQUEST_PARAMETERS: Final = (
    ("temperature", "gen_ai.request.temperature", float), ("top_p", "gen_ai.request.top_p", float),
    ("presence_penalty", "gen_ai.request.presence_penalty", float),
    ("frequency_penalty", "gen_ai.request.frequency_penalty", float),
    ("max_tokens", "gen_ai.request.max_tokens", int), ("seed", "gen_ai.request.seed", int),
)


def put_genai(attributes: Any, run: Run) -> Any:
    """gen_ai.* attributes from the run's type and its serialized node; returns the span kind
    (CLIENT for model calls, as the conventions ask, INTERNAL otherwise)."""
    if run.type == "workflow":
        put(attributes, "gen_ai.operation.name", "invoke_workflow")
        return Span.SPAN_KIND_INTERNAL
    metadata = run.fields.get("metadata")
    if run.type != "node" or not isinstance(metadata, dict) or not isinstance(metadata.get("node"), dict):
        return Span.SPAN_KIND_INTERNAL
    node = metadata["node"]
    group = node.get("group")
    put(attributes, "dynamiq.node.group", text_or_none(group))
    put(attributes, "dynamiq.node.type", text_or_none(node.get("type")))
    if group == "llms":
        put_llm(attributes, run, node, metadata)
        return Span.SPAN_KIND_CLIENT
    if group == "embedders":
        put(attributes, "gen_ai.operation.name", "embeddings")
        put(attributes, "gen_ai.provider.name", provider_of(node))
        put(attributes, "gen_ai.request.model", text_or_none(node.get("model")))
        put_usage(attributes, metadata, run.fields.get("output"))
        return Span.SPAN_KIND_CLIENT
    if group == "agents":
        put(attributes, "gen_ai.operation.name", "invoke_agent")
        put(attributes, "gen_ai.agent.id", text_or_none(node.get("id")))
        put(attributes, "gen_ai.agent.name", text_or_none(node.get("name")) or run.name)
        put(attributes, "gen_ai.agent.description", text_or_none(node.get("description")))
        llm = node.get("llm")
        if isinstance(llm, dict):
            put(attributes, "gen_ai.provider.name", provider_of(llm))
            put(attributes, "gen_ai.request.model", text_or_none(llm.get("model")))
    elif group == "tools":
        put(attributes, "gen_ai.operation.name", "execute_tool")
        put(attributes, "gen_ai.tool.name", text_or_none(node.get("name")) or run.name)
        put(attributes, "gen_ai.tool.description", text_or_none(node.get("description")))
    elif group == "retrievers":
        put(attributes, "gen_ai.operation.name", "retrieval")
    return Span.SPAN_KIND_INTERNAL


def put_llm(attributes: Any, run: Run, node: Mapping[str, Any], metadata: Mapping[str, Any]) -> None:
    put(attributes, "gen_ai.operation.name", "chat")
    put(attributes, "gen_ai.provider.name", provider_of(node))
    put(attributes, "gen_ai.request.model", text_or_none(node.get("model")))
    for source, target, kind in REQUEST_PARAMETERS:
        value: Any = node.get(source)
        # Integers where the convention has integers (max_tokens, seed); any number for the rest.
        is_number = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if is_number and (kind is float or isinstance(value, int)):
            put(attributes, target, kind(value))
    stop = node.get("stop")
    if isinstance(stop, list):
        put_strings(attributes, "gen_ai.request.stop_sequences", stop)
    put_usage(attributes, metadata, run.fields.get("output"))
    prompt = node.get("prompt")
    messages = input_messages(prompt.get("messages") if isinstance(prompt, dict) else None)
    if messages:
        put(attributes, "gen_ai.input.messages", json_text(messages))
    answer = output_messages(run.fields.get("output"))
    if answer:
        put(attributes, "gen_ai.output.messages", json_text(answer))


def put_usage(attributes: Any, metadata: Mapping[str, Any], output: Any) -> None:
    """The SDK's `metadata.usage` (litellm's prompt/completion counts and costs); an `usage`
    object in the output is read the same way when the metadata has none."""
    usage = metadata.get("usage")
    if not isinstance(usage, dict) and isinstance(output, dict):
        usage = output.get("usage")
    if not isinstance(usage, dict):
        return
    for target, sources in (("gen_ai.usage.input_tokens", ("prompt_tokens", "input_tokens")),
                            ("gen_ai.usage.output_tokens", ("completion_tokens", "output_tokens"))):
        for source in sources:
            value = usage.get(source)
            if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63:
                put(attributes, target, value)
                break
    cost = usage.get("total_tokens_cost_usd")
    if isinstance(cost, int | float) and not isinstance(cost, bool) and math.isfinite(cost):
        put(attributes, "gen_ai.usage.cost", float(cost))


def provider_of(node: Mapping[str, Any]) -> str | None:
    """gen_ai.provider.name from the node class (`dynamiq.nodes.llms.OpenAI`), else its
    connection class, else the litellm prefix of the model (`ollama/llama3`)."""
    connection = node.get("connection")
    for class_path in (node.get("type"), connection.get("type") if isinstance(connection, dict) else None):
        if isinstance(class_path, str):
            provider = PROVIDERS.get(class_path.rsplit(".", 1)[-1].lower())
            if provider:
                return provider
    model = node.get("model")
    if isinstance(model, str) and "/" in model.strip("/"):
        return clean_text(model.split("/", 1)[0].lower())
    return None


def input_messages(messages: Any) -> list[dict[str, Any]] | None:
    """The prompt's messages as gen_ai.input.messages ({role, parts}); None if they are not
    the chat shape."""
    if not isinstance(messages, list) or not messages:
        return None
    converted = []
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            return None
        parts = message_parts(message.get("content"))
        if parts is None:
            return None
        converted.append({"role": message["role"], "parts": parts})
    return converted


def message_parts(content: Any) -> list[Any] | None:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    if isinstance(content, list) and all(isinstance(part, dict) for part in content):
        return [message_part(part) for part in content]
    return None


def message_part(part: Mapping[str, Any]) -> Any:
    """Vision messages hold OpenAI-style parts: text and image_url become the conventions'
    text and uri parts; any other part is kept as sent."""
    if part.get("type") == "text" and isinstance(part.get("text"), str):
        return {"type": "text", "content": part["text"]}
    image = part.get("image_url")
    if part.get("type") == "image_url" and isinstance(image, dict) and isinstance(image.get("url"), str):
        return {"type": "uri", "modality": "image", "uri": image["url"]}
    return part


def output_messages(output: Any) -> list[dict[str, Any]] | None:
    """An LLM node's `{content, tool_calls}` as one assistant message."""
    if not isinstance(output, dict) or "content" not in output:
        return None
    parts: list[dict[str, Any]] = []
    content = output.get("content")
    if isinstance(content, str) and content:
        parts.append({"type": "text", "content": content})
    tool_calls = output.get("tool_calls")
    for call in tool_calls if isinstance(tool_calls, list) else ():
        if isinstance(call, dict):
            function = call["function"] if isinstance(call.get("function"), dict) else {}
            part = {"type": "tool_call", "id": call.get("id"), "name": function.get("name"),
                    "arguments": function.get("arguments")}
            parts.append({key: value for key, value in part.items() if value is not None})
    return [{"role": "assistant", "parts": parts}] if parts else None


def text_or_none(value: Any) -> str | None:
    return clean_text(value) if isinstance(value, str) and value.strip() else None
