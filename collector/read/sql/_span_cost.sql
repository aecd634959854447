-- Cost of one span in USD: gen_ai.usage.cost (what Langfuse and OpenLIT read), else
-- OpenInference's llm.cost.total.
if(SpanAttributes['gen_ai.usage.cost'] != '', toFloat64OrZero(SpanAttributes['gen_ai.usage.cost']),
   toFloat64OrZero(SpanAttributes['llm.cost.total']))
