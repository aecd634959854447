-- Tokens of one span: GenAI input + output, else the pre-1.37 prompt + completion names,
-- else OpenInference's total.
multiIf(
    SpanAttributes['gen_ai.usage.input_tokens'] != '' OR SpanAttributes['gen_ai.usage.output_tokens'] != '',
    toUInt64OrZero(SpanAttributes['gen_ai.usage.input_tokens']) + toUInt64OrZero(SpanAttributes['gen_ai.usage.output_tokens']),
    SpanAttributes['gen_ai.usage.prompt_tokens'] != '' OR SpanAttributes['gen_ai.usage.completion_tokens'] != '',
    toUInt64OrZero(SpanAttributes['gen_ai.usage.prompt_tokens']) + toUInt64OrZero(SpanAttributes['gen_ai.usage.completion_tokens']),
    toUInt64OrZero(SpanAttributes['llm.token_count.total']))
