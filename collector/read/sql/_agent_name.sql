-- The agent a span speaks for: its gen_ai.agent.name, else its service. Applied to a trace's
-- root span it names the trace's agent (an AgentVista root carries the agent name; an OTLP
-- root usually only its service).
if(SpanAttributes['gen_ai.agent.name'] != '', SpanAttributes['gen_ai.agent.name'], ServiceName)
