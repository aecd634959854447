-- Spans that sum up their children (agent runs, workflows): their usage and cost, when they
-- carry any, repeat their children's, so sums over a trace leave them out.
SpanAttributes['gen_ai.operation.name'] IN ('invoke_agent', 'invoke_workflow')
