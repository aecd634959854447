-- Spans whose values the SQL functions cannot format as Go does (see transform.py).
SELECT countIf(NOT (spanhouse_kvs_ok(rs.resource.attributes) AND spanhouse_kvs_ok(sp.attributes)
    AND arrayAll(e -> spanhouse_kvs_ok(e.attributes), sp.events) AND arrayAll(l -> spanhouse_kvs_ok(l.attributes), sp.links)))
FROM file('{path}', 'ProtobufSingle', '{structure}')
ARRAY JOIN resource_spans AS rs ARRAY JOIN rs.scope_spans AS ss ARRAY JOIN ss.spans AS sp
SETTINGS format_schema_source = 'string', format_schema = '{schema}',
  format_schema_message_name = 'ExportTraceServiceRequest', input_format_protobuf_oneof_presence = 1
