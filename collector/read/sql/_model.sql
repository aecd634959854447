-- The model of a span, as readers resolve it: response model, request model, OpenInference.
multiIf(SpanAttributes['gen_ai.response.model'] != '', SpanAttributes['gen_ai.response.model'],
        SpanAttributes['gen_ai.request.model'] != '', SpanAttributes['gen_ai.request.model'],
        SpanAttributes['llm.model_name'])
