-- Whether a span carries any token or cost attribute (so that "no usage" reads as null, not 0).
(SpanAttributes['gen_ai.usage.input_tokens'] != '' OR SpanAttributes['gen_ai.usage.output_tokens'] != ''
 OR SpanAttributes['gen_ai.usage.prompt_tokens'] != '' OR SpanAttributes['gen_ai.usage.completion_tokens'] != ''
 OR SpanAttributes['llm.token_count.total'] != '' OR SpanAttributes['gen_ai.usage.cost'] != ''
 OR SpanAttributes['llm.cost.total'] != '')
